// The exhibit report as PDF: the cover (index and hash summary), then every exhibit from a new page. Chromium
// prints it as one document; the index links each exhibit, so the PDF's named destinations say exactly which
// page each exhibit starts on. The index is then printed again with those page numbers, and every page's footer
// says which exhibit it belongs to ("Exhibit 4, page 2 of 3") so a reviewer can cite it; manifest.json records
// the same pages. A lab template without the index links is printed exhibit by exhibit instead.
import fs from 'node:fs';
import path from 'node:path';
import { PDFArray, PDFDict, PDFDocument, PDFName, PDFRef } from 'pdf-lib';
import type { Browser } from 'puppeteer';
import { makeWorkDir } from '../workdir.js';
import { addOutline, footerFont, launchBrowser, printChunk, setDocumentInfo, stampFooters } from './pdf.js';
import { renderExhibitsHtml, type Exhibit, type ExhibitsModel } from './exhibits.js';
import type { Templates } from './html.js';

export interface ExhibitPages {
  number: number;
  eventId: number;
  /** 1-based page of the PDF the exhibit starts on, and how many pages it has. */
  firstPage: number;
  pages: number;
}

export interface ExhibitsPdfResult {
  pages: number;
  /** True when printed as one document (the index links located the exhibits); false when exhibit by exhibit. */
  whole: boolean;
  coverPages: number;
  exhibits: ExhibitPages[];
  blockedRequests: string[];
}

/** The page (1-based) each exhibit starts on, from the named destinations Chromium writes for the index links. */
export function exhibitStarts(doc: PDFDocument): Map<number, number> {
  const out = new Map<number, number>();
  const dests = doc.catalog.lookup(PDFName.of('Dests'));
  if (!(dests instanceof PDFDict)) return out;
  const pageOf = new Map(doc.getPages().map((p, i) => [p.ref.toString(), i + 1]));
  for (const [key, value] of dests.entries()) {
    const m = /^\/exhibit-(\d+)$/.exec(key.toString());
    const v = doc.context.lookup(value);
    const arr = v instanceof PDFArray ? v : v instanceof PDFDict ? v.lookup(PDFName.of('D')) : null;
    const ref = arr instanceof PDFArray ? arr.get(0) : null;
    const page = ref instanceof PDFRef ? pageOf.get(ref.toString()) : undefined;
    if (m && page) out.set(Number(m[1]), page);
  }
  return out;
}

export async function writeExhibitsPdf(
  model: ExhibitsModel,
  out: string,
  o: { templates: Templates; browser?: Browser; onProgress?: (s: string) => void },
): Promise<ExhibitsPdfResult> {
  const tmp = makeWorkDir('ios-timeline-exhibits-');
  const browser = o.browser ?? (await launchBrowser());
  const blockedRequests: string[] = [];
  let n = 0;
  const print = async (showCover: boolean, exhibits: Exhibit[], pages?: Record<number, number | string>): Promise<PDFDocument> => {
    const file = path.join(tmp, `part-${n++}.html`);
    fs.writeFileSync(file, renderExhibitsHtml(o.templates, model, { mode: 'print', showCover, exhibits, pages }));
    return PDFDocument.load(await printChunk(browser, file, model, blockedRequests));
  };
  // Placeholder page numbers as wide as the real ones, so the index keeps its length when they are filled in.
  const width = '9'.repeat(String(model.exhibits.length * 20 + 10).length);
  const placeholder = Object.fromEntries(model.exhibits.map((e) => [e.number, width]));
  try {
    const printed = (await printWhole(model, print, placeholder)) ?? (await printEach(model, print, placeholder, o.onProgress));
    const { doc: merged, pages } = printed;
    const font = await footerFont(merged);
    const total = merged.getPageCount();
    const exhibitOfPage = new Map<number, ExhibitPages>();
    for (const p of pages) for (let k = 0; k < p.pages; k++) exhibitOfPage.set(p.firstPage + k, p);
    stampFooters(merged, font, (i) => {
      const ex = exhibitOfPage.get(i + 1);
      return ex ? `Exhibit ${ex.number}, page ${i + 2 - ex.firstPage} of ${ex.pages}` : 'Index and hash summary';
    });
    addOutline(merged, [{ title: 'Cover, index and hash summary', page: 0 }, ...pages.map((p) => ({ title: `Exhibit ${p.number}`, page: p.firstPage - 1 }))]);
    setDocumentInfo(merged, model, ['exhibits', 'forensic timeline', 'iOS backup']);
    fs.writeFileSync(out, await merged.save());
    return { pages: total, coverPages: printed.coverPages, exhibits: pages, blockedRequests, whole: printed.whole };
  } finally {
    if (!o.browser) await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

type Print = (showCover: boolean, exhibits: Exhibit[], pages?: Record<number, number | string>) => Promise<PDFDocument>;
interface Printed {
  doc: PDFDocument;
  pages: ExhibitPages[];
  coverPages: number;
  whole: boolean;
}

function layoutFrom(model: ExhibitsModel, starts: Map<number, number>, total: number): ExhibitPages[] | null {
  const firsts = model.exhibits.map((e) => starts.get(e.number));
  if (firsts.some((f, i) => f === undefined || (i > 0 && f <= firsts[i - 1]!))) return null;
  return model.exhibits.map((e, i) => ({ number: e.number, eventId: e.eventId, firstPage: firsts[i]!, pages: (firsts[i + 1] ?? total + 1) - firsts[i]! }));
}

/**
 * The whole report as one document (each exhibit starts a page): where each exhibit starts is read from the
 * named destinations of the index links, then the index is printed again with those pages. Two prints in all.
 * Null when the destinations do not locate every exhibit (a lab template without the index links).
 */
async function printWhole(model: ExhibitsModel, print: Print, placeholder: Record<number, string>): Promise<Printed | null> {
  let doc = await print(true, model.exhibits, placeholder);
  let pages = layoutFrom(model, exhibitStarts(doc), doc.getPageCount());
  if (!pages) return null;
  for (let attempt = 0; attempt < 3 && pages.length; attempt++) {
    const firsts = Object.fromEntries(pages.map((p) => [p.number, p.firstPage]));
    doc = await print(true, model.exhibits, firsts);
    const again = layoutFrom(model, exhibitStarts(doc), doc.getPageCount());
    if (!again) return null;
    const same = again.every((p, i) => p.firstPage === pages![i].firstPage);
    pages = again;
    if (same) break;
  }
  return { doc, pages, coverPages: pages[0] ? pages[0].firstPage - 1 : doc.getPageCount(), whole: true };
}

/** Exhibit by exhibit (two at a time), merged after the cover: each page count is then known by itself. */
async function printEach(model: ExhibitsModel, print: Print, placeholder: Record<number, string>, onProgress?: (s: string) => void): Promise<Printed> {
  let cover = await print(true, [], placeholder);
  const parts: PDFDocument[] = [];
  for (let i = 0; i < model.exhibits.length; i += 2) {
    parts.push(...(await Promise.all(model.exhibits.slice(i, i + 2).map((e) => print(false, [e])))));
    onProgress?.(`PDF: ${parts.length} of ${model.exhibits.length} exhibits printed`);
  }
  const layout = (coverPages: number): ExhibitPages[] => {
    let at = coverPages + 1;
    return model.exhibits.map((e, i) => {
      const r = { number: e.number, eventId: e.eventId, firstPage: at, pages: parts[i].getPageCount() };
      at += r.pages;
      return r;
    });
  };
  // Re-print the cover with the real pages; should its length change, lay out again (it settles at once).
  let pages = layout(cover.getPageCount());
  for (let attempt = 0; attempt < 3 && model.exhibits.length; attempt++) {
    const before = cover.getPageCount();
    cover = await print(true, [], Object.fromEntries(pages.map((p) => [p.number, p.firstPage])));
    if (cover.getPageCount() === before) break;
    pages = layout(cover.getPageCount());
  }
  const doc = await PDFDocument.create();
  for (const p of await doc.copyPages(cover, cover.getPageIndices())) doc.addPage(p);
  for (const part of parts) for (const p of await doc.copyPages(part, part.getPageIndices())) doc.addPage(p);
  return { doc, pages, coverPages: cover.getPageCount(), whole: false };
}
