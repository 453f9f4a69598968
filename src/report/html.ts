// HTML report: Handlebars templates for the fixed sections, JSON data blocks for the long lists, one
// self-contained offline file with a strict Content-Security-Policy. Written as a stream, so a case
// with 100,000 events never sits in memory as one string.
import { packagePath } from '../paths.js';
import { BufferedWriter } from './bufferedWriter.js';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import Handlebars from 'handlebars';
import type { CaseFile } from '../timeline/caseFile.js';
import { whereClause, type EventFilter } from '../timeline/query.js';
import { DateTime } from 'luxon';
import { MIN_PLAUSIBLE_US, MAX_PLAUSIBLE_US } from '../formats/appleTime.js';
import { zoneFormatter } from './zoneTime.js';
import { TrustedSvg } from './charts.js';
import { kindTable } from './describe.js';
import { eventRows, threadRows, attachmentRows, photoRows, fileRows, warningRows, type ReportModel } from './viewModel.js';

export const SECTIONS = [
  { id: 'cover', title: 'Cover' },
  { id: 'evidence', title: 'Evidence summary' },
  { id: 'method', title: 'Method' },
  { id: 'overview', title: 'Overview' },
  { id: 'timeline', title: 'Timeline' },
  { id: 'conversations', title: 'Conversations' },
  { id: 'calls', title: 'Calls' },
  { id: 'photos', title: 'Photos and videos' },
  { id: 'records', title: 'Other records' },
  { id: 'recovered', title: 'Deleted and recovered records' },
  { id: 'log', title: 'Processing log' },
  { id: 'hashes', title: 'Hash appendix' },
  { id: 'custody', title: 'Custody log' },
] as const;
export type SectionId = (typeof SECTIONS)[number]['id'];

/** The partials a lab may replace with `--templates DIR` (plus report.hbs and report.css). */
export const PARTIALS = [
  'letterhead',
  'cover',
  'evidence',
  'method',
  'overview',
  'timeline',
  'conversations',
  'calls',
  'photos',
  'records',
  'recovered',
  'log',
  'hashes',
  'custody',
  'footer',
  'exhibit',
];

export function defaultTemplatesDir(): string {
  const p = packagePath('templates', 'report.hbs');
  if (!p) throw new Error('the report templates (templates/report.hbs) are missing from this installation');
  return p;
}

export interface Templates {
  render(ctx: Record<string, unknown>): string;
  css: string;
  script: string;
  csp: string;
  /** Which files came from the lab's folder (recorded in the custody log). */
  overridden: string[];
}

/**
 * Load the templates; files in `userDir` (report.hbs, report.css, partials/NAME.hbs) replace the defaults.
 * The script is never replaced: the CSP allows exactly the tool's own script, by hash. `page` 'exhibits'
 * renders exhibits.hbs instead, a page without any script (its CSP allows none).
 */
export function loadTemplates(userDir?: string, page: 'report' | 'exhibits' = 'report'): Templates {
  const base = defaultTemplatesDir();
  if (userDir && !fs.existsSync(userDir)) throw new Error(`templates folder ${userDir} does not exist`);
  const overridden: string[] = [];
  const pick = (rel: string): string => {
    if (userDir) {
      const p = path.join(userDir, rel);
      if (fs.existsSync(p)) {
        overridden.push(rel);
        return fs.readFileSync(p, 'utf8');
      }
    }
    return fs.readFileSync(path.join(base, rel), 'utf8');
  };
  const hb = Handlebars.create();
  for (const name of PARTIALS) hb.registerPartial(name, pick(`partials/${name}.hbs`));
  // A lab may add partials of its own (e.g. a disclaimer included from its cover).
  if (userDir && fs.existsSync(path.join(userDir, 'partials'))) {
    for (const f of fs.readdirSync(path.join(userDir, 'partials'))) {
      const name = f.replace(/\.hbs$/, '');
      if (f.endsWith('.hbs') && !PARTIALS.includes(name)) {
        hb.registerPartial(name, fs.readFileSync(path.join(userDir, 'partials', f), 'utf8'));
        overridden.push(`partials/${f}`);
      }
    }
  }
  const css = pick('report.css').replace(/<\/style/gi, '<\\/style');
  const script = fs.readFileSync(path.join(base, 'report.js'), 'utf8').replace(/<\/script/gi, '<\\/script');
  const scriptHash = createHash('sha256').update(script, 'utf8').digest('base64');
  const scriptSrc = page === 'exhibits' ? "'none'" : `'sha256-${scriptHash}'`;
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src ${scriptSrc}; base-uri 'none'; form-action 'none'`;
  hb.registerHelper('num', (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v ?? '')));
  // {{plural n "event" "events"}}: "1 event", "2 events".
  hb.registerHelper('plural', (n: unknown, one: string, many: string) => `${typeof n === 'number' ? n.toLocaleString('en-US') : String(n ?? '')} ${n === 1 ? one : many}`);
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  // Only SVG built by charts.ts is inlined; anything else handed to {{svg}} is escaped like all other text.
  hb.registerHelper('svg', (v: unknown) => (v instanceof TrustedSvg ? new hb.SafeString(v.markup) : String(v ?? '')));
  hb.registerHelper('inlineCss', () => new hb.SafeString(css));
  hb.registerHelper('inlineScript', () => new hb.SafeString(script));
  const tpl = hb.compile(pick(`${page}.hbs`), { strict: false });
  return {
    render: (ctx) => tpl(ctx, { allowProtoPropertiesByDefault: false }),
    css,
    script,
    csp,
    overridden,
  };
}

/** JSON that is safe inside <script type="application/json">: evidence can never close the element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface DataBlocks {
  events?: Iterable<unknown>;
  /** Every declared kind: label, colour and the section (view) that shows it. */
  kinds?: unknown[];
  threads?: unknown[];
  attachments?: Iterable<unknown>;
  photos?: Iterable<unknown>;
  files?: Iterable<unknown>;
  warnings?: Iterable<unknown>;
}

export interface DocumentOptions {
  mode: 'interactive' | 'print';
  sections: readonly SectionId[];
  /** Print chunks after the first of a long section say "(continued)". */
  continued?: boolean;
  data: DataBlocks;
  /** Links to the other pages of a split report (HTML, already escaped), shown at the top of the page. */
  nav?: string;
}

/** The page links go first in <main> (or first in <body> when a lab's template has no <main>). */
function withNav(head: string, nav: string): string {
  const at = head.indexOf('<main>');
  if (at >= 0) return head.slice(0, at + 6) + nav + head.slice(at + 6);
  const b = head.search(/<body[^>]*>/);
  if (b < 0) return nav + head;
  const end = head.indexOf('>', b) + 1;
  return head.slice(0, end) + nav + head.slice(end);
}

/** Write one HTML document; returns how many rows each data block held. */
export function writeHtmlDocument(out: string, t: Templates, model: ReportModel, o: DocumentOptions): Record<string, number> {
  const slot = `<!--data-${randomBytes(12).toString('hex')}-->`;
  const show = Object.fromEntries(SECTIONS.map((s) => [s.id, o.sections.includes(s.id)]));
  const html = t.render({
    model,
    mode: o.mode,
    print: o.mode === 'print',
    show,
    continued: !!o.continued,
    csp: new Handlebars.SafeString(t.csp),
    dataSlot: new Handlebars.SafeString(slot),
  });
  const at = html.indexOf(slot);
  if (at < 0 || html.indexOf(slot, at + 1) >= 0) throw new Error('report.hbs must contain {{dataSlot}} exactly once, before the script');
  const counts: Record<string, number> = {};
  const fd = fs.openSync(out, 'w');
  const w = new BufferedWriter(fd);
  try {
    w.write(o.nav ? withNav(html.slice(0, at), o.nav) : html.slice(0, at));
    for (const [name, rows] of Object.entries({ kinds: kindTable(), ...o.data }) as [string, Iterable<unknown> | undefined][]) {
      if (!rows) continue;
      w.write(`<script type="application/json" id="d-${name}">[`);
      let n = 0;
      for (const r of rows) w.write((n++ ? ',\n' : '\n') + scriptJson(r));
      w.write(']</script>\n');
      counts[name] = n;
    }
    w.write(html.slice(at + slot.length));
    w.flush();
  } finally {
    fs.closeSync(fd);
  }
  return counts;
}

export interface HtmlReportOptions {
  tz: string;
  filter: EventFilter;
  templates: Templates;
}

/** Sections that list events: in a split report they live on the period pages, the rest on the index page. */
const EVENT_SECTIONS: SectionId[] = ['timeline', 'conversations', 'calls', 'photos', 'records', 'recovered'];

/**
 * Above this many events the HTML report is split: an index page (report.html) with every section but the event
 * lists, plus one page per calendar month in the report's zone (months above PAGE_EVENTS_MAX are cut at day
 * boundaries). One file of 2 million events took Chromium 22 s and 4.1 GB to get ready (issue 19).
 */
export const SPLIT_EVENTS = 50_000;
export const PAGE_EVENTS_MAX = 50_000;

export interface HtmlPage {
  file: string;
  label: string;
  events: number;
  /** Inclusive UTC µs bounds; null for the page of undated and implausibly dated events. */
  range: [number, number] | null;
}

/** Periods of the filtered events: months in the zone, cut into whole days when a month holds too many events. */
export function reportPages(db: Database.Database, filter: EventFilter, tz: string, maxEvents = PAGE_EVENTS_MAX): HtmlPage[] {
  const fmt = zoneFormatter(tz);
  const w = whereClause(filter);
  const stmt = db.prepare(`SELECT e.ts_utc_us FROM events e ${w.sql}`).pluck();
  stmt.safeIntegers(false);
  const days = new Map<string, number>();
  let other = 0;
  for (const ts of stmt.iterate(...w.params) as Iterable<number | null>) {
    const t = ts !== null && ts >= MIN_PLAUSIBLE_US && ts < MAX_PLAUSIBLE_US ? fmt(ts) : null;
    if (!t) other++;
    else days.set(t.day, (days.get(t.day) ?? 0) + 1);
  }
  const startUs = (day: string) => DateTime.fromISO(day, { zone: tz }).toMillis() * 1000;
  const nextDay = (day: string) => DateTime.fromISO(day, { zone: tz }).plus({ days: 1 }).toISODate()!;
  const months = new Map<string, [string, number][]>();
  for (const [day, n] of [...days.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const m = day.slice(0, 7);
    if (!months.has(m)) months.set(m, []);
    months.get(m)!.push([day, n]);
  }
  const pages: HtmlPage[] = [];
  for (const [month, list] of months) {
    // Consecutive days into parts of about equal size, at most maxEvents each (a single busier day stays one
    // part): a month of 51,000 events becomes two of ~25,500, not 50,000 and 1,000.
    const total = list.reduce((x, d) => x + d[1], 0);
    const target = Math.ceil(total / Math.ceil(total / maxEvents));
    const parts: [string, number][][] = [[]];
    let size = 0;
    list.forEach((d, i) => {
      if (size + d[1] > maxEvents && parts[parts.length - 1].length) {
        parts.push([]);
        size = 0;
      }
      parts[parts.length - 1].push(d);
      size += d[1];
      if (size >= target && i < list.length - 1) {
        parts.push([]);
        size = 0;
      }
    });
    const label = DateTime.fromISO(`${month}-01`, { zone: tz }).toFormat('LLLL yyyy');
    parts.forEach((p, i) => {
      const first = p[0][0];
      const last = p[p.length - 1][0];
      pages.push({
        file: `report-${month}${parts.length > 1 ? `-part${i + 1}` : ''}.html`,
        label: parts.length > 1 ? `${label} (${first.slice(8)}–${last.slice(8)})` : label,
        events: p.reduce((a, d) => a + d[1], 0),
        range: [startUs(first), startUs(nextDay(last)) - 1],
      });
    });
  }
  if (other) pages.push({ file: 'report-undated.html', label: 'Undated or implausibly dated', events: other, range: null });
  return pages;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page list of a split report, the current page marked. */
function pageNav(pages: HtmlPage[], current: string | null): string {
  const items = pages.map((p) =>
    p.file === current
      ? `<li><strong>${esc(p.label)}</strong> (${p.events.toLocaleString('en-US')})</li>`
      : `<li><a href="${esc(p.file)}">${esc(p.label)}</a> (${p.events.toLocaleString('en-US')})</li>`,
  );
  const index = current ? '<p><a href="report.html">← Report index</a> (cover, evidence, method, overview, logs, hashes, custody)</p>' : '';
  return `<nav class="report-pages section" aria-label="Report pages"><h2>Report pages</h2>${index}<p class="intro">This case is split into one page per period (in the report zone), so that each opens quickly. Events, conversations, calls, photos and records are on the period pages; counts in brackets.</p><ul>${items.join('')}</ul></nav>`;
}

/** The interactive report: every section in one file, or for a large case an index page plus one page per period.
 *  Returns the files written (report.html first) and the rows each data block held, summed. */
export function writeReportHtml(
  cf: CaseFile,
  model: ReportModel,
  out: string,
  o: HtmlReportOptions & { splitAbove?: number; pageMax?: number },
): Record<string, number> & { files?: string[] } {
  const db = cf.db;
  if (model.counts.events <= (o.splitAbove ?? SPLIT_EVENTS)) {
    const counts = writeHtmlDocument(out, o.templates, model, {
      mode: 'interactive',
      sections: SECTIONS.map((s) => s.id),
      data: {
        events: eventRows(db, o.filter, o.tz),
        threads: threadRows(db, o.filter),
        attachments: attachmentRows(db, { filter: o.filter }),
        photos: photoRows(db, { filter: o.filter }, o.tz),
        files: fileRows(db),
        warnings: warningRows(db, o.tz),
      },
    });
    return Object.assign(counts, { files: [out] });
  }
  const pages = reportPages(db, o.filter, o.tz, o.pageMax);
  const dir = path.dirname(out);
  const counts = writeHtmlDocument(out, o.templates, model, {
    mode: 'interactive',
    sections: SECTIONS.map((s) => s.id).filter((id) => !EVENT_SECTIONS.includes(id)),
    nav: pageNav(pages, null),
    data: { files: fileRows(db), warnings: warningRows(db, o.tz) },
  });
  const files = [out];
  for (const p of pages) {
    const f: EventFilter = { ...o.filter };
    let ids: number[] | undefined;
    if (p.range) {
      f.fromUs = Math.max(p.range[0], o.filter.fromUs ?? -Infinity);
      f.toUs = Math.min(p.range[1], o.filter.toUs ?? Infinity);
    } else {
      const w = whereClause(o.filter);
      const cond = `(e.ts_utc_us IS NULL OR e.ts_utc_us < ${MIN_PLAUSIBLE_US} OR e.ts_utc_us >= ${MAX_PLAUSIBLE_US})`;
      ids = db
        .prepare(`SELECT e.id FROM events e ${w.sql ? `${w.sql} AND` : 'WHERE'} ${cond}`)
        .pluck()
        .all(...w.params) as number[];
    }
    const file = path.join(dir, p.file);
    const c = writeHtmlDocument(file, o.templates, model, {
      mode: 'interactive',
      sections: EVENT_SECTIONS,
      nav: pageNav(pages, p.file),
      data: {
        events: ids ? eventRows(db, o.filter, o.tz, { ids }) : eventRows(db, f, o.tz),
        threads: threadRows(db, ids ? o.filter : f, ids),
        attachments: attachmentRows(db, ids ? { eventIds: ids } : { filter: f }),
        photos: photoRows(db, ids ? { eventIds: ids } : { filter: f }, o.tz),
      },
    });
    for (const [k, v] of Object.entries(c)) if (k !== 'kinds' && k !== 'threads') counts[k] = (counts[k] ?? 0) + v;
    files.push(file);
  }
  return Object.assign(counts, { files });
}
