// The exhibit report as PDF: the cover (index and hash summary), then each exhibit printed on its own by
// Chromium, so every exhibit starts on a new page and its page count is known exactly. The index then gets
// each exhibit's first page, and every page's footer says which exhibit it belongs to ("Exhibit 4, page 2 of 3"),
// so a reviewer can cite it; manifest.json records the same pages.
import fs from 'node:fs';
import path from 'node:path';
import { PDFDocument, rgb } from 'pdf-lib';
import type { Browser } from 'puppeteer';
import { makeWorkDir } from '../workdir.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import { addOutline, footerFont, launchBrowser, printChunk } from './pdf.js';
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
  coverPages: number;
  exhibits: ExhibitPages[];
  blockedRequests: string[];
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
  try {
    // The cover is printed first with placeholder page numbers as wide as the real ones, to learn its length.
    const width = '9'.repeat(String(model.exhibits.length * 20 + 10).length);
    const placeholder = Object.fromEntries(model.exhibits.map((e) => [e.number, width]));
    let cover = await print(true, [], placeholder);
    // Exhibits print two at a time (Chromium uses the other core meanwhile).
    const parts: PDFDocument[] = [];
    for (let i = 0; i < model.exhibits.length; i += 2) {
      parts.push(...(await Promise.all(model.exhibits.slice(i, i + 2).map((e) => print(false, [e])))));
      o.onProgress?.(`PDF: ${parts.length} of ${model.exhibits.length} exhibits printed`);
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

    const merged = await PDFDocument.create();
    const outline: { title: string; page: number }[] = [{ title: 'Cover, index and hash summary', page: 0 }];
    for (const p of await merged.copyPages(cover, cover.getPageIndices())) merged.addPage(p);
    for (let i = 0; i < parts.length; i++) {
      outline.push({ title: `Exhibit ${model.exhibits[i].number}`, page: merged.getPageCount() });
      for (const p of await merged.copyPages(parts[i], parts[i].getPageIndices())) merged.addPage(p);
    }

    const font = await footerFont(merged);
    const all = merged.getPages();
    const total = all.length;
    const exhibitOfPage = new Map<number, ExhibitPages>();
    for (const p of pages) for (let k = 0; k < p.pages; k++) exhibitOfPage.set(p.firstPage + k, p);
    all.forEach((page, i) => {
      const { width: w } = page.getSize();
      const size = 8;
      const label = `Page ${i + 1} of ${total}`;
      page.drawText(label, { x: w - 34 - font.widthOfTextAtSize(label, size), y: 22, size, font, color: rgb(0.25, 0.25, 0.25) });
      page.drawText(`${TOOL_NAME} ${TOOL_VERSION}`, { x: 34, y: 22, size, font, color: rgb(0.45, 0.45, 0.45) });
      const ex = exhibitOfPage.get(i + 1);
      const mid = ex ? `Exhibit ${ex.number}, page ${i + 2 - ex.firstPage} of ${ex.pages}` : 'Index and hash summary';
      page.drawText(mid, { x: (w - font.widthOfTextAtSize(mid, size + 1)) / 2, y: 22, size: size + 1, font, color: rgb(0.12, 0.3, 0.47) });
    });
    addOutline(merged, outline);
    const caseNo = model.meta.caseNumber;
    merged.setTitle(`${model.title}${caseNo ? ` — Case ${caseNo}` : ''}`, { showInWindowTitleBar: true });
    merged.setSubject(caseNo || 'no case number');
    merged.setCreator(`${TOOL_NAME} ${TOOL_VERSION}`);
    merged.setProducer(`${TOOL_NAME} ${TOOL_VERSION} (Chromium, pdf-lib)`);
    if (model.meta.examiner) merged.setAuthor(model.meta.examiner);
    merged.setKeywords(['exhibits', 'forensic timeline', 'iOS backup', ...(caseNo ? [caseNo] : [])]);
    const now = new Date();
    merged.setCreationDate(now);
    merged.setModificationDate(now);
    fs.writeFileSync(out, await merged.save());
    return { pages: total, coverPages: cover.getPageCount(), exhibits: pages, blockedRequests };
  } finally {
    if (!o.browser) await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
