// The review page. Plain script, no build step. Everything that comes from the evidence is put into the page
// with textContent or setAttribute on non-executable attributes, never as markup.

const ROW_H = 26;
const PAGE = 200;
const TOKEN = location.pathname.split('/')[1];
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

const state = {
  meta: null,
  kinds: new Map(),
  rows: [],
  next: null,
  loading: false,
  done: false,
  gen: 0,
  sel: -1,
  current: null,
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

async function getJson(path, params) {
  const qs = params ? `?${new URLSearchParams(params)}` : '';
  const r = await fetch(`api/${path}${qs}`, { headers: { Accept: 'application/json' } });
  const v = await r.json();
  if (!r.ok) throw new Error(v.error || `HTTP ${r.status}`);
  return v;
}

async function postJson(path, body) {
  const r = await fetch(`api/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Review-Token': TOKEN },
    body: JSON.stringify(body),
  });
  const v = await r.json();
  if (!r.ok) throw new Error(v.error || `HTTP ${r.status}`);
  return v;
}

function status(text) {
  $('status').textContent = text;
}

// ------------------------------------------------------------------ filters

function filterParams() {
  const p = {};
  const v = (id) => $(id).value.trim();
  if (v('f-from')) p.from = v('f-from');
  if (v('f-to')) p.to = v('f-to');
  const kinds = [...document.querySelectorAll('#kind-list input:checked')].map((i) => i.value);
  if (kinds.length && kinds.length < state.kinds.size) p.kinds = kinds.join(',');
  if (v('f-contact')) p.contact = v('f-contact');
  if (v('f-q')) p.q = v('f-q');
  if (v('f-tag')) p.tag = v('f-tag');
  if ($('f-tagged').checked) p.tagged = '1';
  if (v('f-device')) p.device = v('f-device');
  return p;
}

let debounce = 0;
function filtersChanged(delay) {
  document.documentElement.dataset.busy = '1';
  clearTimeout(debounce);
  debounce = setTimeout(reload, delay || 0);
  $('exhibits').disabled = !$('f-tag').value;
  $('exhibits').title = $('f-tag').value ? `Exhibit report of the events tagged "${$('f-tag').value}"` : 'Choose a tag first';
}

function renderTagOptions(tags) {
  const sel = $('f-tag');
  const keep = sel.value;
  while (sel.options.length > 1) sel.remove(1);
  const dl = $('tag-names');
  dl.replaceChildren();
  for (const t of tags) {
    const o = el('option', null, `${t.tag} (${t.n})`);
    o.value = t.tag;
    sel.append(o);
    const d = el('option');
    d.value = t.tag;
    dl.append(d);
  }
  sel.value = tags.some((t) => t.tag === keep) ? keep : '';
}

// ------------------------------------------------------------------ the list

async function reload() {
  const gen = ++state.gen;
  state.rows = [];
  state.next = null;
  state.done = false;
  state.loading = false;
  state.sel = -1;
  $('list').scrollTop = 0;
  renderRows();
  document.documentElement.dataset.busy = '1';
  status('Loading…');
  // Rows first: the server answers one request at a time, and a histogram of a large case takes longer.
  await loadMore(gen);
  await loadHistogram(gen);
  if (gen !== state.gen) return;
  if (state.rows.length) select(0, false);
  if ($('tab-map').classList.contains('on')) loadMap();
  updateStatus();
  delete document.documentElement.dataset.busy; // tests wait for this: the list and the count are current
}

async function loadMore(gen) {
  if (state.loading || state.done || gen !== state.gen) return;
  state.loading = true;
  let page = null;
  try {
    const p = { ...filterParams(), order: $('f-order').value, limit: String(PAGE) };
    if (state.next) p.cursor = state.next;
    page = await getJson('events', p);
  } catch (e) {
    if (gen === state.gen) status(`Error: ${e.message}`);
  } finally {
    if (gen === state.gen) state.loading = false;
  }
  if (!page || gen !== state.gen) return;
  state.rows.push(...page.events);
  state.next = page.next;
  state.done = !page.next;
  document.documentElement.dataset.rows = String(state.rows.length);
  renderRows(); // loads the next page at once if the view is still near the end
  updateStatus();
}

let histTotal = null;
function updateStatus() {
  const shown = state.rows.length.toLocaleString('en-US');
  const total = histTotal === null ? '' : ` of ${histTotal.total.toLocaleString('en-US')}`;
  const undated = histTotal?.undated ? `; ${histTotal.undated.toLocaleString('en-US')} without a time are not in the timeline` : '';
  status(`${shown}${total} events loaded${state.done ? '' : ' (more as you scroll)'}${undated}`);
}

let rendered = '';
let frameAsked = false;
// Scroll events come several times a frame: draw at most once per frame.
function onScroll() {
  if (frameAsked) return;
  frameAsked = true;
  requestAnimationFrame(() => {
    frameAsked = false;
    renderRows(true);
  });
}

/** Only the rows in view (and 10 either side) are in the DOM; `scrolled`: redraw only if that window moved. */
function renderRows(scrolled) {
  const list = $('list');
  const n = state.rows.length;
  $('spacer').style.height = `${(n + (state.done ? 0 : 1)) * ROW_H}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 10);
  const last = Math.min(n, Math.ceil((list.scrollTop + list.clientHeight) / ROW_H) + 10);
  const key = `${first}:${last}:${n}:${state.sel}:${state.gen}`;
  if (scrolled === true && key === rendered) return;
  rendered = key;
  const box = $('rows');
  box.style.top = `${first * ROW_H}px`;
  const out = [];
  for (let i = first; i < last; i++) out.push(rowEl(state.rows[i], i));
  box.replaceChildren(...out);
  if (!state.done && last >= n - 50) loadMore(state.gen);
}

function rowEl(e, i) {
  const r = el('div', i === state.sel ? 'row sel' : 'row');
  r.dataset.i = String(i);
  r.dataset.id = String(e.id);
  r.append(el('span', 't', `${e.day} ${e.time}`));
  const k = el('span', 'k', state.kinds.get(e.kind)?.label || e.kind);
  k.style.background = state.kinds.get(e.kind)?.color || '#667';
  r.append(k);
  if (e.recovered) r.append(el('span', 'rec', 'recovered'));
  r.append(el('span', 'm', line(e)));
  for (const t of e.tags || []) r.append(el('span', 'tg', t.tag));
  return r;
}

function line(e) {
  const head = e.title || e.desc;
  const text = e.body ? `: ${e.body}` : '';
  return `${head}${text}`.replace(/\s*[\r\n]+\s*/g, ' ⏎ ');
}

function select(i, scroll = true) {
  if (i < 0 || i >= state.rows.length) return;
  state.sel = i;
  state.current = state.rows[i];
  if (scroll) {
    const list = $('list');
    const top = i * ROW_H;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_H - list.clientHeight;
  }
  renderRows();
  showEvent(state.current);
  if ($('tab-conversation').classList.contains('on')) loadConversation();
}

// ------------------------------------------------------------------ the event panel

function showEvent(e) {
  $('event-empty').hidden = true;
  $('event').hidden = false;
  $('ev-title').textContent = e.title || e.desc;
  $('ev-time').textContent = `${e.day} ${e.time} (UTC${e.offset}, ${state.meta.zone})`;
  $('ev-body').textContent = e.body || '';
  $('ev-body').hidden = !e.body;
  const img = $('ev-thumb');
  if (e.thumb) {
    img.src = `api/thumb/${Number(e.thumb)}`;
    img.hidden = false;
  } else {
    img.removeAttribute('src');
    img.hidden = true;
  }
  const dl = $('ev-fields');
  dl.replaceChildren();
  const add = (k, v) => {
    if (v === null || v === undefined || v === '') return;
    dl.append(el('dt', null, k), el('dd', null, v));
  };
  add('Event', `#${e.id}`);
  add('Kind', `${state.kinds.get(e.kind)?.label || e.kind} — ${e.desc}`);
  add('Direction', e.direction);
  add('Counterpart', e.counterpartName ? `${e.counterpartName} (${e.counterpart})` : e.counterpart);
  add('Service', e.service);
  add('Duration', e.durationS !== null && e.durationS !== undefined ? `${e.durationS} s` : null);
  add('Position', e.latitude !== null && e.longitude !== null ? `${e.latitude}, ${e.longitude}` : null);
  add('Recovered', e.recovered ? 'yes: read from deleted or superseded data' : null);
  add('Source file', e.source.domain ? `${e.source.domain}/${e.source.path}` : e.source.path);
  add('Source row', e.source.table ? `${e.source.table} #${e.source.rowid}` : null);
  add('Source SHA-256', e.source.sha256);
  add('Extractor', e.source.extractor);
  const ul = $('ev-tags');
  ul.replaceChildren();
  for (const t of e.tags || []) {
    const li = el('li');
    li.append(el('span', 'tg', t.tag));
    if (t.note) li.append(document.createTextNode(` ${t.note}`));
    li.append(document.createTextNode(` — ${t.examiner || ''}, ${t.at}`));
    const b = el('button', null, '×');
    b.type = 'button';
    b.title = `Remove the tag "${t.tag}"`;
    b.addEventListener('click', () => untag(e, t.tag));
    li.append(b);
    ul.append(li);
  }
  if (!ul.children.length) ul.append(el('li', 'hint', 'none'));
  $('note-input').value = e.note || '';
  $('ev-msg').textContent = '';
}

async function refreshEvent(e) {
  const fresh = await getJson(`event/${e.id}`);
  Object.assign(e, { tags: fresh.tags, note: fresh.note });
  renderRows();
  if (state.current === e) showEvent(e);
}

async function tag(e, name) {
  name = name.trim();
  if (!name) return;
  try {
    const r = await postJson('tag', { eventIds: [e.id], tag: name });
    renderTagOptions(r.tags);
    await refreshEvent(e);
    $('tag-input').value = '';
    $('ev-msg').textContent = `Tagged "${name}".`;
  } catch (err) {
    $('ev-msg').textContent = `Not tagged: ${err.message}`;
  }
}

async function untag(e, name) {
  try {
    const r = await postJson('untag', { eventIds: [e.id], tag: name });
    renderTagOptions(r.tags);
    await refreshEvent(e);
    $('ev-msg').textContent = `Removed "${name}".`;
  } catch (err) {
    $('ev-msg').textContent = `Not removed: ${err.message}`;
  }
}

async function saveNote(e) {
  try {
    await postJson('note', { eventId: e.id, note: $('note-input').value });
    await refreshEvent(e);
    $('ev-msg').textContent = 'Note saved.';
  } catch (err) {
    $('ev-msg').textContent = `Note not saved: ${err.message}`;
  }
}

// ------------------------------------------------------------------ conversation, histogram, map

async function loadConversation() {
  const e = state.current;
  const box = $('conv');
  box.replaceChildren();
  $('conv-title').textContent = '';
  if (!e?.threadId) {
    $('conv-empty').hidden = false;
    $('conv-empty').textContent = e ? 'This event belongs to no conversation.' : 'Select a message first.';
    return;
  }
  $('conv-empty').hidden = true;
  try {
    const t = await getJson(`thread/${e.threadId}`, { around: String(e.id) });
    if (state.current !== e) return;
    const who = t.participants.map((p) => (p.name ? `${p.name} (${p.handle})` : p.handle)).join(', ');
    $('conv-title').textContent = `${t.thread.displayName || t.thread.identifier || 'Conversation'}${t.thread.service ? ` · ${t.thread.service}` : ''}${who ? ` · ${who}` : ''}`;
    for (const m of t.events) {
      const li = el('li', `${m.direction === 'outgoing' ? 'out' : 'in'}${m.id === e.id ? ' pivot' : ''}`);
      li.append(el('span', 'when', `${m.day} ${m.time} · ${m.counterpartName || m.counterpart || ''}${m.action !== 'sent' && m.action !== 'received' ? ` · ${m.desc}` : ''}`));
      li.append(document.createTextNode(m.body || m.title || m.desc));
      box.append(li);
    }
    box.querySelector('.pivot')?.scrollIntoView({ block: 'center' });
  } catch (err) {
    $('conv-empty').hidden = false;
    $('conv-empty').textContent = `Error: ${err.message}`;
  }
}

async function loadHistogram(gen) {
  try {
    const h = await getJson('histogram', filterParams());
    if (gen !== state.gen) return;
    histTotal = h;
    updateStatus();
    drawHistogram(h.days);
  } catch (err) {
    if (gen === state.gen) status(`Error: ${err.message}`);
  }
}

function drawHistogram(all) {
  const svg = $('hist');
  svg.replaceChildren();
  delete svg.dataset.start;
  $('hist-note').textContent = '';
  if (!all.length) return;
  // A few stray dates years away would squeeze the chart to a line (a clock reset, a photo from an old phone): when
  // the shortest stretch holding 90 % of the events is under half the whole span, chart that stretch and say so.
  const dayNo = all.map((d) => Math.round(Date.parse(`${d.day}T00:00:00Z`) / 86_400_000));
  const total = all.reduce((n, d) => n + d.n, 0);
  let a = 0;
  let b = all.length - 1;
  let inWin = 0;
  for (let i = 0, j = 0; j < all.length; j++) {
    inWin += all[j].n;
    while (inWin - all[i].n >= total * 0.9) inWin -= all[i++].n;
    if (inWin >= total * 0.9 && dayNo[j] - dayNo[i] < dayNo[b] - dayNo[a]) [a, b] = [i, j];
  }
  if (dayNo[b] - dayNo[a] >= (dayNo[all.length - 1] - dayNo[0]) / 2) [a, b] = [0, all.length - 1];
  const before = all.slice(0, a).reduce((n, d) => n + d.n, 0);
  const after = all.slice(b + 1).reduce((n, d) => n + d.n, 0);
  const days = all.slice(a, b + 1);
  const left = [before && `${before.toLocaleString('en-US')} before ${days[0].day}`, after && `${after.toLocaleString('en-US')} after ${days[days.length - 1].day}`].filter(
    Boolean,
  );
  if (left.length) $('hist-note').textContent = `Not in the chart: ${left.join(' and ')} (use From / To to see them).`;
  // Every day from the first to the last, empty days included, so the axis is time.
  const start = Date.parse(`${days[0].day}T00:00:00Z`);
  const end = Date.parse(`${days[days.length - 1].day}T00:00:00Z`);
  const span = Math.round((end - start) / 86_400_000) + 1;
  const w = svg.clientWidth || 800;
  const h = 56;
  const max = Math.max(...days.map((d) => d.n));
  const bw = w / span;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.dataset.start = String(start);
  svg.dataset.span = String(span);
  const selFrom = $('f-from').value;
  const selTo = $('f-to').value;
  for (const d of days) {
    const x = (Math.round((Date.parse(`${d.day}T00:00:00Z`) - start) / 86_400_000) * w) / span;
    const bh = Math.max(1, (d.n / max) * (h - 2));
    const r = svgEl('rect', { x: x.toFixed(2), y: (h - bh).toFixed(2), width: Math.max(1, bw - (bw > 3 ? 1 : 0)).toFixed(2), height: bh.toFixed(2) });
    if (selFrom === d.day && selTo === d.day) r.classList.add('sel');
    r.dataset.day = d.day;
    const title = svgEl('title');
    title.textContent = `${d.day}: ${d.n.toLocaleString('en-US')} events (${state.meta.zone})`;
    r.append(title);
    svg.append(r);
  }
}

async function loadMap() {
  const svg = $('map');
  svg.replaceChildren();
  try {
    const g = await getJson('geo', filterParams());
    const pts = g.points;
    $('map-info').textContent = pts.length
      ? `${g.total.toLocaleString('en-US')} located events${g.total > pts.length ? `, ${pts.length.toLocaleString('en-US')} shown (evenly thinned)` : ''}. No map tiles: points only, north up.`
      : 'No located events match the filters.';
    if (!pts.length) return;
    const lats = pts.map((p) => p.lat);
    const lons = pts.map((p) => p.lon);
    const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180) || 1; // equirectangular, true to scale at the middle
    const w = svg.clientWidth || 400;
    const h = svg.clientHeight || 420;
    const dx = Math.max((maxLon - minLon) * k, 1e-4);
    const dy = Math.max(maxLat - minLat, 1e-4);
    const s = Math.min((w - 20) / dx, (h - 20) / dy);
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    for (const p of pts) {
      const c = svgEl('circle', { cx: (10 + (p.lon - minLon) * k * s).toFixed(1), cy: (h - 10 - (p.lat - minLat) * s).toFixed(1), r: 3 });
      c.style.fill = state.kinds.get(p.kind)?.color || '#4b6fbf';
      const t = svgEl('title');
      t.textContent = `#${p.id} ${p.day} ${p.time} ${state.kinds.get(p.kind)?.label || p.kind} (${p.lat.toFixed(5)}, ${p.lon.toFixed(5)})`;
      c.append(t);
      c.dataset.id = String(p.id);
      svg.append(c);
    }
  } catch (err) {
    $('map-info').textContent = `Error: ${err.message}`;
  }
}

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('on', b.dataset.tab === name);
  for (const s of document.querySelectorAll('.tab')) s.classList.toggle('on', s.id === `tab-${name}`);
  if (name === 'conversation') loadConversation();
  if (name === 'map') loadMap();
}

// ------------------------------------------------------------------ wiring

function typing(t) {
  return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
}

async function start() {
  const meta = await getJson('meta');
  state.meta = meta;
  $('case-number').textContent = meta.caseNumber || '';
  $('zone').textContent = meta.zone;
  $('devices').textContent = meta.devices.map((d) => [d.name, d.product, d.ios && `iOS ${d.ios}`].filter(Boolean).join(' · ')).join('; ');
  const kl = $('kind-list');
  for (const k of meta.kinds) {
    state.kinds.set(k.kind, k);
    const lab = el('label');
    const cb = el('input');
    cb.type = 'checkbox';
    cb.value = k.kind;
    cb.checked = true;
    cb.addEventListener('change', () => filtersChanged());
    const sw = el('span', 'swatch');
    sw.style.background = k.color;
    lab.append(cb, sw, document.createTextNode(`${k.label} (${k.n.toLocaleString('en-US')})`));
    kl.append(lab);
  }
  renderTagOptions(meta.tags);
  // A case with several phones can be narrowed to one (by evidence row id; names are text from the evidence).
  if (meta.devices.length > 1) {
    for (const d of meta.devices) {
      const o = el('option');
      o.value = String(d.id);
      o.textContent = `${d.id}: ${[d.name, d.product].filter(Boolean).join(' · ') || 'unnamed device'}`;
      $('f-device').append(o);
    }
    $('f-device-label').hidden = false;
  }

  for (const id of ['f-from', 'f-to', 'f-tag', 'f-tagged', 'f-order', 'f-device']) $(id).addEventListener('change', () => filtersChanged());
  for (const id of ['f-contact', 'f-q']) $(id).addEventListener('input', () => filtersChanged(300));
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('f-clear').addEventListener('click', () => {
    $('filters').reset();
    for (const cb of document.querySelectorAll('#kind-list input')) cb.checked = true;
    filtersChanged();
  });
  $('exhibits').addEventListener('click', async () => {
    const t = $('f-tag').value;
    if (!t) return;
    status(`Making the exhibit report of "${t}"…`);
    try {
      const r = await postJson('exhibits', { tag: t });
      status(r.message);
    } catch (err) {
      status(`No exhibit report: ${err.message}`);
    }
  });
  // A click anywhere in a day's column picks that day (bars of a long case are a pixel wide); again clears it.
  $('hist').addEventListener('click', (ev) => {
    const svg = $('hist');
    if (!svg.dataset.start) return;
    const box = svg.getBoundingClientRect();
    const span = Number(svg.dataset.span);
    const i = Math.min(span - 1, Math.max(0, Math.floor(((ev.clientX - box.left) / box.width) * span)));
    const day = new Date(Number(svg.dataset.start) + i * 86_400_000).toISOString().slice(0, 10);
    const same = $('f-from').value === day && $('f-to').value === day;
    $('f-from').value = same ? '' : day;
    $('f-to').value = same ? '' : day;
    filtersChanged();
  });
  $('map').addEventListener('click', async (ev) => {
    const id = ev.target?.dataset?.id;
    if (!id) return;
    const e = await getJson(`event/${Number(id)}`);
    state.current = e;
    showEvent(e);
    showTab('event');
  });
  $('list').addEventListener('scroll', onScroll, { passive: true });
  window.addEventListener('resize', () => renderRows());
  $('rows').addEventListener('click', (ev) => {
    const r = ev.target.closest('.row');
    if (r) select(Number(r.dataset.i), false);
    $('list').focus();
  });
  $('rows').addEventListener('dblclick', () => showTab('conversation'));
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('tag-add').addEventListener('click', () => state.current && tag(state.current, $('tag-input').value));
  $('tag-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && state.current) tag(state.current, $('tag-input').value);
    if (ev.key === 'Escape') $('list').focus();
  });
  $('note-save').addEventListener('click', () => state.current && saveNote(state.current));
  $('note-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && state.current) saveNote(state.current);
    if (ev.key === 'Escape') $('list').focus();
  });
  document.addEventListener('keydown', (ev) => {
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key;
    if (key === 'j' || key === 'ArrowDown') select(Math.min(state.sel + 1, state.rows.length - 1));
    else if (key === 'k' || key === 'ArrowUp') select(Math.max(state.sel - 1, 0));
    else if (key === 't' && state.current) {
      showTab('event');
      $('tag-input').focus();
    } else if (key === 'n' && state.current) {
      showTab('event');
      $('note-input').focus();
    } else if (key === 'c') showTab('conversation');
    else if (key === 'm') showTab('map');
    else if (key === '/') $('f-q').focus();
    else return;
    ev.preventDefault();
  });
  await reload();
  $('list').focus();
  document.documentElement.dataset.ready = '1';
}

start().catch((e) => status(`Cannot start: ${e.message}`));
