// Exports stay byte-identical: the JSONL and CSV of a rich frozen case (test/golden/exportGolden.ts), whole and
// filtered, and the report's event rows, against golden files written by the export code before it read SQL rows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDeletionsBackup } from '../fixtures/recovery/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { csvCell, EXPORT_FIELDS, exportEvents, threadNames, toExportRecord, type ExportFormat } from '../src/report/exports.js';
import { eventRows, threadRows } from '../src/report/viewModel.js';
import { iterateEvents, type EventFilter } from '../src/timeline/query.js';
import { exportLinesSql } from '../src/report/exportLines.js';
import { CASE_JSON, GOLDEN_DIR, edgeEvents, freezeCases, thawCase, type FrozenCase } from './golden/exportGolden.js';
import { REPO, tmpDir } from './helpers.js';

const WRITE = process.env.WRITE_GOLDEN === '1';

/** A WAL-mode sms.db with deletions still in the WAL and a CallHistory with freed cells: recovered events. */
function deletionsBackup(): string {
  return buildDeletionsBackup({ work: tmpDir('iot-golden-'), root: path.join(tmpDir(), 'backup'), smsRows: 60, calls: 20 }).root;
}

async function freezeSources(): Promise<FrozenCase> {
  const d = tmpDir('iot-golden-case-');
  const a = path.join(d, 'sample.db');
  const b = path.join(d, 'deletions.db');
  await ingest({ backupDir: path.join(REPO, 'fixtures/sample-backup'), casePath: a, tz: 'America/New_York', region: 'US' });
  await ingest({ backupDir: deletionsBackup(), casePath: b, tz: 'UTC', region: 'US' });
  return freezeCases([a, b], edgeEvents());
}

/** Every output the golden files hold: name → bytes. */
const OUTPUTS: { name: string; format: ExportFormat; filter: EventFilter }[] = [
  { name: 'all.jsonl', format: 'jsonl', filter: {} },
  { name: 'all.csv', format: 'csv', filter: {} },
  { name: 'messages-calls-range.jsonl', format: 'jsonl', filter: { kinds: ['message', 'call'], fromUs: 1_700_000_000_000_000, toUs: 1_712_000_000_000_000 } },
  { name: 'contact.csv', format: 'csv', filter: { contact: '555' } },
];

describe('exports are byte-identical to the golden files', async () => {
  let frozen: FrozenCase;
  // The frozen case is made once; WRITE_GOLDEN=1 rewrites the golden outputs from the object-based writer.
  if (WRITE && !fs.existsSync(CASE_JSON)) {
    frozen = await freezeSources();
    fs.writeFileSync(CASE_JSON, `${JSON.stringify(frozen, null, 0).replace(/\],\[/g, '],\n[')}\n`);
  } else frozen = JSON.parse(fs.readFileSync(CASE_JSON, 'utf8')) as FrozenCase;
  const dir = tmpDir('iot-golden-out-');
  const cf = thawCase(frozen, path.join(dir, 'case.db'));

  it('holds the rich case it claims: edits, replies, reactions, recovered rows, calls, photos, locations, other kinds', () => {
    const kinds = new Set((frozen.events as unknown[][]).map((e) => e[4]));
    for (const k of ['message', 'call', 'photo', 'location']) expect(kinds.has(k)).toBe(true);
    expect(kinds.size).toBeGreaterThan(6);
    const extras = (frozen.events as unknown[][]).map((e) => String(e[21] ?? ''));
    for (const key of ['edit_history', 'reply_to_event_id', 'reacted_to_event_id', 'recently_deleted', 'unsent']) expect(extras.some((x) => x.includes(`"${key}"`))).toBe(true);
    expect((frozen.events as unknown[][]).filter((e) => e[22] === 1).length).toBeGreaterThan(5);
  });

  it('writes them with SQL lines, not the object fallback (every export field has its SQL)', () => {
    expect(exportLinesSql(cf.db, 'jsonl', {})).not.toBeNull();
    expect(exportLinesSql(cf.db, 'csv', {})).not.toBeNull();
  });

  for (const o of OUTPUTS) {
    it(`${o.name}`, () => {
      const out = path.join(dir, o.name);
      const n = exportEvents(cf.db, o.format, out, o.filter);
      expect(n).toBeGreaterThan(10);
      const golden = path.join(GOLDEN_DIR, o.name);
      if (WRITE) fs.writeFileSync(golden, objectLines(cf, o.format as 'jsonl' | 'csv', o.filter));
      // Text first, for a readable diff; then the bytes.
      expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync(golden, 'utf8'));
      expect(fs.readFileSync(out).equals(fs.readFileSync(golden))).toBe(true);
    });
  }

  it('the report rows of events and threads', () => {
    const lines: string[] = [];
    for (const r of eventRows(cf.db, {}, 'America/New_York')) lines.push(JSON.stringify(r));
    for (const r of eventRows(cf.db, {}, 'Asia/Kolkata', { threadOrder: true })) lines.push(JSON.stringify(r));
    for (const r of threadRows(cf.db, {})) lines.push(JSON.stringify(r));
    const golden = path.join(GOLDEN_DIR, 'report-rows.jsonl');
    if (WRITE) fs.writeFileSync(golden, `${lines.join('\n')}\n`);
    expect(`${lines.join('\n')}\n`).toBe(fs.readFileSync(golden, 'utf8'));
  });
});

/** The object-based export (toExportRecord per row), the reference the SQL lines must equal. */
function objectLines(cf: ReturnType<typeof thawCase>, format: 'jsonl' | 'csv', filter: EventFilter = {}): string {
  const names = threadNames(cf.db);
  const out = format === 'csv' ? ['\ufeff' + EXPORT_FIELDS.join(',') + '\r\n'] : [];
  for (const e of iterateEvents(cf.db, filter)) {
    const r = toExportRecord(e, names);
    out.push(format === 'jsonl' ? JSON.stringify(r) + '\n' : EXPORT_FIELDS.map((f) => csvCell(r[f])).join(',') + '\r\n');
  }
  return out.join('');
}

describe('SQL-written lines equal the object-based ones on values at the edges', () => {
  it('random times, reals, big integers, control characters, BLOBs and odd types', () => {
    const frozen: FrozenCase = {
      files: [[1, 'HomeDomain', 'a/b.db', 'ab'.repeat(32), 'ok']],
      threads: [
        [1, 'messages', '+1555', '', 'SMS', 0],
        [2, 'messages', null, null, null, 1],
      ],
      events: [],
    };
    let s = 7;
    const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
    const times = [
      null,
      0,
      -1,
      1,
      999,
      -999_999,
      1_700_000_000_123_456,
      -62_135_596_800_000_000,
      -62_135_596_800_000_008,
      Date.UTC(10000, 0, 1) * 1000 - 1024,
      Date.UTC(10000, 0, 1) * 1000,
      8.64e18,
      2 ** 53 + 1,
      1.5e15 + 0.5,
    ];
    const reals = [null, 0, -0, 60, 61.5, 0.1 + 0.2, 1e-7, 5e-5, 1e21, 123456789012345.6, 1e15, 2e15, -33.8688, 52.52000001];
    const texts = [
      null,
      '',
      'plain',
      '=1+1',
      '+14015069680',
      '+1 555',
      '-x',
      '@x',
      '\tx',
      '\rx',
      'a,b',
      'a"b',
      'a\nb',
      'a\r\nb',
      'a\u0000b',
      '\u0001\u001f\u007f',
      '\u2028\u2029',
      'é👍🏽',
      '  spaced  ',
    ];
    for (let i = 1; i <= 400; i++) {
      const row = Array(25).fill(null);
      row[0] = i;
      row[1] = pick(times);
      row[2] = pick(texts);
      row[3] = pick(texts);
      row[4] = pick(['message', 'call', 'photo', 'nokind', 'note']);
      row[5] = pick(['sent', 'received', 'missed', 'odd-action', 'created']);
      row[6] = pick(texts);
      row[7] = pick(texts);
      row[8] = pick([null, 'incoming', 'outgoing']);
      row[9] = pick(texts);
      row[10] = pick(texts);
      row[11] = pick([null, 1, 2, 3]);
      row[12] = pick(texts);
      for (const c of [13, 14, 15, 16]) row[c] = pick(reals);
      row[17] = pick([null, 1, 2]);
      row[18] = pick(texts);
      row[19] = pick([null, 0, -5, 2 ** 53 - 1, 2 ** 53 + 2, 7.5]);
      row[20] = pick(['messages', 'x,y']);
      row[21] = pick([
        null,
        '{}',
        '{"edited":true}',
        '{"reply_to_event_id":3,"emoji":"👍"}',
        '{"edited": broken',
        '{"x":"edited"}',
        '{"orphan":{"reason":"no Photos.sqlite row, name \\"x\\""}}',
        '{"orphan":{"reason":5}}',
        '{"orphan": broken',
      ]);
      row[22] = pick([0, 1]);
      row[23] = pick(texts);
      row[24] = pick(texts);
      frozen.events.push(row);
    }
    const cf = thawCase(frozen, path.join(tmpDir('iot-golden-edge-'), 'case.db'));
    const dir = tmpDir('iot-golden-edge-out-');
    for (const format of ['jsonl', 'csv'] as const) {
      const out = path.join(dir, `x.${format}`);
      expect(exportEvents(cf.db, format, out)).toBe(400);
      expect(fs.readFileSync(out, 'utf8')).toBe(objectLines(cf, format));
    }
    // A BLOB where text belongs: the export starts again with objects and is still the same.
    cf.db.prepare('UPDATE events SET body = ? WHERE id = 5').run(Buffer.from([1, 2, 3]));
    const out = path.join(dir, 'blob.jsonl');
    expect(exportEvents(cf.db, 'jsonl', out)).toBe(400);
    expect(fs.readFileSync(out, 'utf8')).toBe(objectLines(cf, 'jsonl'));
    expect(fs.readFileSync(out, 'utf8')).toContain('"text":{"type":"Buffer","data":[1,2,3]}');
    cf.close();
  });
});
