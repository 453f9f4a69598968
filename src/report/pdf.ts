// PDF report: the same templates in print mode, rendered by headless Chromium one chunk at a time
// (a section, or a few thousand rows of a long one), merged with pdf-lib. Page numbers, the outline and
// the metadata are added after merging, so "Page N of M" and the bookmarks are right for the whole file.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page, PuppeteerNode } from 'puppeteer';
import { makeWorkDir } from '../workdir.js';
import { PDFDocument, type PDFFont, PDFHexString, PDFName, type PDFRef, StandardFonts, rgb } from 'pdf-lib';
import { spawnSync } from 'node:child_process';
import type { CaseFile } from '../timeline/caseFile.js';
import { whereClause, type EventFilter } from '../timeline/query.js';
import { esc } from './charts.js';
import { SECTIONS, writeHtmlDocument, type DataBlocks, type SectionId, type Templates } from './html.js';
import { eventRows, threadRows, attachmentRows, photoRows, fileRows, warningRows, type EventCells, type ReportModel } from './viewModel.js';
import { kindsInView } from './describe.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';

export class NoBrowserError extends Error {
  constructor() {
    super('no Chromium found; run npm run setup (or set PUPPETEER_EXECUTABLE_PATH)');
  }
}

/** PUPPETEER_EXECUTABLE_PATH, then a system Chromium, else puppeteer's own browser (docs/design.md "Chromium and puppeteer"). */
export async function resolveChromium(): Promise<string | null> {
  const env = process.env.PUPPETEER_EXECUTABLE_PATH;
  if (env) return fs.existsSync(env) ? env : null;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (fs.existsSync(p)) return p;
  try {
    const own = (await loadPuppeteer()).executablePath();
    if (own && fs.existsSync(own)) return own;
  } catch {
    /* puppeteer has no browser of its own here */
  }
  return null;
}

// puppeteer takes about 2 s to load: only commands that print a PDF pay for it.
async function loadPuppeteer(): Promise<PuppeteerNode> {
  return (await import('puppeteer')).default as unknown as PuppeteerNode;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = await resolveChromium();
  if (!executablePath) throw new NoBrowserError();
  const puppeteer = await loadPuppeteer();
  const args = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium refuses to start its sandbox as root
  return puppeteer.launch({ executablePath, headless: true, args });
}

/**
 * Block every request except the report file itself, data: and about:blank. Returns the list of
 * blocked URLs (tests assert it stays empty for hostile evidence).
 */
export async function guardPage(page: Page, allowedUrl: string, blocked: string[] = []): Promise<string[]> {
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = req.url();
    if (url === allowedUrl || url.startsWith('data:') || url === 'about:blank') void req.continue();
    else {
      blocked.push(url);
      void req.abort('blockedbyclient');
    }
  });
  return blocked;
}

export interface PdfOptions {
  tz: string;
  filter: EventFilter;
  templates: Templates;
  /** Timeline, call and log rows per Chromium render; bounds memory. */
  chunkRows?: number;
  onProgress?: (message: string) => void;
  browser?: Browser;
}

export interface PdfResult {
  pages: number;
  chunks: number;
  outline: { title: string; page: number }[];
  blockedRequests: string[];
}

function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done) return;
    yield r.value;
  }
}

interface Chunk {
  section: SectionId;
  continued: boolean;
  data: DataBlocks;
  rows: number;
}

/** The chunks to render, in report order; long sections are cut every `size` rows (lazily: rows stream from the case file). */
function* plan(cf: CaseFile, model: ReportModel, o: PdfOptions, size: number): Generator<Chunk> {
  const db = cf.db;
  const threads = threadRows(db, o.filter);
  const w = whereClause(o.filter);
  const hasTaken = !!db
    .prepare(`SELECT 1 FROM events e ${w.sql ? `${w.sql} AND` : 'WHERE'} e.kind IN (SELECT value FROM json_each(?)) AND e.action = 'taken' LIMIT 1`)
    .get(...w.params, JSON.stringify(kindsInView('gallery')));
  for (const s of SECTIONS) {
    const id = s.id;
    const rowsOf = (): Iterator<unknown> | null => {
      switch (id) {
        case 'timeline':
          return eventRows(db, o.filter, o.tz);
        case 'conversations':
          return eventRows(db, o.filter, o.tz, { threadOrder: true });
        case 'calls':
          return eventRows(db, o.filter, o.tz, { kinds: kindsInView('calls') });
        // The photo cards show capture ('taken') events when there are any, as the HTML does.
        case 'photos':
          return eventRows(db, o.filter, o.tz, { kinds: kindsInView('gallery'), actions: hasTaken ? ['taken'] : undefined });
        case 'records':
          return eventRows(db, o.filter, o.tz, { kinds: kindsInView('table') });
        case 'recovered':
          return eventRows(db, o.filter, o.tz, { recoveredOnly: true });
        case 'log':
          return warningRows(db, o.tz);
        case 'hashes':
          return fileRows(db, { readOrProblemsOnly: model.pdfHashListAbridged, exceptMissing: model.missingFiles.abridged });
        default:
          return null;
      }
    };
    const it = rowsOf();
    if (!it) {
      yield { section: id, continued: false, data: {}, rows: 0 };
      continue;
    }
    // Photo cards and message bubbles take more room than table rows: smaller chunks.
    const n = id === 'photos' ? Math.max(50, Math.round(size / 10)) : id === 'conversations' ? Math.max(200, Math.round(size / 2)) : size;
    let part = 0;
    for (;;) {
      const rows = [...take(it, n)];
      if (!rows.length && part > 0) break;
      const data: DataBlocks = {};
      if (id === 'log') data.warnings = rows;
      else if (id === 'hashes') data.files = rows;
      else {
        data.events = rows;
        const ids = (rows as EventCells[]).map((r) => r[0]);
        if (id === 'conversations') {
          const inChunk = new Set((rows as EventCells[]).map((r) => r[11]));
          data.threads = threads.filter((t) => inChunk.has(t[0]));
          data.attachments = [...attachmentRows(db, { eventIds: ids })];
        }
        if (id === 'photos') data.photos = [...photoRows(db, { eventIds: ids }, o.tz)];
      }
      yield { section: id, continued: part > 0, data, rows: rows.length };
      part++;
      if (rows.length < n) break;
    }
  }
}

export function headerTemplate(model: ReportModel): string {
  // Chromium renders this on every page; all text escaped. The footer (Page N of M) is drawn after merging.
  const caseNo = model.meta.caseNumber ? `Case ${model.meta.caseNumber}` : 'No case number';
  return (
    `<div style="font-family:'Noto Sans',Arial,sans-serif;font-size:7.5px;color:#444;width:100%;padding:0 12mm;display:flex;justify-content:space-between;gap:10px;">` +
    `<span style="font-weight:bold">${esc(caseNo)}</span><span>${esc(model.title)}</span><span>All times: ${esc(model.tzLabel)}</span></div>`
  );
}

/** Print one chunk file to PDF bytes (and delete the file). */
export async function printChunk(browser: Browser, file: string, model: ReportModel, blockedRequests: string[]): Promise<Uint8Array> {
  const url = pathToFileURL(file).href;
  const page = await browser.newPage();
  try {
    await guardPage(page, url, blockedRequests);
    await page.goto(url, { waitUntil: 'load', timeout: 300_000 });
    await page.waitForSelector('html[data-ready]', { timeout: 300_000 });
    return await page.pdf({
      // Untagged: Chromium's structure tree made PDFs ~25x larger and 3x slower to print here.
      format: 'A4',
      printBackground: true,
      displayHeaderFooter: true,
      tagged: false,
      outline: false,
      headerTemplate: headerTemplate(model),
      footerTemplate: '<span></span>',
      margin: { top: '16mm', bottom: '15mm', left: '12mm', right: '12mm' },
      timeout: 600_000,
    });
  } finally {
    await page.close();
    fs.rmSync(file, { force: true });
  }
}

/** Render the PDF report to `out`. */
/** Noto Sans (the report's own font), embedded as a subset; Helvetica when fontconfig cannot find it. */
/** Every page's footer: "Page N of M" on the right, the tool on the left, and an optional middle line per page. */
export function stampFooters(doc: PDFDocument, font: PDFFont, middle?: (pageIndex: number) => string): void {
  const pages = doc.getPages();
  const size = 8;
  pages.forEach((page, i) => {
    const { width } = page.getSize();
    const label = `Page ${i + 1} of ${pages.length}`;
    page.drawText(label, { x: width - 34 - font.widthOfTextAtSize(label, size), y: 22, size, font, color: rgb(0.25, 0.25, 0.25) });
    page.drawText(`${TOOL_NAME} ${TOOL_VERSION}`, { x: 34, y: 22, size, font, color: rgb(0.45, 0.45, 0.45) });
    const mid = middle?.(i);
    if (mid) page.drawText(mid, { x: (width - font.widthOfTextAtSize(mid, size + 1)) / 2, y: 22, size: size + 1, font, color: rgb(0.12, 0.3, 0.47) });
  });
}

/** The PDF's document information (title with the case number, subject, tool, examiner, keywords, dates). */
export function setDocumentInfo(doc: PDFDocument, model: Pick<ReportModel, 'title' | 'meta'>, keywords: string[]): void {
  const caseNo = model.meta.caseNumber;
  doc.setTitle(`${model.title}${caseNo ? ` — Case ${caseNo}` : ''}`, { showInWindowTitleBar: true });
  doc.setSubject(caseNo || 'no case number');
  doc.setCreator(`${TOOL_NAME} ${TOOL_VERSION}`);
  doc.setProducer(`${TOOL_NAME} ${TOOL_VERSION} (Chromium, pdf-lib)`);
  if (model.meta.examiner) doc.setAuthor(model.meta.examiner);
  doc.setKeywords([...keywords, ...(caseNo ? [caseNo] : [])]);
  const now = new Date();
  doc.setCreationDate(now);
  doc.setModificationDate(now);
}

export async function footerFont(doc: PDFDocument): Promise<PDFFont> {
  const r = spawnSync('fc-match', ['-f', '%{file}', 'Noto Sans:style=Regular'], { encoding: 'utf8', timeout: 10_000 });
  const file = r.status === 0 ? r.stdout.trim() : '';
  if (file && /\.(ttf|otf)$/i.test(file) && fs.existsSync(file)) {
    // fontkit takes ~0.35 s to load: only a PDF pays for it.
    doc.registerFontkit((await import('@pdf-lib/fontkit')).default);
    return doc.embedFont(fs.readFileSync(file), { subset: true });
  }
  return doc.embedFont(StandardFonts.Helvetica);
}

export async function writeReportPdf(cf: CaseFile, model: ReportModel, out: string, o: PdfOptions): Promise<PdfResult> {
  // Printed lists are one line per event, so 4,000 rows make one Chromium render of ~65 pages: 56 renders instead of
  // 191 for a 50k-event case (94 s against 116 s, same sitting; node's own CPU 27 s against 48 s).
  const size = o.chunkRows ?? 4000;
  const tmp = makeWorkDir('ios-timeline-pdf-');
  const browser = o.browser ?? (await launchBrowser());
  const merged = await PDFDocument.create();
  const outline: { title: string; page: number }[] = [];
  const blockedRequests: string[] = [];
  let chunks = 0;
  try {
    // Two chunks print at once (Chromium uses another core meanwhile); results are merged in order.
    const inflight: { chunk: Chunk; pdf: Promise<Uint8Array> }[] = [];
    const mergeNext = async () => {
      const { chunk, pdf } = inflight.shift()!;
      const src = await PDFDocument.load(await pdf);
      const title = SECTIONS.find((s) => s.id === chunk.section)!.title;
      if (!chunk.continued) outline.push({ title, page: merged.getPageCount() });
      for (const p of await merged.copyPages(src, src.getPageIndices())) merged.addPage(p);
      o.onProgress?.(`PDF: ${title}${chunk.continued ? ' (continued)' : ''}: ${merged.getPageCount()} pages so far`);
    };
    for (const chunk of plan(cf, model, o, size)) {
      const file = path.join(tmp, `chunk-${chunks++}.html`);
      writeHtmlDocument(file, o.templates, model, { mode: 'print', sections: [chunk.section], continued: chunk.continued, data: chunk.data });
      const pdf = printChunk(browser, file, model, blockedRequests);
      pdf.catch(() => {
        /* awaited (and rethrown) in mergeNext */
      });
      inflight.push({ chunk, pdf });
      if (inflight.length >= 2) await mergeNext();
    }
    while (inflight.length) await mergeNext();
  } finally {
    if (!o.browser) await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // Footer with the page number of the whole document, in an embedded font like every other text (a PDF/A-minded
  // reader flags a non-embedded Helvetica); the standard font only where no Noto Sans can be found.
  const font = await footerFont(merged);
  const total = merged.getPageCount();
  stampFooters(merged, font);
  addOutline(merged, outline);
  setDocumentInfo(merged, model, ['forensic timeline', 'iOS backup']);
  fs.writeFileSync(out, await merged.save());
  return { pages: total, chunks, outline, blockedRequests };
}

/** pdf-lib has no outline API: build /Outlines by hand, one bookmark per section pointing at its first page. */
export function addOutline(doc: PDFDocument, entries: { title: string; page: number }[]): void {
  if (!entries.length) return;
  const ctx = doc.context;
  const pages = doc.getPages();
  const root = ctx.nextRef();
  const refs: PDFRef[] = entries.map(() => ctx.nextRef());
  entries.forEach((e, i) => {
    const page = pages[Math.min(e.page, pages.length - 1)];
    const item = ctx.obj({
      Title: PDFHexString.fromText(e.title),
      Parent: root,
      Dest: ctx.obj([page.ref, 'XYZ', null, null, null]),
      ...(i > 0 ? { Prev: refs[i - 1] } : {}),
      ...(i < entries.length - 1 ? { Next: refs[i + 1] } : {}),
    });
    ctx.assign(refs[i], item);
  });
  ctx.assign(root, ctx.obj({ Type: 'Outlines', First: refs[0], Last: refs[refs.length - 1], Count: entries.length }));
  doc.catalog.set(PDFName.of('Outlines'), root);
  doc.catalog.set(PDFName.of('PageMode'), PDFName.of('UseOutlines'));
}
