// The export on worker threads (src/report/exportParallel.ts) writes the same bytes as the golden files and as the
// single-thread path: ranges of a few events each, so every range boundary, tie and the undated tail are crossed.
// The workers run the compiled code (dist/, built by `npm test`), like the HEIC and histogram workers.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportEvents, type ExportFormat } from '../src/report/exports.js';
import { exportLinesHead } from '../src/report/exportLines.js';
import { parallelPlan } from '../src/report/exportParallel.js';
import type { EventFilter } from '../src/timeline/query.js';
import { CASE_JSON, GOLDEN_DIR, thawCase, type FrozenCase } from './golden/exportGolden.js';
import { tmpDir } from './helpers.js';

const SMALL = { threads: 2, chunkEvents: 7, minEvents: 0 };

const OUTPUTS: { name: string; format: ExportFormat; filter: EventFilter }[] = [
  { name: 'all.jsonl', format: 'jsonl', filter: {} },
  { name: 'all.csv', format: 'csv', filter: {} },
  { name: 'messages-calls-range.jsonl', format: 'jsonl', filter: { kinds: ['message', 'call'], fromUs: 1_700_000_000_000_000, toUs: 1_712_000_000_000_000 } },
];

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe('the parallel export', () => {
  const frozen = JSON.parse(fs.readFileSync(CASE_JSON, 'utf8')) as FrozenCase;
  const dir = tmpDir('iot-par-');
  const cf = thawCase(frozen, path.join(dir, 'case.db'));

  it('plans ranges in time order that cover every event once, dated then undated', () => {
    const plan = parallelPlan(cf.db, exportLinesHead(cf.db, 'jsonl')!, {}, SMALL);
    expect(plan, 'the compiled worker (dist/src/report/exportWorker.js) is missing: run npm run build').not.toBeNull();
    const total = cf.db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    const undated = cf.db.prepare('SELECT count(*) FROM events WHERE ts_utc_us IS NULL').pluck().get() as number;
    expect(undated).toBeGreaterThan(0);
    const ids: number[] = [];
    for (const t of plan!.tasks) {
      const sql = t.sql.replace(/^SELECT .* AS line FROM/s, 'SELECT e.id FROM');
      ids.push(
        ...(cf.db
          .prepare(sql)
          .pluck()
          .all(...t.params) as number[]),
      );
    }
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    // The undated events come last, after every dated one.
    const tail = ids.slice(total - undated);
    expect(
      cf.db
        .prepare(`SELECT count(*) FROM events WHERE ts_utc_us IS NULL AND id IN (${tail.join(',')})`)
        .pluck()
        .get(),
    ).toBe(undated);
    expect(plan!.tasks.length).toBeGreaterThan(total / 7 - 2);
  });

  for (const o of OUTPUTS) {
    it(`${o.name} equals its golden file`, () => {
      expect(parallelPlan(cf.db, exportLinesHead(cf.db, o.format as 'jsonl')!, o.filter, SMALL)).not.toBeNull();
      const out = path.join(dir, o.name);
      const n = exportEvents(cf.db, o.format, out, o.filter, SMALL);
      expect(n).toBeGreaterThan(10);
      expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(path.join(GOLDEN_DIR, o.name), 'utf8'));
      expect(fs.existsSync(`${out}.partial`)).toBe(false);
    });
  }

  it('a filter with a subquery (contact, keyword, tag), one core or a small case stay on one thread', () => {
    expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, { contact: '555' }, SMALL)).toBeNull();
    expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, {}, { ...SMALL, threads: 1 })).toBeNull();
    // IOS_TIMELINE_EXPORT_THREADS=1 (a busy machine) keeps it on one thread.
    const saved = process.env.IOS_TIMELINE_EXPORT_THREADS;
    process.env.IOS_TIMELINE_EXPORT_THREADS = '1';
    try {
      expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, {}, { chunkEvents: 7, minEvents: 0 })).toBeNull();
      process.env.IOS_TIMELINE_EXPORT_THREADS = '2';
      expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, {}, { chunkEvents: 7, minEvents: 0 })?.threads).toBe(2);
    } finally {
      if (saved === undefined) delete process.env.IOS_TIMELINE_EXPORT_THREADS;
      else process.env.IOS_TIMELINE_EXPORT_THREADS = saved;
    }
    // A case this small is not worth a worker's start.
    expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, {}, { threads: 2 })).toBeNull();
  });
});

describe('the parallel export at the edges', () => {
  /** Runs of equal times longer than a range, text and REAL times, big ids, no time: the same bytes either way. */
  function edgeCase(): ReturnType<typeof thawCase> {
    const frozen: FrozenCase = { files: [[1, 'HomeDomain', 'a/b.db', 'ab'.repeat(32), 'ok']], threads: [[1, 'messages', '+1555', 'Ann', 'SMS', 0]], events: [] };
    const times: unknown[] = [];
    for (let i = 0; i < 40; i++) times.push(1_700_000_000_000_000); // one time for 40 events: a tie across ranges
    for (let i = 0; i < 60; i++) times.push(1_600_000_000_000_000 + i * 1_500_001);
    times.push(2 ** 53 + 2, -5, 0, 1e15 + 0.5, 'not a time', null, null, null);
    times.forEach((ts, i) => {
      const row = Array(25).fill(null);
      row[0] = i % 3 === 0 ? 9_000_000_000_000_000 - i : i + 1;
      row[1] = ts;
      row[4] = i % 2 ? 'message' : 'call';
      row[5] = i % 2 ? 'received' : 'missed';
      // One line longer than a worker's 4 MiB piece: it travels on its own.
      row[7] = i === 50 ? 'é'.repeat(2_500_000) : `body ${i}, "quoted"`;
      row[20] = 'edge';
      row[11] = i % 4 ? 1 : null;
      row[17] = 1;
      row[22] = i % 5 === 0 ? 1 : 0;
      frozen.events.push(row);
    });
    return thawCase(frozen, path.join(tmpDir('iot-par-edge-'), 'case.db'));
  }

  it('JSONL and CSV equal the single-thread export byte for byte', () => {
    const cf = edgeCase();
    const dir = tmpDir('iot-par-edge-out-');
    for (const format of ['jsonl', 'csv'] as const) {
      const one = path.join(dir, `one.${format}`);
      const par = path.join(dir, `par.${format}`);
      expect(exportEvents(cf.db, format, one, {}, { threads: 1 })).toBe(108);
      for (const chunkEvents of [1, 5, 39, 41]) {
        expect(parallelPlan(cf.db, exportLinesHead(cf.db, format)!, {}, { threads: 2, chunkEvents, minEvents: 0 })).not.toBeNull();
        expect(exportEvents(cf.db, format, par, {}, { threads: 2, chunkEvents, minEvents: 0 })).toBe(108);
        expect(sha(par)).toBe(sha(one));
      }
    }
    const text = fs.readFileSync(path.join(dir, 'one.jsonl'), 'utf8').trimEnd().split('\n');
    expect(JSON.parse(text[0]).timestamp).toBe(-5);
    expect(JSON.parse(text.at(-4)!).timestamp).toBe('not a time');
    expect(JSON.parse(text.at(-1)!).timestamp).toBeNull();
    // The workers' connections are closed when the export returns: the case can switch its journal mode at once.
    expect(() => cf.close()).not.toThrow();
  });

  it('a BLOB where text belongs: the workers give way to the object writer, which still writes every line', () => {
    const cf = edgeCase();
    cf.db.prepare('UPDATE events SET body = ? WHERE id = 2').run(Buffer.from([1, 2, 3]));
    const out = path.join(tmpDir('iot-par-blob-'), 'x.jsonl');
    expect(exportEvents(cf.db, 'jsonl', out, {}, { threads: 2, chunkEvents: 5, minEvents: 0 })).toBe(108);
    expect(fs.readFileSync(out, 'utf8')).toContain('"text":{"type":"Buffer","data":[1,2,3]}');
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
    cf.close();
  });

  it('workers that cannot open the case give way to the calling thread, which writes the same bytes', () => {
    const cf = edgeCase();
    const dir = tmpDir('iot-par-gone-');
    const one = path.join(dir, 'one.csv');
    exportEvents(cf.db, 'csv', one, {}, { threads: 1 });
    // The case file's name is gone (this connection keeps it open): a worker's read-only open fails.
    for (const f of fs.readdirSync(path.dirname(cf.db.name))) fs.rmSync(path.join(path.dirname(cf.db.name), f));
    expect(parallelPlan(cf.db, exportLinesHead(cf.db, 'csv')!, {}, { threads: 2, chunkEvents: 5, minEvents: 0 })).not.toBeNull();
    const par = path.join(dir, 'par.csv');
    expect(exportEvents(cf.db, 'csv', par, {}, { threads: 2, chunkEvents: 5, minEvents: 0 })).toBe(108);
    expect(sha(par)).toBe(sha(one));
    cf.db.close();
  });
});
