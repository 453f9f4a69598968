// Recovery through the whole pipeline: deleted messages and calls come out as events flagged recovered, with
// their text, time, source and confidence, never duplicated as live rows; exports and reports say so; the real
// third-party files give no deleted messages or calls; --no-recover skips it; the evidence stays byte-identical.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildDeletionsBackup } from '../fixtures/recovery/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { exportEvents } from '../src/report/exports.js';
import { cli, tmpDir, treeHash, REALDATA, HAVE_REALDATA, REALDATA_SKIP_REASON, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';

type Ev = {
  id: number;
  kind: string;
  action: string;
  body: string | null;
  ts_utc_us: number | null;
  recovered: number;
  recovered_from: string | null;
  confidence: string | null;
  source_table: string;
  source_rowid: number | null;
  extractor: string;
  extra_json: string | null;
};

function events(casePath: string, where = '1'): Ev[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id`).all() as Ev[];
  } finally {
    db.close();
  }
}

/** A backup holding a WAL-mode sms.db with deletions still in the WAL, and a rollback CallHistory with freed cells. */
function deletionsBackup() {
  return buildDeletionsBackup({ work: tmpDir('iot-recov-'), root: path.join(tmpDir(), 'backup'), smsRows: 120, calls: 30 });
}

describe('recovery through the pipeline', () => {
  const t = deletionsBackup();
  const before = treeHash(t.root);
  const casePath = path.join(tmpDir(), 'case.db');
  const ingested = ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });

  it('brings back every deleted message whose bytes survive, with its text and time, flagged and never live', async () => {
    await ingested;
    const rec = events(casePath, "extractor = 'recovery' AND kind = 'message' AND action = 'deleted' AND source_table = 'message'");
    expect(rec.length).toBeGreaterThan(0);
    for (const e of rec) expect([e.recovered, e.recovered_from !== null, e.confidence !== null]).toEqual([1, true, true]);
    const byText = new Map(rec.map((e) => [e.body, e]));
    // Every deleted row (including those inserted and deleted inside the WAL) that recovery can find comes back
    // with its exact text; in WAL mode the bytes of every one of them survive.
    const truth = [...t.sms.deleted, ...t.sms.walOnlyDeleted];
    const found = truth.filter((m) => byText.has(m.text));
    expect(found.length).toBe(truth.length);
    for (const m of found) {
      const e = byText.get(m.text)!;
      expect(e.source_rowid).toBe(m.rowid);
      expect(['wal-frame', 'superseded-page']).toContain(e.recovered_from);
      expect(e.confidence).toBe('high');
    }
    // No live message comes back as deleted.
    const live = new Set(t.sms.live.map((m) => m.rowid));
    expect(rec.filter((e) => e.source_rowid !== null && live.has(e.source_rowid))).toEqual([]);
    // Live messages are still exactly the live rows, unflagged.
    const liveEvents = events(casePath, "extractor = 'messages' AND source_table = 'message' AND action IN ('sent','received')");
    expect(liveEvents.length).toBe(t.sms.live.length);
    expect(liveEvents.every((e) => e.recovered === 0 && e.recovered_from === null)).toBe(true);
  });

  it('keeps the text a message had before it was edited, as an earlier version of the live row', async () => {
    await ingested;
    const older = events(casePath, "extractor = 'recovery' AND kind = 'message' AND action = 'earlier-version'");
    for (const ed of t.sms.edited)
      expect(
        older.some((e) => e.source_rowid === ed.rowid && e.body === ed.oldText),
        `rowid ${ed.rowid}`,
      ).toBe(true);
  });

  it('brings back deleted calls from freed cells of a rollback database, and counts the gaps', async () => {
    await ingested;
    const rec = events(casePath, "extractor = 'recovery' AND kind = 'call' AND action = 'deleted'");
    expect(rec.map((e) => e.source_rowid).sort((a, b) => a! - b!)).toEqual(t.calls.deleted.map((c) => c.pk).sort((a, b) => a - b));
    expect(rec.every((e) => e.recovered_from === 'freeblock' || e.recovered_from === 'unallocated' || e.recovered_from === 'freelist')).toBe(true);
    const gaps = events(casePath, "action = 'records-missing' AND kind = 'call'");
    expect(gaps.every((g) => g.recovered === 1 && g.recovered_from === 'rowid-gap')).toBe(true);
  });

  it('exports say recovered, from where and how sure, on every line', async () => {
    await ingested;
    const db = new Database(casePath, { readonly: true });
    const out = path.join(tmpDir(), 'x.jsonl');
    exportEvents(db, 'jsonl', out);
    db.close();
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => typeof l.recovered === 'boolean')).toBe(true);
    const rec = lines.filter((l) => l.recovered === true);
    expect(rec.length).toBe(events(casePath, 'recovered = 1').length);
    expect(rec.every((l) => typeof l.recovered_from === 'string' && ['high', 'medium', 'low'].includes(l.confidence as string))).toBe(true);
    expect(lines.filter((l) => l.recovered === false).every((l) => l.recovered_from === null && l.confidence === null)).toBe(true);
  });

  it('records what was examined per database, and leaves the evidence byte-identical', async () => {
    await ingested;
    const db = new Database(casePath, { readonly: true });
    const runs = db.prepare('SELECT database, records, stats_json FROM recovery_runs ORDER BY id').all() as { database: string; records: number; stats_json: string }[];
    db.close();
    expect(runs.map((r) => r.database)).toEqual(['HomeDomain/Library/CallHistoryDB/CallHistory.storedata', 'HomeDomain/Library/SMS/sms.db']);
    expect(JSON.parse(runs[1]!.stats_json).walFrames).toBeGreaterThan(0);
    expect(treeHash(t.root)).toEqual(before);
  });

  it('the report flags every recovered event and says what was examined', async () => {
    await ingested;
    const out = tmpDir();
    const r = await cli(['report', '--case', casePath, '--out', out, '--format', 'html']);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<section id="recovered"');
    expect(html).toMatch(/2 databases examined: \d[\d,]* freeblocks? \(/);
    const rows = JSON.parse(/<script type="application\/json" id="d-events">([\s\S]*?)<\/script>/.exec(html)![1]!) as unknown[][];
    const flagged = rows.filter((x) => x[19] !== null);
    expect(flagged.length).toBe(events(casePath, 'recovered = 1').length);
    expect(flagged.every((x) => Array.isArray(x[19]) && ['high', 'medium', 'low'].includes((x[19] as string[])[1]!))).toBe(true);
    expect(rows.filter((x) => x[19] === null).length).toBe(events(casePath, 'recovered = 0').length);
  });

  it('--no-recover writes no recovered event', async () => {
    const c = path.join(tmpDir(), 'norec.db');
    expect((await cli(['ingest', t.root, '--case', c, '--no-recover', '-q'])).code).toBe(0);
    expect(events(c, 'recovered = 1')).toEqual([]);
  });
});

describe.skipIf(!HAVE_REALDATA)('real third-party files: no live row comes back as deleted', () => {
  it(HAVE_REALDATA ? 'hickman sms.db and CallHistory (with their WALs): zero deleted messages or calls' : REALDATA_SKIP_REASON, async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      ...withSiblings('HomeDomain', 'Library/SMS/sms.db', path.join(REALDATA, 'hickman-ios14/sms/sms.db')),
      ...withSiblings('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', path.join(REALDATA, 'hickman-ios14/calls/CallHistory.storedata')),
    ]);
    const c = path.join(tmpDir(), 'real.db');
    await ingest({ backupDir: root, casePath: c, tz: 'UTC', region: 'US' });
    expect(events(c, "extractor = 'recovery' AND action = 'deleted' AND source_table IN ('message', 'ZCALLRECORD')")).toEqual([]);
    // The live rows are all there, unflagged: 106 messages and 25 calls (the realdata README).
    expect(
      events(
        c,
        "extractor = 'messages' AND source_table = 'message' AND action IN ('sent','received','reaction','reaction-removed','group-event','location-sharing','audio-kept','shareplay','system-event')",
      ).length,
    ).toBe(106);
    expect(events(c, "extractor = 'calls'").length).toBe(25);
  });
});
