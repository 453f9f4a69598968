// Report bench: HTML for 100,000 events, PDF for 10,000 and 50,000 events, and how fast Chromium paints
// the 100,000-event HTML. Each render runs in its own child process so its peak RSS is its own.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildSyntheticCase } from './reportCase.js';
import { peakRssMb, type BenchRow, type BenchSection } from './types.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { buildReportModel } from '../src/report/viewModel.js';
import { loadTemplates, writeReportHtml } from '../src/report/html.js';
import { writeReportPdf, launchBrowser, guardPage, resolveChromium } from '../src/report/pdf.js';

interface ChildResult {
  seconds: number;
  rssMb: number;
  chromiumMb: number;
  pages?: number;
}

/** Memory of this process's descendants (Chromium and its helpers), in MB: the sum of their proportional set sizes. */
export function descendantsRssMb(): number {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* process ended */
    }
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, pp] of parent)
      if (!mine.has(pid) && mine.has(pp)) {
        mine.add(pid);
        grew = true;
      }
  }
  let kb = 0;
  for (const pid of mine) {
    if (pid === process.pid) continue;
    // Pss shares each shared page among the processes using it, so the sum does not count libraries twice.
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* ended */
    }
  }
  return kb / 1024;
}

/** In the child: render one report and print time and peak RSS. */
export async function renderChild(kind: 'html' | 'pdf', casePath: string, out: string): Promise<ChildResult> {
  const t = performance.now();
  let chromiumMb = 0;
  const sampler = fs.existsSync('/proc/self/stat')
    ? setInterval(() => {
        chromiumMb = Math.max(chromiumMb, descendantsRssMb());
      }, 1000)
    : null;
  const cf = CaseFile.open(casePath, { readonly: true });
  const tz = 'America/New_York';
  const model = buildReportModel(cf, { tz, filter: {} });
  const templates = loadTemplates();
  let pages: number | undefined;
  if (kind === 'html') writeReportHtml(cf, model, out, { tz, filter: {}, templates });
  else pages = (await writeReportPdf(cf, model, out, { tz, filter: {}, templates })).pages;
  cf.close();
  if (sampler) clearInterval(sampler);
  return { seconds: (performance.now() - t) / 1000, rssMb: peakRssMb(), chromiumMb, pages };
}

function runChild(kind: 'html' | 'pdf', casePath: string, out: string): ChildResult {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), '--report-child', kind, casePath, out], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`report child (${kind}) failed with ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

/** Chromium opening the big HTML: first contentful paint and time until the first page of rows is drawn. */
async function firstPaint(file: string): Promise<{ fcpMs: number; readyMs: number }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const url = `file://${file}`;
    await guardPage(page, url);
    const t = performance.now();
    await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
    await page.waitForSelector('html[data-ready]', { timeout: 120_000 });
    const readyMs = performance.now() - t;
    const fcpMs = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    return { fcpMs, readyMs };
  } finally {
    await browser.close();
  }
}

export const report: BenchSection = {
  id: 'report',
  title: 'Case reports: HTML 100k events, PDF 10k / 50k events',
  async run({ scale, tmp }) {
    const rows: BenchRow[] = [];
    const sizes = { html: Math.round(100_000 * scale), pdf10: Math.round(10_000 * scale), pdf50: Math.round(50_000 * scale) };
    // The builder adds read receipts to some messages, so a case holds ~8 % more events than asked for.
    const cases: Record<number, { path: string; events: number }> = {};
    for (const n of new Set(Object.values(sizes))) {
      const p = path.join(tmp, `case-${n}.db`);
      const t = performance.now();
      const truth = buildSyntheticCase(p, { events: n, days: Math.max(30, Math.round(n / 300)) });
      process.stderr.write(`   built synthetic case: ${truth.events} events in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      cases[n] = { path: p, events: truth.events };
    }
    const count = (n: number) => cases[n].events.toLocaleString('en-US');
    const html = path.join(tmp, 'report.html');
    const h = runChild('html', cases[sizes.html].path, html);
    const mb = fs.statSync(html).size / 1e6;
    rows.push({ area: 'report', metric: `HTML render, ${count(sizes.html)} events`, value: h.seconds, unit: 's', note: `${mb.toFixed(1)} MB file` });
    rows.push({ area: 'report', metric: 'HTML render peak RSS', value: h.rssMb, unit: 'MB' });
    if (!(await resolveChromium())) {
      rows.push({ area: 'report', metric: 'PDF', value: 0, unit: '-', note: 'skipped: no Chromium found' });
      return rows;
    }
    const paint = await firstPaint(html);
    rows.push({ area: 'report', metric: `Chromium first contentful paint, ${count(sizes.html)}-event HTML`, value: paint.fcpMs / 1000, unit: 's', note: 'target < 3 s' });
    rows.push({ area: 'report', metric: 'Chromium: first page of rows drawn', value: paint.readyMs / 1000, unit: 's', note: 'load + JSON parse + render of 200 rows' });
    for (const [label, n] of [
      ['10k', sizes.pdf10],
      ['50k', sizes.pdf50],
    ] as const) {
      const out = path.join(tmp, `report-${label}.pdf`);
      const r = runChild('pdf', cases[n].path, out);
      rows.push({
        area: 'report',
        metric: `PDF render, ${count(n)} events`,
        value: r.seconds,
        unit: 's',
        note: `${r.pages} pages, ${(fs.statSync(out).size / 1e6).toFixed(0)} MB${label === '10k' ? '; target < 60 s' : ''}`,
      });
      rows.push({ area: 'report', metric: `PDF ${label} peak RSS, node`, value: r.rssMb, unit: 'MB' });
      rows.push({
        area: 'report',
        metric: `PDF ${label} peak memory, Chromium (sum of PSS)`,
        value: r.chromiumMb,
        unit: 'MB',
        note: 'all Chromium processes, sampled each second',
      });
    }
    return rows;
  },
};

// Child mode: node dist/bench/report.js --report-child html|pdf CASE OUT
if (process.argv[2] === '--report-child') {
  renderChild(process.argv[3] as 'html' | 'pdf', process.argv[4], process.argv[5])
    .then((r) => process.stdout.write(JSON.stringify(r) + '\n'))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
