import { missingReportFonts } from '../../report/fonts.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { openCaseForWriting } from '../caseAccess.js';
import { UsageError } from '../errors.js';
import { addFilterOptions, filterFrom, type FilterOptions } from './export.js';
import { buildReportModel, MISSING_FILES_CSV } from '../../report/viewModel.js';
import { loadTemplates, writeReportHtml, SPLIT_EVENTS } from '../../report/html.js';
import { staleOutputs, writeOutputManifest, type ManifestExhibit } from '../../custody/outputs.js';
import { exportMissingFiles } from '../../report/exports.js';
import { buildExhibitsModel, CONTEXT_DEFAULT, CONTEXT_MAX, writeExhibitsHtml } from '../../report/exhibits.js';
import { listTags } from '../../timeline/tags.js';
import { loadPrivateKey } from '../../custody/sign.js';
import type { CaseFile } from '../../timeline/caseFile.js';

export const REPORT_FORMATS = ['html', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportRunOptions extends FilterOptions {
  case: string;
  out: string;
  formats: ReportFormat[];
  templates?: string;
  title?: string;
  quiet?: boolean;
  examiner?: string;
  signKey?: string;
  /** Accept a case whose ingest did not finish; the report title then starts with "INCOMPLETE". */
  allowIncomplete?: boolean;
  /** HTML: above this many events, an index page plus pages of at most this many events (default SPLIT_EVENTS). */
  pageEvents?: number;
  /** Only the tagged events (or those of --tag), as numbered exhibits (exhibits.html, exhibits.pdf). */
  exhibits?: boolean;
  /** Messages of context before and after each exhibit in its conversation. */
  context?: number;
}

export const INCOMPLETE_MARK = 'INCOMPLETE';

export interface ReportRunResult {
  outputs: { path: string; sha256: string; bytes: number }[];
  pdfSkipped: boolean;
  events: number;
  pages?: number;
  manifestPath?: string;
  incomplete: boolean;
  /** Exhibit reports: each exhibit's number, event and PDF pages. */
  exhibits?: ManifestExhibit[];
}

/**
 * Log what a run wrote: first remove what an earlier run of the same kind wrote and this one did not (an old
 * report.pdf beside a new HTML-only run), so the folder never holds a report that disagrees with the case; then
 * hash the outputs into manifest.json + SHA256SUMS with the custody row, and return each with its hash.
 */
async function logOutputs(
  o: ReportRunOptions,
  cf: CaseFile,
  written: string[],
  owned: RegExp,
  manifest: { detail: Record<string, unknown>; exhibits?: ManifestExhibit[] },
): Promise<{ outputs: ReportRunResult['outputs']; manifestPath: string }> {
  const stale = await staleOutputs(
    o.out,
    owned,
    written.map((p) => path.basename(p)),
  );
  for (const name of stale) fs.rmSync(path.join(o.out, name), { force: true });
  const m = await writeOutputManifest(
    o.out,
    written.map((p) => path.resolve(p)),
    cf,
    { action: 'report', signKeyPath: o.signKey, examiner: o.examiner, removed: stale, ...manifest },
  );
  const refs = (JSON.parse(m.custody.detail_json) as { outputs?: { path: string; sha256: string }[] }).outputs ?? [];
  const outputs = written.map((p) => ({ path: p, sha256: refs.find((r) => r.path === path.basename(p))?.sha256 ?? '', bytes: fs.statSync(p).size }));
  return { outputs, manifestPath: m.manifestPath };
}

/** What a report run writes (report.html, its month pages, report.pdf, missing-files.csv), and an exhibit run. */
const REPORT_OUTPUT = new RegExp(`^report(-[\\w-]+)?\\.(html|pdf)$|^${MISSING_FILES_CSV.replace('.', '\\.')}$`);
const EXHIBITS_OUTPUT = /^exhibits\.(html|pdf)$/;

/** Write the requested reports for a case file; shared by `report` and `demo`. */
export async function runReport(o: ReportRunOptions): Promise<ReportRunResult> {
  if (o.exhibits) return runExhibits(o);
  // Locked: the report appends a custody row.
  const opened = openCaseForWriting(o.case, `report --out ${path.resolve(o.out)}`, { outputs: [{ path: o.out, what: 'the report folder' }], allowIncomplete: o.allowIncomplete });
  const { cf } = opened;
  const state = { complete: opened.complete };
  try {
    const title = `${state.complete ? '' : `${INCOMPLETE_MARK} (ingest did not finish) — `}${o.title || 'Forensic timeline report'}`;
    const { tz, filter } = filterFrom(cf, o);
    let templates: ReturnType<typeof loadTemplates>;
    try {
      templates = loadTemplates(o.templates);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    fs.mkdirSync(o.out, { recursive: true });
    const filterArgs = { from: o.from, to: o.to, kinds: o.kinds, contact: o.contact, keyword: o.keyword, tag: o.tag, tagged: o.tagged ? 'any tag' : undefined, device: o.device };
    const model = buildReportModel(cf, { tz, filter, title, filterArgs });
    const say = (s: string) => {
      if (!o.quiet) process.stderr.write(`${s}\n`);
    };
    const written: string[] = [];
    let pdfSkipped = false;
    let pdfError: Error | null = null;
    let pages: number | undefined;
    if (o.formats.includes('html')) {
      const file = path.join(o.out, 'report.html');
      // A large case is split into report.html (the index) and one page per period: every page is an output.
      const split = { splitAbove: o.pageEvents, pageMax: o.pageEvents };
      written.push(...(writeReportHtml(cf, model, file, { tz, filter, templates, ...split }).files ?? [file]));
    }
    if (o.formats.includes('pdf')) {
      const missing = missingReportFonts();
      if (missing?.length) {
        process.stderr.write(
          `PDF: fonts missing: ${missing.map((f) => `${f.family} (${f.covers}; Debian package ${f.pkg})`).join(', ')}: such text prints as empty boxes; run npm run setup\n`,
        );
      }
      const file = path.join(o.out, 'report.pdf');
      // The PDF writer (pdf-lib, fontkit, puppeteer) loads only when a PDF is asked for: every other command starts faster.
      const { writeReportPdf } = await import('../../report/pdf.js');
      ({ skipped: pdfSkipped, error: pdfError } = await tryPdf(file, async () => {
        pages = (await writeReportPdf(cf, model, file, { tz, filter, templates, onProgress: model.counts.events > 20_000 ? say : undefined })).pages;
        written.push(file);
      }));
    }
    // Payloads the manifest lists but the evidence lacks: all of them in a CSV beside the report (the PDF counts them by domain).
    if (written.length && model.missingFiles.total) {
      const file = path.join(o.out, model.missingFiles.csv);
      exportMissingFiles(cf.db, file);
      written.push(file);
    }
    // Hash the outputs, write manifest.json + SHA256SUMS beside them and append the custody row.
    let outputs: ReportRunResult['outputs'] = [];
    let manifestPath: string | undefined;
    if (written.length) {
      ({ outputs, manifestPath } = await logOutputs(o, cf, written, REPORT_OUTPUT, {
        detail: {
          formats: o.formats,
          time_zone: tz,
          filter,
          events: model.counts.events,
          pdf_pages: pages ?? null,
          title: model.title,
          templates: o.templates ? { dir: path.resolve(o.templates), overridden: templates.overridden } : null,
        },
      }));
    }
    // A failed PDF still leaves the HTML hashed and logged; then the command fails.
    if (pdfError) throw new Error(`PDF failed: ${pdfError.message}${outputs.length ? ' (the HTML report was written and logged)' : ''}`);
    return { outputs, pdfSkipped, events: model.counts.events, pages, manifestPath, incomplete: !state.complete };
  } finally {
    opened.close();
  }
}

/** The exhibit report: exhibits.html and exhibits.pdf, their numbers and pages in manifest.json and the custody row. */
async function runExhibits(o: ReportRunOptions): Promise<ReportRunResult> {
  const opened = openCaseForWriting(o.case, `report --exhibits --out ${path.resolve(o.out)}`, {
    outputs: [{ path: o.out, what: 'the report folder' }],
    allowIncomplete: o.allowIncomplete,
  });
  const { cf } = opened;
  try {
    const title = `${opened.complete ? '' : `${INCOMPLETE_MARK} (ingest did not finish) — `}${o.title && o.title !== DEFAULT_TITLE ? o.title : 'Exhibits'}`;
    const { tz, filter } = filterFrom(cf, o);
    // The tag selects the exhibits; with none, every tagged event is one.
    if (!filter.tag && !listTags(cf.db).length)
      throw new UsageError('no event in this case is tagged: tag the events to show first (ios-timeline tag --case … EVENT_ID --tag NAME)');
    let templates: ReturnType<typeof loadTemplates>;
    try {
      templates = loadTemplates(o.templates, 'exhibits');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    fs.mkdirSync(o.out, { recursive: true });
    const filterArgs = { from: o.from, to: o.to, kinds: o.kinds, contact: o.contact, keyword: o.keyword };
    const model = buildExhibitsModel(cf, { tz, filter, tag: filter.tag ?? null, context: o.context, title, filterArgs });
    const written: string[] = [];
    let pdfSkipped = false;
    let pdfError: Error | null = null;
    let pages: number | undefined;
    let pdfPages: Map<number, { firstPage: number; pages: number }> | null = null;
    if (o.formats.includes('html')) {
      const file = path.join(o.out, 'exhibits.html');
      writeExhibitsHtml(model, file, templates);
      written.push(file);
    }
    if (o.formats.includes('pdf')) {
      const file = path.join(o.out, 'exhibits.pdf');
      const { writeExhibitsPdf } = await import('../../report/exhibitsPdf.js');
      ({ skipped: pdfSkipped, error: pdfError } = await tryPdf(file, async () => {
        const r = await writeExhibitsPdf(model, file, { templates });
        pages = r.pages;
        pdfPages = new Map(r.exhibits.map((x) => [x.number, x]));
        written.push(file);
      }));
    }
    const exhibits: ManifestExhibit[] = model.exhibits.map((e) => {
      const p = pdfPages?.get(e.number);
      return {
        number: e.number,
        event_id: e.eventId,
        tags: e.tags.map((t) => t.tag),
        html_anchor: `exhibits.html#${e.anchor}`,
        ...(p ? { pdf_first_page: p.firstPage, pdf_pages: p.pages } : {}),
      };
    });
    let outputs: ReportRunResult['outputs'] = [];
    let manifestPath: string | undefined;
    if (written.length) {
      ({ outputs, manifestPath } = await logOutputs(o, cf, written, EXHIBITS_OUTPUT, {
        exhibits,
        detail: {
          report: 'exhibits',
          formats: o.formats,
          time_zone: tz,
          filter,
          context: model.selection.context,
          events: exhibits.length,
          exhibits: exhibits.map((e) => ({ number: e.number, event_id: e.event_id, pdf_first_page: e.pdf_first_page ?? null })),
          pdf_pages: pages ?? null,
          title: model.title,
          templates: o.templates ? { dir: path.resolve(o.templates), overridden: templates.overridden } : null,
        },
      }));
    }
    if (pdfError) throw new Error(`PDF failed: ${pdfError.message}${outputs.length ? ' (the HTML exhibits were written and logged)' : ''}`);
    return { outputs, pdfSkipped, events: exhibits.length, pages, manifestPath, incomplete: !opened.complete, exhibits };
  } finally {
    opened.close();
  }
}

/** --context N: a whole number from 0 to CONTEXT_MAX. */
export function parseContext(v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > CONTEXT_MAX) throw new UsageError(`--context must be a whole number from 0 to ${CONTEXT_MAX}`);
  return Number(v);
}

const DEFAULT_TITLE = 'Forensic timeline report';

export function parseFormats(v: string): ReportFormat[] {
  const list = v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((f) => !(REPORT_FORMATS as readonly string[]).includes(f));
  if (!list.length || bad.length) throw new UsageError(`--format must be a comma-separated list of ${REPORT_FORMATS.join(', ')}${bad.length ? ` (not ${bad.join(', ')})` : ''}`);
  return [...new Set(list)] as ReportFormat[];
}

export function registerReport(program: Command): void {
  addFilterOptions(
    program
      .command('report')
      .description('Write the case report: offline HTML (one file, or an index plus monthly pages above --page-events) and a paginated PDF with bookmarks.')
      .requiredOption('--case <file>', 'case file')
      .requiredOption('--out <dir>', 'output folder (report.html, report.pdf)')
      .option('--format <list>', `comma-separated: ${REPORT_FORMATS.join(', ')}`, 'html,pdf')
      .option('--templates <dir>', 'folder with replacement templates (partials/cover.hbs, partials/letterhead.hbs, report.css, …)')
      .option('--title <text>', 'report title', 'Forensic timeline report')
      .option('--examiner <name>', "examiner recorded in the custody log (default: the case's examiner)")
      .option('--sign-key <file>', 'Ed25519 private key (ios-timeline keygen) to sign manifest.json')
      .option('--allow-incomplete', 'accept a case whose ingest did not finish (the report title and manifest.json say INCOMPLETE)')
      .option('--exhibits', 'only the tagged events (with --tag, those of that tag), each a numbered exhibit with context and provenance (exhibits.html, exhibits.pdf)')
      .option('--context <n>', `with --exhibits: messages of context before and after each exhibit in its conversation (0–${CONTEXT_MAX}; default ${CONTEXT_DEFAULT})`)
      .option('--page-events <n>', 'HTML: above this many events, write report.html as an index plus one page per month (months above it cut by day)', String(SPLIT_EVENTS))
      .option('--json', 'print the result as JSON on stdout'),
  ).action(
    async (
      o: FilterOptions & {
        case: string;
        out: string;
        format: string;
        templates?: string;
        title: string;
        examiner?: string;
        signKey?: string;
        allowIncomplete?: boolean;
        pageEvents: string;
        exhibits?: boolean;
        context?: string;
        json?: boolean;
      },
    ) => {
      const formats = parseFormats(o.format);
      const pageEvents = Number(o.pageEvents);
      if (!Number.isSafeInteger(pageEvents) || pageEvents < 1) throw new UsageError(`--page-events must be a whole number of at least 1 (not ${o.pageEvents})`);
      if (o.context !== undefined && !o.exhibits) throw new UsageError('--context goes with --exhibits');
      const context = o.context === undefined ? CONTEXT_DEFAULT : parseContext(o.context);
      if (!fs.existsSync(o.case)) throw new UsageError(`case file ${o.case} does not exist`);
      if (o.signKey) {
        try {
          loadPrivateKey(o.signKey);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      } // before rendering anything
      const r = await runReport({ ...o, formats, context, pageEvents });
      // Asked for a PDF only and could not make one: that is a failure, not a partial success.
      if (r.pdfSkipped && !formats.includes('html')) process.exitCode = 1;
      if (o.json) {
        const result = {
          outputs: r.outputs,
          manifest: r.manifestPath ?? null,
          [r.exhibits ? 'exhibits' : 'events']: r.events,
          pdf_pages: r.pages ?? null,
          pdf_skipped: r.pdfSkipped,
          complete: !r.incomplete,
        };
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      for (const x of r.outputs) process.stdout.write(`${x.path} (sha256 ${x.sha256})\n`);
      if (r.manifestPath) process.stdout.write(`manifest ${r.manifestPath}\n`);
      const what = r.exhibits ? `${r.events} exhibit${r.events === 1 ? '' : 's'}` : `${r.events} events`;
      process.stdout.write(`${what}${r.pages ? `, PDF ${r.pages} pages` : ''}${r.incomplete ? ` (${INCOMPLETE_MARK}: the case's ingest did not finish)` : ''}\n`);
    },
  );
}

/** Run a PDF writer: no Chromium is a skip, said once on stderr; any other failure removes the half-written file and is returned. */
async function tryPdf(file: string, write: () => Promise<void>): Promise<{ skipped: boolean; error: Error | null }> {
  const { NoBrowserError } = await import('../../report/pdf.js');
  try {
    await write();
    return { skipped: false, error: null };
  } catch (e) {
    if (e instanceof NoBrowserError) {
      process.stderr.write('PDF skipped: no Chromium found; run npm run setup\n');
      return { skipped: true, error: null };
    }
    fs.rmSync(file, { force: true });
    return { skipped: false, error: e as Error };
  }
}
