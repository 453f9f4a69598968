// Report script: renders the long sections from the JSON data blocks, a page at a time on screen
// (so 100,000 events never become one giant DOM) and all at once for print. Evidence text is only ever
// set through textContent, never parsed as HTML; images are accepted only as data:image URIs.
(function () {
  var doc = document;
  var PRINT = doc.documentElement.getAttribute('data-mode') === 'print';
  // Lists longer than this print from the browser as the page on screen plus a pointer to the PDF.
  var PRINT_MAX_ROWS = 20000;
  var C = {
    ID: 0,
    DAY: 1,
    TIME: 2,
    OFF: 3,
    KIND: 4,
    ACTION: 5,
    DESC: 6,
    TITLE: 7,
    BODY: 8,
    DIR: 9,
    WHO: 10,
    THREAD: 11,
    SERVICE: 12,
    DUR: 13,
    LAT: 14,
    LON: 15,
    ACC: 16,
    SRC: 17,
    FACTS: 18,
    REC: 19,
    DEV: 20,
    DUP: 21,
  };
  // The source line; with several devices in the case it starts with the device the row was read from.
  function src(r) {
    return r[C.DEV] ? '[' + r[C.DEV] + '] ' + r[C.SRC] : r[C.SRC];
  }
  var IMG = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/;
  var WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  var MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

  // Search ignores case and accents, as the CLI's --keyword does (SQLite FTS5 remove_diacritics): "cafe" finds "café".
  function fold(s) {
    return String(s)
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase();
  }
  function data(id) {
    var el = doc.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function h(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== '') e.textContent = String(text);
    return e;
  }
  function add(parent, tag, cls, text) {
    var e = h(tag, cls, text);
    parent.appendChild(e);
    return e;
  }
  function fmt(n) {
    return Number(n).toLocaleString('en-US');
  }
  // Pure calendar arithmetic on the zone-local date string: no browser time zone involved.
  function dayLabel(day) {
    if (!day) return 'No time recorded';
    var p = day.split('-');
    var d = new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]));
    return WEEKDAYS[d.getUTCDay()] + ', ' + +p[2] + ' ' + MONTHS[+p[1] - 1] + ' ' + p[0];
  }
  // U+FFFC marks where an attachment sits in a message's text; show it as a visible marker, not a box.
  function text(s) {
    return s ? String(s).replace(/\uFFFC/g, '[attachment]') : s;
  }
  function stamp(r) {
    return r[C.DAY] ? r[C.DAY] + ' ' + r[C.TIME] + ' ' + r[C.OFF] : 'no time recorded';
  }
  function coords(r) {
    if (r[C.LAT] === null || r[C.LON] === null) return '';
    return r[C.LAT].toFixed(6) + ', ' + r[C.LON].toFixed(6) + (r[C.ACC] !== null ? ' ±' + Math.round(r[C.ACC]) + ' m' : '');
  }
  // A recovered record is flagged wherever it appears, with where it came from and how sure we are.
  function recoveredLabel(r) {
    return 'recovered · ' + String(r[C.REC][0]).replace(/-/g, ' ') + ' · ' + r[C.REC][1] + ' confidence';
  }
  function image(src, alt) {
    if (typeof src !== 'string' || !IMG.test(src)) return null;
    var i = h('img');
    i.src = src;
    i.alt = alt || '';
    i.loading = 'lazy';
    return i;
  }

  var events = data('d-events') || [];
  // Which section shows a kind, and its label: from the artifacts' descriptors (the script names no artifact).
  var KINDS = {};
  (data('d-kinds') || []).forEach(function (k) {
    KINDS[k.kind] = k;
  });
  function viewOf(kind) {
    return KINDS[kind] ? KINDS[kind].view : 'table';
  }
  // The colour comes from the artifact's descriptor; it is used only when it is a plain hex colour.
  function kindColor(kind) {
    var c = KINDS[kind]?.color;
    return typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c) ? c : null;
  }
  function labelOf(kind) {
    return KINDS[kind] ? KINDS[kind].label : kind;
  }
  function inView(view) {
    return function (r) {
      return viewOf(r[C.KIND]) === view;
    };
  }
  var threads = data('d-threads') || [];
  var attachments = {};
  (data('d-attachments') || []).forEach(function (a) {
    (attachments[a[0]] = attachments[a[0]] || []).push(a);
  });
  var photos = {};
  (data('d-photos') || []).forEach(function (p) {
    photos[p[0]] = p;
  });
  var threadById = {};
  threads.forEach(function (t) {
    threadById[t[0]] = t;
  });

  /**
   * A searchable, filterable list shown a page at a time (all at once when printing).
   * cfg: rows, text(row) for search, filters [{label, options:[[value,label]], test(row, value)}], pageSize, render(parent, rows, offset), noun
   */
  function listView(host, cfg) {
    if (!host) return;
    var rows = cfg.rows;
    var printRender = cfg.print || cfg.render;
    if (PRINT) {
      printRender(host, rows, 0);
      return;
    }
    if (!rows.length) {
      add(host, 'p', 'note', cfg.empty || 'Nothing to show.');
      return;
    }
    var state = { q: '', page: 0, size: cfg.pageSize || 200, f: {} };
    var hay = null;
    var shown = rows;
    var bar = add(host, 'div', 'controls');
    var search = add(bar, 'input', 'search');
    search.type = 'search';
    search.placeholder = 'Search ' + (cfg.noun || 'rows') + '…';
    search.setAttribute('aria-label', 'Search');
    (cfg.filters || []).forEach(function (f, fi) {
      var sel = add(bar, 'select');
      sel.setAttribute('aria-label', f.label);
      var o0 = add(sel, 'option', null, f.label);
      o0.value = '';
      f.options.forEach(function (o) {
        var op = add(sel, 'option', null, o[1]);
        op.value = o[0];
      });
      sel.addEventListener('change', function () {
        state.f[fi] = sel.value;
        apply();
      });
    });
    // Calendar-day range (days are already in the report's zone, so plain string comparison is exact).
    if (cfg.day) {
      ['from', 'to'].forEach(function (which) {
        var lab = add(bar, 'label', 'day', which === 'from' ? 'From ' : 'to ');
        var inp = add(lab, 'input');
        inp.type = 'date';
        inp.setAttribute('aria-label', which === 'from' ? 'From day' : 'To day');
        inp.addEventListener('change', function () {
          state[which] = inp.value;
          apply();
        });
      });
    }
    var info = add(bar, 'span', 'info');
    var nav = add(bar, 'span', 'nav');
    var prev = add(nav, 'button', null, '‹ Previous');
    prev.type = 'button';
    var pageBox = add(nav, 'input', 'page');
    pageBox.type = 'number';
    pageBox.min = '1';
    pageBox.setAttribute('aria-label', 'Page');
    var pages = add(nav, 'span', 'pages');
    var next = add(nav, 'button', null, 'Next ›');
    next.type = 'button';
    var body = add(host, 'div', 'page-body');
    var timer = null;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        state.q = fold(search.value.trim());
        apply();
      }, 150);
    });
    prev.addEventListener('click', function () {
      go(state.page - 1);
    });
    next.addEventListener('click', function () {
      go(state.page + 1);
    });
    pageBox.addEventListener('change', function () {
      go((parseInt(pageBox.value, 10) || 1) - 1);
    });
    function apply() {
      var words = state.q ? state.q.split(/\s+/) : [];
      if (words.length && !hay)
        hay = rows.map(function (r) {
          return fold(cfg.text(r));
        });
      var active = (cfg.filters || [])
        .map(function (f, fi) {
          return [f, state.f[fi]];
        })
        .filter(function (x) {
          return x[1];
        });
      var from = state.from || '',
        to = state.to || '';
      if (!words.length && !active.length && !from && !to) shown = rows;
      else
        shown = rows.filter(function (r, i) {
          if (from && !(cfg.day(r) >= from)) return false;
          if (to && !(cfg.day(r) && cfg.day(r) <= to)) return false;
          for (var w = 0; w < words.length; w++) if (hay[i].indexOf(words[w]) < 0) return false;
          for (var k = 0; k < active.length; k++) if (!active[k][0].test(r, active[k][1])) return false;
          return true;
        });
      state.page = 0;
      draw();
    }
    function go(p) {
      var last = Math.max(0, Math.ceil(shown.length / state.size) - 1);
      state.page = Math.min(Math.max(0, p), last);
      draw();
      host.scrollIntoView({ block: 'start' });
    }
    function draw() {
      var n = shown.length,
        from = state.page * state.size,
        to = Math.min(n, from + state.size);
      body.textContent = '';
      if (n) cfg.render(body, shown.slice(from, to), from);
      else add(body, 'p', 'note', 'No ' + (cfg.noun || 'rows') + ' match.');
      info.textContent = n
        ? 'Showing ' + fmt(from + 1) + '–' + fmt(to) + ' of ' + fmt(n) + (n !== rows.length ? ' (filtered from ' + fmt(rows.length) + ')' : '')
        : '0 of ' + fmt(rows.length);
      var total = Math.max(1, Math.ceil(n / state.size));
      pageBox.value = String(state.page + 1);
      pageBox.max = String(total);
      pages.textContent = 'of ' + fmt(total);
      prev.disabled = state.page === 0;
      next.disabled = state.page >= total - 1;
    }
    draw();
    cfg.onReady?.(apply, state);

    // Printing from the browser: print every row the list holds (with the search and filters applied), not the
    // page on screen, and say so on paper. A list too long for a browser to lay out says the PDF is the record.
    var printed = null;
    window.addEventListener('beforeprint', function () {
      var n = shown.length;
      printed = add(host, 'div', 'print-only');
      var filtered = n !== rows.length ? ' (filtered from ' + fmt(rows.length) + ' by the search or filters set on screen)' : '';
      if (n <= PRINT_MAX_ROWS) {
        add(printed, 'p', 'print-note', 'Printed: all ' + fmt(n) + ' ' + (cfg.noun || 'rows') + filtered + '.');
        if (n) printRender(printed, shown, 0);
      } else {
        add(
          printed,
          'p',
          'print-note',
          'Printed: only the ' +
            fmt(body.childElementCount ? Math.min(state.size, n - state.page * state.size) : 0) +
            ' ' +
            (cfg.noun || 'rows') +
            ' on screen of ' +
            fmt(n) +
            filtered +
            '. A browser cannot lay out that many; the PDF report (report.pdf) is the complete printable record.',
        );
        printed.appendChild(body.cloneNode(true));
      }
      host.classList.add('printing');
    });
    window.addEventListener('afterprint', function () {
      if (printed) printed.remove();
      printed = null;
      host.classList.remove('printing');
    });
  }

  // heads: [label, class, width]; widths let print use a fixed table layout (far faster for thousands of rows).
  function table(parent, heads) {
    var t = add(parent, 'table', 'grid');
    var cg = add(t, 'colgroup');
    heads.forEach(function (x) {
      var c = add(cg, 'col');
      if (x[2]) c.style.width = x[2];
    });
    var tr = add(add(t, 'thead'), 'tr');
    heads.forEach(function (x) {
      add(tr, 'th', x[1] || null, x[0]);
    });
    return add(t, 'tbody');
  }
  function cell(tr, text, cls) {
    return add(tr, 'td', cls, text);
  }
  function timeCell(tr, r) {
    var td = add(tr, 'td', 't');
    if (!r[C.DAY]) {
      td.textContent = '—';
      return td;
    }
    add(td, 'span', 'hm', r[C.TIME]);
    add(td, 'span', 'off', ' ' + r[C.OFF]);
    return td;
  }
  function eventCell(tr, r) {
    var td = add(tr, 'td', 'ev');
    var head = add(td, 'div', 'desc');
    var badge = add(head, 'span', 'kind', r[C.KIND]);
    var color = kindColor(r[C.KIND]);
    if (color) badge.style[PRINT ? 'color' : 'background'] = color;
    if (r[C.DIR]) add(head, 'span', 'dir', r[C.DIR] === 'in' ? '← in' : '→ out');
    if (r[C.REC]) add(head, 'span', 'badge recovered', recoveredLabel(r));
    add(head, 'span', null, ' ' + r[C.DESC]);
    var line = add(td, 'div', 'title');
    if (r[C.TITLE] && r[C.TITLE] !== r[C.DESC]) line.appendChild(doc.createTextNode(r[C.TITLE]));
    var extra = [r[C.SERVICE], r[C.DUR], coords(r)].filter(Boolean).join(' · ');
    if (extra) add(line, 'span', 'sub', (line.firstChild ? ' · ' : '') + extra);
    return td;
  }

  // Print: one flowing line per event under its day's heading (a table row of five wrapped cells took about
  // three times the paper and Chromium time; docs/performance.md "PDF"). `head` replaces the event's wording.
  function printLines(head) {
    return function (parent, rows) {
      lines(parent, rows, head);
    };
  }
  function lines(parent, rows, head) {
    var box = add(parent, 'div', 'lines');
    var day;
    rows.forEach(function (r) {
      if (r[C.DAY] !== day) {
        day = r[C.DAY];
        add(box, 'div', 'dayh', dayLabel(day));
      }
      var ln = add(box, 'div', 'ln' + (r[C.DIR] ? ' d-' + r[C.DIR] : ''));
      add(ln, 'span', 'tm', r[C.DAY] ? r[C.TIME] : '—');
      if (r[C.DAY]) add(ln, 'span', 'off', ' ' + r[C.OFF] + ' ');
      var badge = add(ln, 'span', 'kind', labelOf(r[C.KIND]));
      var color = kindColor(r[C.KIND]);
      if (color) badge.style.color = color;
      if (r[C.DIR]) add(ln, 'span', 'dir', r[C.DIR] === 'in' ? ' ← in' : ' → out');
      if (r[C.REC]) add(ln, 'span', 'badge recovered', recoveredLabel(r));
      var wording = head ? head(r) : '';
      add(ln, 'b', null, ' ' + (wording || r[C.DESC]));
      var rest = [r[C.TITLE] && r[C.TITLE] !== r[C.DESC] ? r[C.TITLE] : '', r[C.SERVICE], r[C.DUR], coords(r) ? 'GPS ' + coords(r) : ''].filter(Boolean).join(' · ');
      if (rest) ln.appendChild(doc.createTextNode(' · ' + rest));
      if (r[C.BODY]) add(ln, 'q', 'body', text(r[C.BODY]));
      if (r[C.WHO]) add(ln, 'span', 'who', ' · ' + r[C.WHO]);
      add(ln, 'span', 'src', ' ' + src(r));
    });
  }

  var KIND_OPTIONS = [];
  var seenKinds = {};
  events.forEach(function (r) {
    if (!seenKinds[r[C.KIND]]) {
      seenKinds[r[C.KIND]] = 1;
      KIND_OPTIONS.push([r[C.KIND], labelOf(r[C.KIND])]);
    }
  });

  // ---- Timeline ----
  listView(doc.getElementById('timeline-list'), {
    rows: events,
    noun: 'events',
    pageSize: 200,
    empty: 'No events.',
    day: function (r) {
      return r[C.DAY];
    },
    text: function (r) {
      return [r[C.DAY], r[C.TIME], r[C.KIND], r[C.ACTION], r[C.DESC], r[C.TITLE], r[C.BODY], r[C.WHO], r[C.SERVICE], src(r)].join(' ');
    },
    filters: [
      {
        label: 'All kinds',
        options: KIND_OPTIONS,
        test: function (r, v) {
          return r[C.KIND] === v;
        },
      },
      {
        label: 'Both directions',
        options: [
          ['in', 'Incoming'],
          ['out', 'Outgoing'],
          ['none', 'No direction'],
        ],
        test: function (r, v) {
          return v === 'none' ? !r[C.DIR] : r[C.DIR] === v;
        },
      },
    ],
    print: printLines(),
    render: function (parent, rows) {
      var tb = table(parent, [
        ['Time', 't', '11%'],
        ['Event', null, '30%'],
        ['Text', null, '27%'],
        ['Counterpart', null, '15%'],
        ['Source', null, '17%'],
      ]);
      var day = null;
      rows.forEach(function (r) {
        if (r[C.DAY] !== day) {
          day = r[C.DAY];
          var dr = add(tb, 'tr', 'day');
          var th = add(dr, 'th', null, dayLabel(day));
          th.colSpan = 5;
        }
        var tr = add(tb, 'tr', r[C.DIR] ? 'd-' + r[C.DIR] : null);
        timeCell(tr, r);
        eventCell(tr, r);
        cell(tr, text(r[C.BODY]), 'body');
        cell(tr, r[C.WHO], 'who');
        cell(tr, src(r), 'src');
      });
    },
  });

  // ---- Conversations ----
  var RECEIPTS = { read: 1, delivered: 1, played: 1 };
  var eventById = {};
  events.forEach(function (r) {
    eventById[r[C.ID]] = r;
  });
  function facts(r) {
    return r[C.FACTS] || {};
  }
  function clip(s, n) {
    s = text(s) || '';
    return s.length > n ? s.slice(0, n) + '…' : s;
  }
  function bubbles(parent, rows) {
    // Reactions are drawn under the bubble they react to when it is on this page; elsewhere as a line of their own.
    var here = {};
    rows.forEach(function (r) {
      here[r[C.ID]] = 1;
    });
    var reactions = {};
    rows.forEach(function (r) {
      var to = facts(r).reaction_to;
      if (to && here[to]) (reactions[to] = reactions[to] || []).push(r);
    });
    rows.forEach(function (r) {
      if (RECEIPTS[r[C.ACTION]]) return;
      var f = facts(r);
      if (f.reaction_to && here[f.reaction_to]) return;
      // A recovered message with its text is drawn as the bubble it was, badged as recovered.
      var isMsg = r[C.ACTION] === 'sent' || r[C.ACTION] === 'received' || (!!r[C.REC] && !!r[C.BODY] && r[C.KIND] === 'message' && !!r[C.DIR]);
      if (!isMsg) {
        var n = add(parent, 'div', 'sys');
        add(n, 'span', 't', stamp(r) + ' · ');
        n.appendChild(doc.createTextNode(r[C.TITLE] || r[C.DESC]));
        if (r[C.BODY]) add(n, 'q', null, text(r[C.BODY]));
        return;
      }
      var out = r[C.DIR] === 'out';
      var row = add(parent, 'div', 'msgrow ' + (out ? 'out' : 'in'));
      var b = add(row, 'div', 'bubble');
      add(b, 'div', 'meta', (out ? 'Sent' : r[C.WHO] || 'Received') + ' · ' + stamp(r) + (r[C.SERVICE] ? ' · ' + r[C.SERVICE] : ''));
      if (f.deleted || f.unsent || f.edited || r[C.REC]) {
        var badges = add(b, 'div', 'badges');
        if (r[C.REC]) add(badges, 'span', 'badge recovered', recoveredLabel(r));
        if (f.deleted) add(badges, 'span', 'badge deleted', 'deleted — recoverable (Recently Deleted)');
        if (f.unsent) add(badges, 'span', 'badge unsent', 'unsent');
        if (f.edited) add(badges, 'span', 'badge edited', 'edited');
      }
      if (f.reply_to) {
        var orig = eventById[f.reply_to];
        add(
          b,
          'div',
          'reply',
          '↪ reply to ' + (orig ? (orig[C.DIR] === 'out' ? 'you' : orig[C.WHO] || 'a message') + ': “' + clip(orig[C.BODY] || orig[C.TITLE], 140) + '”' : 'event ' + f.reply_to),
        );
      }
      var atts = attachments[r[C.ID]] || [];
      // The attachments are drawn below, so their U+FFFC placeholders are dropped from the bubble text.
      var body = atts.length
        ? String(r[C.BODY] || '')
            .replace(/\uFFFC/g, '')
            .trim()
        : text(r[C.BODY]);
      if (body) add(b, 'div', 'text', body);
      else if (!atts.length) add(b, 'div', 'text empty', r[C.TITLE] || '(no text)');
      atts.forEach(function (a) {
        var f = add(b, 'figure', 'att');
        var img = image(a[6], a[1]);
        if (img) f.appendChild(img);
        else add(f, 'div', 'ph', (a[2] || 'file').split('/')[0]);
        add(f, 'figcaption', null, [a[1], a[2], a[4], a[3] && a[3] !== 'ok' ? 'status: ' + a[3] : ''].filter(Boolean).join(' · '));
      });
      if (f.edit_history?.length) {
        var eh = add(b, 'div', 'edits');
        add(eh, 'div', 'edits-head', 'Earlier versions (oldest first):');
        f.edit_history.forEach(function (v) {
          var line = add(eh, 'div', 'edit');
          add(line, 'span', 't', (v.datetime || 'time unknown') + ' · ');
          line.appendChild(doc.createTextNode(v.text === null ? '(text not readable)' : text(v.text)));
        });
      }
      (reactions[r[C.ID]] || []).forEach(function (x) {
        var xf = facts(x);
        add(
          b,
          'div',
          'react' + (x[C.ACTION] === 'reaction-removed' ? ' removed' : ''),
          (x[C.ACTION] === 'reaction-removed' ? 'removed ' : '') + (xf.reaction || 'reaction') + ' · ' + (x[C.DIR] === 'out' ? 'you' : x[C.WHO] || 'someone') + ' · ' + stamp(x),
        );
      });
      add(b, 'div', 'src', src(r));
    });
  }
  function threadHead(parent, t, count) {
    var hd = add(parent, 'div', 'thread-head');
    add(hd, 'strong', null, t ? t[1] : 'Unknown thread');
    var sub = [t?.[2], t?.[3] ? 'group' : '', t?.[4] ? 'participants: ' + t[4] : '', count !== undefined ? fmt(count) + ' events' : ''].filter(Boolean).join(' · ');
    if (sub) add(hd, 'div', 'sub', sub);
  }
  var convHost = doc.getElementById('conversations-list');
  if (convHost) {
    var byThread = {};
    var shown = {};
    events.forEach(function (r) {
      shown[r[C.ID]] = 1;
    });
    events.forEach(function (r) {
      // A message read from two devices is shown once: its first copy (when here), whose source names the other.
      if (r[C.THREAD] && !(r[C.DUP] && shown[r[C.DUP]])) (byThread[r[C.THREAD]] = byThread[r[C.THREAD]] || []).push(r);
    });
    if (PRINT) {
      // Rows arrive ordered by thread: one heading per thread, then its bubbles.
      var cur = null,
        group = [];
      var flush = function () {
        if (group.length) {
          var box = add(convHost, 'div', 'thread');
          threadHead(box, threadById[cur], threadById[cur] ? threadById[cur][5] : undefined);
          bubbles(add(box, 'div', 'bubbles'), group);
        }
        group = [];
      };
      events.forEach(function (r) {
        if (!r[C.THREAD]) return;
        if (r[C.THREAD] !== cur) {
          flush();
          cur = r[C.THREAD];
        }
        group.push(r);
      });
      flush();
    } else {
      var list = threads.filter(function (t) {
        return byThread[t[0]];
      });
      if (!list.length) add(convHost, 'p', 'note', 'No conversations.');
      else {
        var wrap = add(convHost, 'div', 'conv');
        var left = add(wrap, 'div', 'conv-list');
        var right = add(wrap, 'div', 'conv-thread');
        var open = function (t) {
          right.textContent = '';
          threadHead(right, t, byThread[t[0]].length);
          listView(add(right, 'div'), {
            rows: byThread[t[0]],
            noun: 'messages',
            pageSize: 200,
            text: function (r) {
              return [r[C.BODY], r[C.TITLE], r[C.WHO], r[C.DAY]].join(' ');
            },
            render: function (p, rows) {
              bubbles(add(p, 'div', 'bubbles'), rows);
            },
          });
        };
        listView(left, {
          rows: list,
          noun: 'conversations',
          pageSize: 50,
          text: function (t) {
            return t[1] + ' ' + t[4] + ' ' + t[2];
          },
          render: function (p, rows) {
            rows.forEach(function (t) {
              var b = add(p, 'button', 'conv-item');
              b.type = 'button';
              add(b, 'span', 'name', t[1]);
              add(b, 'span', 'sub', fmt(byThread[t[0]].length) + ' events' + (t[2] ? ' · ' + t[2] : ''));
              b.addEventListener('click', function () {
                open(t);
              });
            });
          },
        });
        open(list[0]);
      }
    }
  }

  // ---- Calls ----
  var CALL_LABEL = { placed: 'Outgoing', received: 'Incoming', missed: 'Missed', rejected: 'Rejected', logged: 'Logged (direction not stored)' };
  listView(doc.getElementById('calls-list'), {
    rows: events.filter(inView('calls')),
    noun: 'calls',
    pageSize: 200,
    empty: 'No calls.',
    day: function (r) {
      return r[C.DAY];
    },
    text: function (r) {
      return [r[C.DAY], r[C.TIME], r[C.DESC], r[C.TITLE], r[C.WHO], r[C.SERVICE]].join(' ');
    },
    filters: [
      {
        label: 'All calls',
        options: [
          ['placed', 'Outgoing'],
          ['received', 'Incoming'],
          ['missed', 'Missed'],
          ['rejected', 'Rejected'],
          ['logged', 'Logged'],
        ],
        test: function (r, v) {
          return r[C.ACTION] === v;
        },
      },
    ],
    print: printLines(function (r) {
      return CALL_LABEL[r[C.ACTION]];
    }),
    render: function (parent, rows) {
      var tb = table(parent, [
        ['Date', null, '10%'],
        ['Time', 't', '11%'],
        ['Call', null, '14%'],
        ['Counterpart', null, '25%'],
        ['Service', null, '10%'],
        ['Duration', 'n', '12%'],
        ['Source', null, '18%'],
      ]);
      rows.forEach(function (r) {
        var tr = add(tb, 'tr', 'c-' + r[C.ACTION].replace(/[^a-z-]/g, ''));
        cell(tr, r[C.DAY] || '—', 'd');
        timeCell(tr, r);
        cell(tr, CALL_LABEL[r[C.ACTION]] || r[C.DESC]);
        cell(tr, r[C.WHO], 'who');
        cell(tr, r[C.SERVICE]);
        cell(tr, r[C.DUR], 'n');
        cell(tr, src(r), 'src');
      });
    },
  });

  // One table for records of any kind: when, what (with its kind and flags), the text, who, where from.
  function recordTable(parent, rows) {
    var tb = table(parent, [
      ['Date', null, '10%'],
      ['Time', 't', '11%'],
      ['Record', null, '33%'],
      ['Text', null, '18%'],
      ['Counterpart', null, '12%'],
      ['Source', null, '16%'],
    ]);
    rows.forEach(function (r) {
      var tr = add(tb, 'tr');
      cell(tr, r[C.DAY] || '—', 'd');
      timeCell(tr, r);
      eventCell(tr, r);
      cell(tr, text(r[C.BODY]), 'body');
      cell(tr, r[C.WHO], 'who');
      cell(tr, src(r), 'src');
    });
  }

  // ---- Other records: every kind whose artifact asks for a plain table ----
  var recordRows = events.filter(inView('table'));
  listView(doc.getElementById('records-list'), {
    rows: recordRows,
    noun: 'records',
    pageSize: 200,
    empty: 'No other records.',
    day: function (r) {
      return r[C.DAY];
    },
    text: function (r) {
      return [r[C.DAY], r[C.TIME], labelOf(r[C.KIND]), r[C.DESC], r[C.TITLE], r[C.BODY], r[C.WHO], src(r)].join(' ');
    },
    filters: [
      {
        label: 'All kinds',
        options: KIND_OPTIONS.filter(function (o) {
          return viewOf(o[0]) === 'table';
        }),
        test: function (r, v) {
          return r[C.KIND] === v;
        },
      },
    ],
    print: printLines(),
    render: recordTable,
  });

  // ---- Deleted and recovered records ----
  listView(doc.getElementById('recovered-list'), {
    rows: events.filter(function (r) {
      return !!r[C.REC];
    }),
    noun: 'recovered records',
    pageSize: 200,
    empty: 'No recovered records.',
    day: function (r) {
      return r[C.DAY];
    },
    text: function (r) {
      return [r[C.DAY], r[C.TIME], recoveredLabel(r), r[C.DESC], r[C.TITLE], r[C.BODY], r[C.WHO], src(r)].join(' ');
    },
    filters: [
      {
        label: 'All sources',
        options: (function () {
          var seen = {},
            out = [];
          events.forEach(function (r) {
            if (r[C.REC] && !seen[r[C.REC][0]]) {
              seen[r[C.REC][0]] = 1;
              out.push([r[C.REC][0], r[C.REC][0].replace(/-/g, ' ')]);
            }
          });
          return out;
        })(),
        test: function (r, v) {
          return r[C.REC] && r[C.REC][0] === v;
        },
      },
    ],
    print: printLines(),
    render: recordTable,
  });

  // ---- Photos ----
  function photoThumb(card, r, p, missing) {
    var img = p && image(p[2], r[C.TITLE]);
    if (img) card.appendChild(img);
    else add(card, 'div', 'ph', labelOf(r[C.KIND]) + ' — ' + missing);
  }
  // One text node per list of fields on paper: a span per key cost about half the section's print time.
  function pairs(parent, cls, list) {
    add(
      parent,
      'div',
      cls,
      list
        .map(function (kv) {
          return kv[0] + ': ' + kv[1];
        })
        .join(' · '),
    );
  }
  listView(doc.getElementById('photos-list'), {
    rows: (function () {
      var media = events.filter(inView('gallery'));
      var taken = media.filter(function (r) {
        return r[C.ACTION] === 'taken';
      });
      return taken.length ? taken : media;
    })(),
    noun: 'photos and videos',
    pageSize: 60,
    // Paper: a small thumbnail beside the file's key fields, then every other recorded detail as one paragraph.
    print: function (parent, rows) {
      var box = add(parent, 'div', 'pcards');
      rows.forEach(function (r) {
        var p = photos[r[C.ID]];
        var card = add(box, 'div', 'pcard');
        photoThumb(card, r, p, 'no thumbnail');
        var info = add(card, 'div', 'pinfo');
        if (p?.[4]) add(info, 'span', 'badge orphan', 'orphan · ' + p[4]);
        if (r[C.REC]) add(info, 'span', 'badge recovered', recoveredLabel(r));
        add(info, 'b', null, r[C.DESC] + ' · ' + stamp(r));
        info.appendChild(
          doc.createTextNode(
            [r[C.TITLE], coords(r) ? 'GPS ' + coords(r) : '']
              .filter(Boolean)
              .map(function (x) {
                return ' · ' + x;
              })
              .join(''),
          ),
        );
        if (p?.[1].length) pairs(info, 'pkey', p[1]);
        if (p?.[3]?.length) pairs(info, 'pmore', p[3]);
        add(info, 'div', 'src', src(r));
      });
    },
    empty: 'No photos or videos.',
    text: function (r) {
      var p = photos[r[C.ID]];
      return [r[C.DAY], r[C.DESC], r[C.TITLE], coords(r), p?.[4] ? 'orphan ' + p[4] : '']
        .concat(
          p
            ? p[1].concat(p[3] || []).map(function (kv) {
                return kv.join(' ');
              })
            : [],
        )
        .join(' ');
    },
    render: function (parent, rows) {
      var grid = add(parent, 'div', 'photos');
      rows.forEach(function (r) {
        var p = photos[r[C.ID]];
        var card = add(grid, 'div', 'photo');
        photoThumb(card, r, p, 'no thumbnail in case file');
        var info = add(card, 'div', 'pinfo');
        // A file no database row points to: badged on screen and in print, with the reason.
        if (p?.[4]) add(add(info, 'div', 'badges'), 'span', 'badge orphan', 'orphan · ' + p[4]);
        if (r[C.REC]) add(add(info, 'div', 'badges'), 'span', 'badge recovered', recoveredLabel(r));
        add(info, 'div', 'desc', r[C.DESC] + ' · ' + stamp(r));
        if (r[C.TITLE]) add(info, 'div', 'title', r[C.TITLE]);
        if (coords(r)) add(info, 'div', 'sub', 'GPS ' + coords(r));
        if (p?.[1].length) {
          var dl = add(info, 'dl', 'kvl');
          p[1].forEach(function (kv) {
            // Long values (hash, path, time-zone note) take a whole row; the rest sit two pairs to a row.
            var wide = kv[1].length > 32;
            add(dl, 'dt', wide ? 'wide' : null, kv[0]);
            add(dl, 'dd', (wide ? 'wide' : '') + (kv[0].indexOf('SHA-256') >= 0 ? ' hash' : ''), kv[1]);
          });
        }
        add(info, 'div', 'src', src(r));
        // Everything else recorded for the file, full width under the card, so long values do not wrap per letter.
        if (p?.[3]?.length) {
          var more = add(card, 'div', 'pmore');
          add(more, 'div', 'pmore-h', 'All recorded details (' + p[3].length + ')');
          var dd = add(more, 'dl', 'kvd');
          p[3].forEach(function (kv) {
            add(dd, 'dt', null, kv[0]);
            add(dd, 'dd', null, kv[1]);
          });
        }
      });
    },
  });

  // ---- Processing log ----
  var warnings = data('d-warnings');
  if (warnings)
    listView(doc.getElementById('log-list'), {
      rows: warnings,
      noun: 'warnings',
      pageSize: 200,
      empty: 'No warnings were recorded.',
      text: function (w) {
        return w.join(' ');
      },
      filters: [
        {
          label: 'All severities',
          options: [
            ['error', 'Errors'],
            ['warning', 'Warnings'],
            ['info', 'Notes'],
          ],
          test: function (w, v) {
            return w[1] === v;
          },
        },
      ],
      render: function (parent, rows) {
        var tb = table(parent, [
          ['Time', 't', '16%'],
          ['Severity', null, '9%'],
          ['Artifact', null, '11%'],
          ['Message', null, '46%'],
          ['Source', null, '18%'],
        ]);
        rows.forEach(function (w) {
          var tr = add(tb, 'tr', 'sev-' + w[1].replace(/[^a-z]/g, ''));
          cell(tr, w[0], 't');
          cell(tr, w[1]);
          cell(tr, w[2]);
          cell(tr, w[3], 'body');
          cell(tr, w[4], 'src');
        });
      },
    });

  // ---- Hash appendix ----
  var files = data('d-files');
  if (files)
    listView(doc.getElementById('hashes-list'), {
      rows: files,
      noun: 'files',
      pageSize: 200,
      empty: 'No evidence files recorded.',
      text: function (f) {
        return f.join(' ');
      },
      filters: [
        {
          label: 'All statuses',
          options: [
            ['ok', 'ok'],
            ['missing', 'missing'],
            ['unreadable', 'unreadable'],
            ['decrypt-failed', 'decrypt-failed'],
            ['listed-only', 'listed-only'],
            ['not-sqlite', 'not-sqlite'],
          ],
          test: function (f, v) {
            return f[4] === v;
          },
        },
      ],
      render: function (parent, rows) {
        var tb = table(parent, [
          ['Domain', null, '14%'],
          ['Path', null, '30%'],
          ['Size', 'n', '13%'],
          ['SHA-256', null, '25%'],
          ['Status', null, '9%'],
          ['Read by', null, '9%'],
        ]);
        rows.forEach(function (f) {
          var tr = add(tb, 'tr');
          cell(tr, f[0]);
          var pc = cell(tr, f[1], 'path');
          if (f[7] && f[7] !== f[1]) add(pc, 'div', 'sub', 'on disk: ' + f[7]);
          cell(tr, f[2], 'n');
          var hc = cell(tr, f[3], 'hash');
          if (f[8]) add(hc, 'div', 'sub', 'MD5 ' + f[8]);
          if (f[9]) add(hc, 'div', 'sub', 'SHA-1 ' + f[9]);
          cell(tr, f[4] + (f[6] ? ' (' + f[6] + ')' : ''), 'st-' + f[4]);
          cell(tr, f[5]);
        });
      },
    });

  doc.documentElement.setAttribute('data-ready', '1');
})();
