// Review page bench: a 1,000,000-event case (made in seconds with one INSERT … SELECT from a recursive CTE into a
// case file made by CaseFile), then over HTTP: time to the first rows (server start + first page, and in Chromium
// from navigation to rows on screen) and the p95 latency of filters, searches and deep pages.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CaseFile } from '../src/timeline/caseFile.js';
import { addTag } from '../src/timeline/tags.js';
import { startReviewServer } from '../src/serve/server.js';
import { launchBrowser, resolveChromium } from '../src/report/pdf.js';
import type { BenchRow, BenchSection } from './types.js';

const WORDS = [
  'on',
  'my',
  'way',
  'see',
  'you',
  'at',
  'six',
  'call',
  'me',
  'later',
  'thanks',
  'where',
  'are',
  'running',
  'late',
  'documents',
  'dinner',
  'tomorrow',
  'meeting',
  'ok',
];
const THREADS = 500;
const DAY_US = 86_400_000_000;

/** Build the case: ~55 % messages, 20 % calls, 15 % locations, 10 % photos over two years; 120 tagged events. */
export function buildMillionCase(casePath: string, events: number): void {
  const cf = CaseFile.create(casePath);
  for (const [k, v] of Object.entries({
    case_number: 'BENCH-1M',
    examiner: 'Bench',
    time_zone: 'Europe/Berlin',
    region: 'DE',
    created_at: new Date().toISOString(),
    ingest_state: 'complete',
  }))
    cf.setMeta(k, v);
  cf.db.prepare("INSERT INTO evidence (backup_path, device_name, product_type, ios_version) VALUES ('/bench/backup', 'Bench iPhone', 'iPhone15,2', '17.4.1')").run();
  const sms = cf.recordFile({ domain: 'HomeDomain', relativePath: 'Library/SMS/sms.db', fileId: 'a'.repeat(40), sha256: 'c'.repeat(64), status: 'ok', readBy: 'messages' });
  cf.begin();
  for (let t = 1; t <= THREADS; t++) {
    const id = cf.addThread({
      extractor: 'messages',
      sourceFileId: sms,
      sourceTable: 'chat',
      sourceRowid: t,
      identifier: `+4915155${String(t).padStart(5, '0')}`,
      displayName: `Person ${t}`,
      service: 'iMessage',
      isGroup: false,
    });
    cf.addParticipant(id, `+4915155${String(t).padStart(5, '0')}`, `Person ${t}`);
  }
  cf.commit();
  cf.db.exec('CREATE TEMP TABLE w (k INTEGER PRIMARY KEY, word TEXT)');
  const ins = cf.db.prepare('INSERT INTO w VALUES (?, ?)');
  WORDS.forEach((word, k) => ins.run(k, word));
  const start = Date.UTC(2022, 0, 1) * 1000;
  const step = Math.floor((730 * DAY_US) / events);
  cf.db.exec(`
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${events - 1})
    INSERT INTO events (ts_utc_us, ts_raw, ts_epoch, kind, action, title, body, direction, counterpart, counterpart_name, thread_id, service,
                        duration_s, latitude, longitude, source_file_id, source_table, source_rowid, extractor)
    SELECT ${start} + i * ${step} + (i * 7919) % ${step}, NULL, 'unix-us',
      CASE WHEN i % 20 < 11 THEN 'message' WHEN i % 20 < 15 THEN 'call' WHEN i % 20 < 18 THEN 'location' ELSE 'photo' END,
      CASE WHEN i % 20 < 11 THEN (CASE WHEN i % 2 THEN 'sent' ELSE 'received' END) WHEN i % 20 < 15 THEN 'placed' WHEN i % 20 < 18 THEN 'seen' ELSE 'taken' END,
      CASE WHEN i % 20 < 11 THEN 'Message with Person ' || (i % ${THREADS} + 1) WHEN i % 20 < 15 THEN 'Call to Person ' || (i % ${THREADS} + 1) ELSE NULL END,
      CASE WHEN i % 20 < 11 THEN (SELECT word FROM w WHERE k = i % 20) || ' ' || (SELECT word FROM w WHERE k = (i / 20) % 20) || ' ' ||
        (SELECT word FROM w WHERE k = (i / 400) % 20) || CASE WHEN i % 10007 = 0 THEN ' collision' ELSE '' END || ' #' || i ELSE NULL END,
      CASE WHEN i % 20 < 15 THEN (CASE WHEN i % 2 THEN 'outgoing' ELSE 'incoming' END) ELSE NULL END,
      CASE WHEN i % 20 < 15 THEN '+4915155' || printf('%05d', i % ${THREADS} + 1) ELSE NULL END,
      CASE WHEN i % 20 < 15 THEN 'Person ' || (i % ${THREADS} + 1) ELSE NULL END,
      CASE WHEN i % 20 < 11 THEN i % ${THREADS} + 1 ELSE NULL END,
      CASE WHEN i % 20 < 11 THEN 'iMessage' WHEN i % 20 < 15 THEN 'Phone' ELSE NULL END,
      CASE WHEN i % 20 BETWEEN 11 AND 14 THEN i % 600 ELSE NULL END,
      CASE WHEN i % 20 >= 15 THEN 52.4 + (i % 1000) / 5000.0 ELSE NULL END,
      CASE WHEN i % 20 >= 15 THEN 13.3 + (i % 997) / 4000.0 ELSE NULL END,
      ${sms}, 'message', i + 1, CASE WHEN i % 20 < 11 THEN 'messages' WHEN i % 20 < 15 THEN 'calls' WHEN i % 20 < 18 THEN 'locations' ELSE 'photos' END
    FROM n`);
  cf.finalizeIngest();
  cf.custody({ action: 'ingest', actor: 'Bench', detail: { events } });
  addTag(cf.db, { eventIds: Array.from({ length: 120 }, (_, k) => 1 + k * Math.floor(events / 120)), tag: 'exhibit', examiner: 'Bench' });
  cf.close();
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

async function timed(url: string): Promise<{ ms: number; body: { events?: { id: number }[]; next?: string | null; total?: number } }> {
  const t = performance.now();
  const r = await fetch(url);
  const body = (await r.json()) as { events?: { id: number }[]; next?: string | null; total?: number; error?: string };
  if (!r.ok) throw new Error(`${url}: ${r.status} ${body.error}`);
  return { ms: performance.now() - t, body };
}

/** Time to first rows and filter latencies of a review server on this case (also run on its own on a kept case). */
export async function measureReviewServer(casePath: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let t = performance.now();
  const server = await startReviewServer({ casePath });
  const api = `${server.url}api/`;
  await timed(`${api}meta`);
  const first = await timed(`${api}events?order=desc&limit=200`);
  rows.push({
    area: 'serve',
    metric: 'first rows: server start + meta + first page',
    value: performance.now() - t,
    unit: 'ms',
    note: `first page alone ${first.ms.toFixed(0)} ms`,
  });

  // Filters and searches, each with a different value so no answer is a repeat; then deep pages.
  const filters: string[] = [];
  for (let k = 0; k < 4; k++) {
    filters.push(`kinds=${['call', 'photo', 'location', 'message'][k]}`, `kinds=message,call&order=asc`);
    // Persons whose (n - 1) % 20 < 15 have messages and calls; the others none (a contact that names nothing).
    filters.push(`contact=%2B4915155${String(21 + k * 100).padStart(5, '0')}`, `contact=Person%20${401 + k}`, `contact=%2B4915155${String(37 + k * 101).padStart(5, '0')}`);
    filters.push(`q=${WORDS[k + 10]}`, `q=collision`, `q=${WORDS[k]}%20${WORDS[k + 5]}&kinds=message`);
    filters.push(`from=2022-0${k + 3}-01&to=2022-0${k + 3}-07`, `from=2023-0${k + 5}-1${k}&to=2023-0${k + 5}-1${k}`, `tag=exhibit`, `tagged=1&order=asc`);
  }
  const eventsMs: number[] = [];
  const histMs: number[] = [];
  const timings: { ms: number; f: string }[] = [];
  for (const f of filters) {
    const e = await timed(`${api}events?${f}&limit=200`);
    eventsMs.push(e.ms);
    timings.push({ ms: e.ms, f: decodeURIComponent(f) });
    histMs.push((await timed(`${api}histogram?${f}`)).ms);
  }
  rows.push({
    area: 'serve',
    metric: 'filter/search first page p95',
    value: p95(eventsMs),
    unit: 'ms',
    note: `${eventsMs.length} requests; slowest: ${timings
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 3)
      .map((x) => `${x.f} ${x.ms.toFixed(0)} ms`)
      .join(', ')}`,
  });
  rows.push({ area: 'serve', metric: 'day histogram p95 (same filters, uncached)', value: p95(histMs), unit: 'ms', note: `max ${Math.max(...histMs).toFixed(0)} ms` });

  const deep: number[] = [];
  let cursor: string | null | undefined = null;
  for (let p = 0; p < 50; p++) {
    const r = await timed(`${api}events?order=desc&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    deep.push(r.ms);
    cursor = r.body.next;
  }
  rows.push({ area: 'serve', metric: 'scrolling: next page p95 (50 pages of 200, keyset)', value: p95(deep), unit: 'ms' });

  if (await resolveChromium()) {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 900 });
      t = performance.now();
      await page.goto(server.url);
      await page.waitForSelector('#rows .row');
      rows.push({ area: 'serve', metric: 'first rows in Chromium (navigation to rows on screen)', value: performance.now() - t, unit: 'ms' });
      // Scroll down 50 rows a frame until 3,000 rows are loaded: page fetches on the way, and the frame times.
      const scroll = await page.evaluate(async () => {
        const list = document.getElementById('list')!;
        const frames: number[] = [];
        const t0 = performance.now();
        let last = t0;
        while (Number(document.documentElement.dataset.rows) < 3000 && performance.now() - t0 < 60_000) {
          list.scrollTop += 50 * 26;
          await new Promise((r) => requestAnimationFrame(r));
          const now = performance.now();
          frames.push(now - last);
          last = now;
        }
        frames.sort((a, b) => a - b);
        return {
          ms: performance.now() - t0,
          frames: frames.length,
          p95: frames[Math.ceil(frames.length * 0.95) - 1],
          inDom: document.querySelectorAll('#rows .row').length,
          rows: Number(document.documentElement.dataset.rows),
        };
      });
      rows.push({
        area: 'serve',
        metric: 'Chromium: scroll to 3,000 rows, 50 rows a frame',
        value: scroll.ms,
        unit: 'ms',
        note: `${scroll.rows} rows loaded, ${scroll.frames} frames, p95 frame ${scroll.p95.toFixed(1)} ms, ${scroll.inDom} rows in the DOM`,
      });
    } finally {
      await browser.close();
    }
  }
  await server.close();
  return rows;
}

export const serveBench: BenchSection = {
  id: 'serve',
  title: 'Review page: 1,000,000-event case over HTTP',
  async run({ scale, tmp }) {
    const n = Math.max(10_000, Math.round(1_000_000 * scale));
    const casePath = path.join(tmp, 'million.db');
    const rows: BenchRow[] = [];
    const t = performance.now();
    buildMillionCase(casePath, n);
    rows.push({
      area: 'serve',
      metric: 'build the case (INSERT … SELECT, indexes, FTS)',
      value: (performance.now() - t) / 1000,
      unit: 's',
      note: `${n.toLocaleString('en-US')} events`,
    });

    rows.push(...(await measureReviewServer(casePath)));
    return rows;
  },
};
