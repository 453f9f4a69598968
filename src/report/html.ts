// HTML report: Handlebars templates for the fixed sections, JSON data blocks for the long lists, one
// self-contained offline file with a strict Content-Security-Policy. Written as a stream, so a case
// with 100,000 events never sits in memory as one string.
import { packagePath } from '../paths.js';
import { BufferedWriter } from './bufferedWriter.js';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import Handlebars from 'handlebars';
import type { CaseFile } from '../timeline/caseFile.js';
import type { EventFilter } from '../timeline/query.js';
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
    w.write(html.slice(0, at));
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

/** The interactive report: every section in one file; long lists paged by the inline script. */
export function writeReportHtml(cf: CaseFile, model: ReportModel, out: string, o: HtmlReportOptions): Record<string, number> {
  const db = cf.db;
  return writeHtmlDocument(out, o.templates, model, {
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
}
