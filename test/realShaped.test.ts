// The real-shaped bench fixture (fixtures/realShaped.ts): hickman's real sms.db, CallHistory and Photos.sqlite
// replicated n times. Ingesting it must give exactly n times what the real files give, kind by kind and
// action by action, with every message row accounted for — so the bench measures real rows, faithfully.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpDir, treeHash, REALDATA, HAVE_REALDATA, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import { buildRealShapedBackup, hickmanFiles } from '../fixtures/realShaped.js';
import { ingest } from '../src/pipeline/ingest.js';
import { messagesStats } from '../src/extractors/artifacts/messages.js';

const ONLY = ['contacts', 'messages', 'calls', 'photos'];
const opened: Database.Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

async function ingestCase(root: string, only = ONLY): Promise<Database.Database> {
  const casePath = path.join(tmpDir(), 'case.db');
  await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only });
  const db = new Database(casePath, { readonly: true });
  opened.push(db);
  return db;
}

/** Events per extractor, kind and action. */
function counts(db: Database.Database): Map<string, number> {
  const rows = db.prepare('SELECT extractor, kind, action, count(*) AS n FROM events GROUP BY 1, 2, 3').all() as { extractor: string; kind: string; action: string; n: number }[];
  return new Map(rows.map((r) => [`${r.extractor}/${r.kind}/${r.action}`, r.n]));
}

describe.skipIf(!HAVE_REALDATA)('real-shaped fixture (hickman rows replicated)', () => {
  it('holds n copies of every real row, and ingests to n times the events of the real files', async () => {
    const f = hickmanFiles(REALDATA);
    const realBefore = treeHash(path.join(REALDATA, 'hickman-ios14'));
    const root = path.join(tmpDir(), 'grown');
    const truth = buildRealShapedBackup(REALDATA, root, tmpDir(), { messages: 500, calls: 60, photos: 300 });
    // 106 real messages, 25 calls, 131 assets (README of the real data, WAL included): whole replicas.
    expect(truth.replicas).toEqual({ sms: 5, calls: 3, photos: 3 });
    expect(truth.rows['sms.message']).toBe(530);
    expect(truth.rows['calls.ZCALLRECORD']).toBe(75);
    expect(truth.rows['photos.ZASSET']).toBe(393);
    // Conversations and people are shared by the replicas, as on a phone that kept its contacts.
    expect(truth.rows['sms.handle']).toBe(36);
    expect(truth.rows['sms.chat']).toBe(36);

    const real = path.join(tmpDir(), 'real');
    wrapRealFiles(real, [
      ...withSiblings('HomeDomain', 'Library/SMS/sms.db', f.sms),
      ...withSiblings('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', f.calls),
      ...withSiblings('CameraRollDomain', 'Media/PhotoData/Photos.sqlite', f.photos),
      ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', f.contacts),
    ]);
    const oneDb = await ingestCase(real);
    const one = counts(oneDb);
    const grown = await ingestCase(root);
    expect(messagesStats.bulkRows + messagesStats.rowByRowRows).toBe(530);
    const many = counts(grown);
    const factor: Record<string, number> = { messages: 5, calls: 3, photos: 3, contacts: 1 };
    for (const [key, n] of one) {
      const ex = key.split('/')[0];
      if (!(ex in factor)) continue;
      expect([key, many.get(key)]).toEqual([key, n * factor[ex]]);
    }
    expect([...many.keys()].filter((k) => k.split('/')[0] in factor).sort()).toEqual([...one.keys()].filter((k) => k.split('/')[0] in factor).sort());
    // The replicas are new rows: distinct GUIDs, dates one hour apart per replica.
    const guids = grown
      .prepare("SELECT count(DISTINCT json_extract(extra_json, '$.guid')) FROM events WHERE extractor = 'messages' AND action IN ('sent', 'received')")
      .pluck()
      .get();
    expect(guids).toBe(one.get('messages/message/sent')! * 5 + one.get('messages/message/received')! * 5);
    const r77 = grown
      .prepare("SELECT ts_utc_us FROM events WHERE extractor = 'messages' AND source_rowid IN (77, 77 + 110) AND action = 'received' ORDER BY source_rowid")
      .pluck()
      .all() as number[];
    expect(r77).toEqual([1584839459367563, 1584839459367563 - 3_600_000_000]);
    // Attachment files the backup lacks: the real files name each one; five replicas name the first 50 and one
    // more warning counts all of them.
    const named = (db: Database.Database) =>
      db.prepare("SELECT count(*) FROM warnings WHERE extractor = 'messages' AND message LIKE '%is not in this backup (recorded as missing)'").pluck().get() as number;
    const perReplica = named(oneDb);
    expect(perReplica).toBeGreaterThan(10);
    expect(named(grown)).toBe(50);
    expect(grown.prepare("SELECT message FROM warnings WHERE extractor = 'messages' AND message LIKE '% attachment files are not in this backup%'").pluck().all()).toEqual([
      `${perReplica * 5} attachment files are not in this backup; the first 50 are named in their own warnings, and every one is a files row with status 'missing'`,
    ]);
    // The real files were only read.
    expect(treeHash(path.join(REALDATA, 'hickman-ios14'))).toEqual(realBefore);
  });

  it('names the first 50 attachment rows of each problem and counts the rest in one warning', async () => {
    // 18 replicas: 3 attachment rows per replica name a path outside the attachment folders, 12 a file the
    // backup lacks (the real files give 3 and 12: checked here, not assumed).
    const real = path.join(tmpDir(), 'real');
    const f = hickmanFiles(REALDATA);
    wrapRealFiles(real, [...withSiblings('HomeDomain', 'Library/SMS/sms.db', f.sms), ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', f.contacts)]);
    const one = await ingestCase(real, ['contacts', 'messages']);
    const unlocated = (db: Database.Database) =>
      db.prepare("SELECT count(*) FROM warnings WHERE extractor = 'messages' AND message LIKE 'attachment ROWID %; not looked up in the backup'").pluck().get() as number;
    const absent = (db: Database.Database) =>
      db.prepare("SELECT count(*) FROM warnings WHERE extractor = 'messages' AND message LIKE '%is not in this backup (recorded as missing)'").pluck().get() as number;
    expect([unlocated(one), absent(one)]).toEqual([3, 12]);
    const root = path.join(tmpDir(), 'grown');
    buildRealShapedBackup(REALDATA, root, tmpDir(), { messages: 106 * 18, calls: 25, photos: 131 });
    const grown = await ingestCase(root, ['contacts', 'messages']);
    expect([unlocated(grown), absent(grown)]).toEqual([50, 50]);
    const summaries = grown.prepare("SELECT message FROM warnings WHERE extractor = 'messages' AND message LIKE '% attachment %the first 50 are named%'").pluck().all();
    expect(summaries).toEqual([
      '54 attachment rows name no file this backup can hold (no path, or a path outside the attachment folders); the first 50 are named in their own warnings, and every one is recorded with its reason',
      "216 attachment files are not in this backup; the first 50 are named in their own warnings, and every one is a files row with status 'missing'",
    ]);
    // Every attachment row is still recorded.
    expect(grown.prepare('SELECT count(*) FROM attachments').pluck().get()).toBe((one.prepare('SELECT count(*) FROM attachments').pluck().get() as number) * 18);
  });
});
