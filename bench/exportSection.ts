// Export and report speed on a large case (issue 19, parts 4 and 5), beside the floor measured in the same run:
// the sqlite3 CLI writing the same events in export order with json_object. Wall times on a shared machine move
// with its load (printed), so every phase also gives its CPU seconds. Each phase runs in its own child process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSyntheticCase } from './reportCase.js';
import { jsonObjectExportFloor, peakRssMb, type BenchRow, type BenchSection } from './types.js';
import { descendantsRssMb } from './report.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { exportEvents, toExportRecord, threadNames } from '../src/report/exports.js';
import { iterateEvents } from '../src/timeline/query.js';
import { BufferedWriter } from '../src/report/bufferedWriter.js';
import { buildReportModel } from '../src/report/viewModel.js';
import { loadTemplates, writeReportHtml } from '../src/report/html.js';
import { launchBrowser, guardPage, resolveChromium, writeReportPdf } from '../src/report/pdf.js';

/** jsonl-one: the SQL lines on the calling thread only (the export of a small case); jsonl, csv: on worker threads. */
type Phase = 'jsonl' | 'jsonl-one' | 'csv' | 'jsonl-objects' | 'html' | 'pdf';
interface PhaseResult {
  seconds: number;
  cpuS: number;
  rssMb: number;
  n: number;
  files?: string[];
  pages?: number;
}

/** The export as it was before exportLines.ts: one object per row, JSON.stringify (the "before" column). */
function exportWithObjects(casePath: string, out: string): number {
  const cf = CaseFile.open(casePath, { readonly: true });
  const names = threadNames(cf.db);
  const fd = fs.openSync(out, 'w');
  const w = new BufferedWriter(fd);
  let n = 0;
  for (const e of iterateEvents(cf.db, {})) {
    w.write(JSON.stringify(toExportRecord(e, names)) + '\n');
    n++;
  }
  w.flush();
  fs.closeSync(fd);
  cf.close();
  return n;
}

async function runPhase(phase: Phase, casePath: string, out: string): Promise<PhaseResult> {
  const t = performance.now();
  const c = process.cpuUsage();
  let n = 0;
  let files: string[] | undefined;
  let pages: number | undefined;
  if (phase === 'jsonl-objects') n = exportWithObjects(casePath, out);
  else {
    const cf = CaseFile.open(casePath, { readonly: true });
    if (phase === 'jsonl' || phase === 'csv') n = exportEvents(cf.db, phase, out);
    else if (phase === 'jsonl-one') n = exportEvents(cf.db, 'jsonl', out, {}, { threads: 1 });
    else {
      const tz = 'America/New_York';
      const model = buildReportModel(cf, { tz, filter: {} });
      n = model.counts.events;
      if (phase === 'html') files = writeReportHtml(cf, model, out, { tz, filter: {}, templates: loadTemplates() }).files;
      else pages = (await writeReportPdf(cf, model, out, { tz, filter: {}, templates: loadTemplates() })).pages;
    }
    cf.close();
  }
  const u = process.cpuUsage(c);
  return { seconds: (performance.now() - t) / 1000, cpuS: (u.user + u.system) / 1e6, rssMb: peakRssMb(), n, files, pages };
}

function child(phase: Phase, casePath: string, out: string): PhaseResult {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), '--export-child', phase, casePath, out], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${phase} child failed with ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PhaseResult;
}

/** Chromium opening one page: time to load and to data-ready, JS heap, and the memory of all its processes. */
async function openInChromium(file: string): Promise<{ loadS: number; readyS: number; heapMb: number; chromiumMb: number }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const url = `file://${file}`;
    await guardPage(page, url);
    const t = performance.now();
    await page.goto(url, { waitUntil: 'load', timeout: 300_000 });
    const loadS = (performance.now() - t) / 1000;
    await page.waitForSelector('html[data-ready]', { timeout: 300_000 });
    const readyS = (performance.now() - t) / 1000;
    const m = await page.metrics();
    return { loadS, readyS, heapMb: (m.JSHeapUsedSize ?? 0) / 1e6, chromiumMb: descendantsRssMb() };
  } finally {
    await browser.close();
  }
}

const load = () => os.loadavg()[0].toFixed(1);

export const exportBench: BenchSection = {
  id: 'exports',
  title: 'Exports and reports of a large case (JSONL, CSV, split HTML, PDF 50k) beside the sqlite3 json_object floor',
  async run({ scale, tmp }) {
    const rows: BenchRow[] = [];
    const n = Math.round(500_000 * scale);
    const big = path.join(tmp, 'big.db');
    const t = performance.now();
    const truth = buildSyntheticCase(big, { events: n, days: Math.max(30, Math.round(n / 1500)) });
    process.stderr.write(`   built synthetic case: ${truth.events} events in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
    const events = truth.events.toLocaleString('en-US');
    const floor = jsonObjectExportFloor(big, path.join(tmp, 'floor.jsonl'));
    rows.push({ area: 'exports', metric: `floor: sqlite3 json_object, ${events} events`, value: floor.seconds, unit: 's', note: `${floor.cpuS.toFixed(1)} s CPU; load ${load()}` });
    const threads = Math.min(4, os.availableParallelism());
    for (const phase of ['jsonl-objects', 'jsonl-one', 'jsonl', 'csv'] as const) {
      const out = path.join(tmp, `export.${phase}`);
      const r = child(phase, big, out);
      const mb = fs.statSync(out).size / 1e6;
      rows.push({
        area: 'exports',
        metric:
          phase === 'jsonl-objects'
            ? 'JSONL export, objects (before)'
            : phase === 'jsonl-one'
              ? 'JSONL export, SQL lines on one thread'
              : `${phase.toUpperCase()} export, ${threads} worker threads`,
        value: r.seconds,
        unit: 's',
        note: `${r.cpuS.toFixed(1)} s CPU (${(r.cpuS / floor.cpuS).toFixed(1)}× floor CPU), ${mb.toFixed(0)} MB, peak RSS ${r.rssMb.toFixed(0)} MB; load ${load()}`,
      });
      fs.rmSync(out, { force: true });
    }
    const htmlDir = path.join(tmp, 'html');
    fs.mkdirSync(htmlDir);
    const h = child('html', big, path.join(htmlDir, 'report.html'));
    const files = h.files ?? [];
    const sizes = files.map((f) => fs.statSync(f).size);
    rows.push({
      area: 'exports',
      metric: `HTML report (split), ${events} events`,
      value: h.seconds,
      unit: 's',
      note: `${h.cpuS.toFixed(1)} s CPU, ${files.length} pages, largest ${(Math.max(...sizes) / 1e6).toFixed(1)} MB, peak RSS ${h.rssMb.toFixed(0)} MB; load ${load()}`,
    });
    if (!(await resolveChromium())) {
      rows.push({ area: 'exports', metric: 'Chromium / PDF', value: 0, unit: '-', note: 'skipped: no Chromium found' });
      return rows;
    }
    // The index and the largest page: the two a reader opens that cost most.
    const largest = files[sizes.indexOf(Math.max(...sizes.slice(1)))] ?? files[0];
    for (const [label, f] of [
      ['index page', files[0]],
      ['largest period page', largest],
    ] as const) {
      const c = await openInChromium(f);
      rows.push({
        area: 'exports',
        metric: `Chromium: ${label} ready (${path.basename(f)})`,
        value: c.readyS,
        unit: 's',
        note: `load ${c.loadS.toFixed(2)} s, JS heap ${c.heapMb.toFixed(0)} MB, Chromium PSS ${c.chromiumMb.toFixed(0)} MB; target < 2 s, < 1 GB`,
      });
    }
    const pdfCase = path.join(tmp, 'pdf50k.db');
    buildSyntheticCase(pdfCase, { events: Math.round(50_000 * scale), days: 60 });
    const p = child('pdf', pdfCase, path.join(tmp, 'report.pdf'));
    rows.push({
      area: 'exports',
      metric: `PDF, ${p.n.toLocaleString('en-US')} events`,
      value: p.seconds,
      unit: 's',
      note: `${p.cpuS.toFixed(1)} s CPU (node only), ${p.pages} pages, peak RSS ${p.rssMb.toFixed(0)} MB; target < 40 s; load ${load()}`,
    });
    return rows;
  },
};

// Child mode: node dist/bench/exportSection.js --export-child PHASE CASE OUT
if (process.argv[2] === '--export-child') {
  runPhase(process.argv[3] as Phase, process.argv[4], process.argv[5])
    .then((r) => process.stdout.write(JSON.stringify(r) + '\n'))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
