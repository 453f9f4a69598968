// Exports stay byte-identical: the JSONL and CSV of a rich frozen case (test/golden/exportGolden.ts), whole and
// filtered, and the report's event rows, against golden files written by the export code before it read SQL rows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { buildSmsRecovery, buildCallsRecovery } from '../fixtures/recovery/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { exportEvents, type ExportFormat } from '../src/report/exports.js';
import { eventRows, threadRows } from '../src/report/viewModel.js';
import type { EventFilter } from '../src/timeline/query.js';
import { CASE_JSON, GOLDEN_DIR, edgeEvents, freezeCases, thawCase, type FrozenCase } from './golden/exportGolden.js';
import { REPO, tmpDir } from './helpers.js';

const WRITE = process.env.WRITE_GOLDEN === '1';

/** A WAL-mode sms.db with deletions still in the WAL and a CallHistory with freed cells: recovered events. */
function deletionsBackup(): string {
  const work = tmpDir('iot-golden-');
  const sms = buildSmsRecovery({ dir: work, rows: 60, journal: 'wal', deleteEvery: 7, edit: [10, 20], walInsertDelete: 3, seed: 5 });
  const callsDir = path.join(work, 'calls');
  fs.mkdirSync(callsDir);
  const calls = buildCallsRecovery({ dir: callsDir, count: 20, deletePks: [4, 9, 17], journal: 'delete', secureDelete: false, seed: 6 });
  const root = path.join(tmpDir(), 'backup');
  const w = new BackupWriter(root, {
    deviceName: 'Test',
    productType: 'iPhone12,1',
    productVersion: '14.8',
    buildVersion: '18H17',
    serialNumber: 'X',
    udid: 'a'.repeat(40),
    imei: '1',
    phoneNumber: '+1 555 0100',
    backupDate: new Date(Date.UTC(2024, 0, 1)),
  });
  w.addDatabase('HomeDomain', 'Library/SMS/sms.db', { db: fs.readFileSync(sms.dbPath), wal: sms.walPath ? fs.readFileSync(sms.walPath) : undefined });
  w.addDatabase('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', { db: fs.readFileSync(calls.dbPath) });
  w.finish();
  return root;
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
  if (WRITE) {
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

  for (const o of OUTPUTS) {
    it(`${o.name}`, () => {
      const out = path.join(dir, o.name);
      const n = exportEvents(cf.db, o.format, out, o.filter);
      expect(n).toBeGreaterThan(10);
      const golden = path.join(GOLDEN_DIR, o.name);
      if (WRITE) fs.copyFileSync(out, golden);
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
