// Recovery engine on fixtures whose ground truth is known by construction (fixtures/recovery/build.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { tmpDir } from './helpers.js';
import { buildSmsRecovery, buildCallsRecovery, type SmsRecoveryFixture, type TruthMessage } from '../fixtures/recovery/build.js';
import {
  recoverDatabase,
  messageRowidGaps,
  callRowidGaps,
  recoveredToEventFields,
  recentlyDeleted,
  deletedGuids,
  findRowidGaps,
  caseFileColumns,
  type RecoveredRecord,
  type RecoveryResult,
} from '../src/recovery/index.js';

const col = (r: RecoveredRecord, c: string) => r.values[r.columns.indexOf(c)];
const deletedMessages = (r: RecoveryResult) => r.records.filter((x) => x.table === 'message' && x.olderVersionOf === undefined);

/** Deleted rows whose text bytes are still somewhere in the evidence (db or WAL): the most any carver can return. */
function survivors(fx: SmsRecoveryFixture, rows: TruthMessage[]): TruthMessage[] {
  const bytes = [fs.readFileSync(fx.dbPath), fx.walPath ? fs.readFileSync(fx.walPath) : Buffer.alloc(0)];
  return rows.filter((m) => bytes.some((b) => b.indexOf(Buffer.from(m.text.slice(0, 40))) >= 0));
}

interface Score {
  deleted: number;
  survivors: number;
  recovered: number;
  withRowid: number;
  falsePositives: number;
  bySource: Record<string, number>;
}

function score(fx: SmsRecoveryFixture, r: RecoveryResult): Score {
  const del = [...fx.deleted, ...fx.walOnlyDeleted];
  const surv = survivors(fx, del);
  const msgs = deletedMessages(r);
  let recovered = 0,
    withRowid = 0;
  const bySource: Record<string, number> = {};
  for (const d of surv) {
    const hit = msgs.find((m) => col(m, 'text') === d.text);
    if (hit) bySource[`${hit.source}/${hit.confidence}`] = (bySource[`${hit.source}/${hit.confidence}`] ?? 0) + 1;
    if (hit) {
      recovered++;
      if (hit.rowid !== null && Number(hit.rowid) === d.rowid && col(hit, 'guid') === d.guid) withRowid++;
    }
  }
  // A false positive: a live row reported as deleted (by rowid or by identical text).
  const liveIds = new Set(fx.live.map((m) => m.rowid));
  const liveTexts = new Set(fx.live.map((m) => m.text));
  const falsePositives = msgs.filter((m) => (m.rowid !== null && liveIds.has(Number(m.rowid))) || liveTexts.has(col(m, 'text') as string)).length;
  return { deleted: del.length, survivors: surv.length, recovered, withRowid, falsePositives, bySource };
}

describe('recovery: rollback journal, secure_delete off (freeblocks, unallocated space)', () => {
  let fx: SmsRecoveryFixture;
  let r: RecoveryResult;
  beforeAll(() => {
    fx = buildSmsRecovery({ dir: tmpDir('rec-rb-'), journal: 'delete', rows: 300, deleteEvery: 10, edit: [3, 44], bigText: [55, 60], primeFreelist: true });
    r = recoverDatabase({ dbPath: fx.dbPath, walPath: null });
  });

  it('returns every deleted message whose bytes survive, with its text, guid and rowid; no live row as deleted', () => {
    const s = score(fx, r);
    console.log('rollback/secure_delete off', s, r.stats.bySource);
    expect(s.survivors).toBeGreaterThanOrEqual(25);
    expect(s.recovered).toBe(s.survivors);
    expect(s.withRowid).toBe(s.survivors);
    expect(s.falsePositives).toBe(0);
    for (const m of deletedMessages(r)) expect(['freeblock', 'unallocated', 'freelist']).toContain(m.source);
  });

  it("returns nothing else: every other record is a deleted message's chat_message_join row", () => {
    const del = new Set(fx.deleted.map((d) => d.rowid));
    const others = r.records.filter((x) => x.table !== 'message');
    expect(others.length).toBeGreaterThan(20);
    for (const x of others) {
      expect(x.table).toBe('chat_message_join');
      expect(x.olderVersionOf).toBeUndefined();
      expect(del.has(Number(x.values[1]))).toBe(true);
      expect(BigInt(x.values[2] as bigint)).toBe(fx.deleted.find((d) => d.rowid === Number(x.values[1]))!.date);
    }
  });

  it('reports only the tables asked for', () => {
    const only = recoverDatabase({ dbPath: fx.dbPath, walPath: null, tables: ['message'] });
    expect(new Set(only.records.map((x) => x.table))).toEqual(new Set(['message']));
    expect(only.records.length).toBe(r.records.filter((x) => x.table === 'message').length);
  });

  it('recovers a deleted 10 KB message through its overflow pages', () => {
    const big = fx.deleted.find((m) => m.rowid === 60)!;
    expect(big.text.length).toBeGreaterThan(9_000);
    const hit = deletedMessages(r).find((m) => Number(m.rowid) === 60);
    expect(hit, 'rowid 60').toBeDefined();
    expect(col(hit!, 'text')).toBe(big.text);
  });

  it('returns the earlier text of an edited row as an older version of the live row', () => {
    for (const e of fx.edited) {
      const hit = r.records.find((m) => m.table === 'message' && col(m, 'text') === e.oldText);
      expect(hit, `edit ${e.rowid}`).toBeDefined();
      expect(Number(hit!.olderVersionOf)).toBe(e.rowid);
    }
  });

  it('never returns a record identical to a live row, and lists every place a record was found once', () => {
    const keys = new Set<string>();
    for (const m of r.records) {
      const k = `${m.table}:${m.rowid}:${JSON.stringify(m.values, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
      expect(keys.has(k), k).toBe(false);
      keys.add(k);
      expect(m.where.length).toBeGreaterThan(0);
    }
    expect(r.stats.droppedIdenticalToLive).toBeGreaterThanOrEqual(0);
  });

  it('maps a recovered message to event fields and case-file columns', () => {
    const m = deletedMessages(r).find((x) => Number(x.rowid) === 10)!;
    const truth = fx.deleted.find((d) => d.rowid === 10)!;
    const f = recoveredToEventFields(m)!;
    expect(f.kind).toBe('message');
    expect(f.text).toBe(truth.text);
    expect(BigInt(f.tsRaw!)).toBe(truth.date);
    expect(f.time?.epoch).toBe('mac-ns');
    expect(f.handleId).toBe(truth.handleId);
    expect(f.direction).toBe(truth.isFromMe ? 'outgoing' : 'incoming');
    const cf = caseFileColumns(m);
    expect(cf.recovered).toBe(1);
    expect(['freeblock', 'unallocated', 'freelist']).toContain(cf.recovered_from);
    expect(['medium', 'low']).toContain(cf.confidence);
  });

  it('reports one gap record per ROWID gap against sqlite_sequence, with recovered counts', () => {
    const db = new Database(fx.dbPath, { readonly: true });
    db.defaultSafeIntegers(true);
    const g = messageRowidGaps(db, r.records)!;
    db.close();
    expect(g.maxFrom).toBe('sqlite_sequence');
    expect(g.maxId).toBe(300);
    expect(g.missing).toBe(30);
    expect(g.gaps.length).toBe(30);
    const gap10 = g.gaps.find((x) => x.from === 10)!;
    expect(gap10).toMatchObject({ to: 10, count: 1, recovered: 1 });
    expect(gap10.before!.rowid).toBe(9);
    expect(gap10.after!.rowid).toBe(11);
    expect(typeof gap10.before!.time).toBe('bigint');
    expect(g.gaps.at(-1)).toMatchObject({ from: 300, to: 300, after: null });
  });
});

describe('recovery: secure_delete on (zero-filled)', () => {
  it('says the free space is zero-filled and returns no deleted message', () => {
    const fx = buildSmsRecovery({ dir: tmpDir('rec-sd-'), journal: 'delete', secureDelete: true, rows: 300, deleteEvery: 10, bigText: [60], primeFreelist: true });
    const r = recoverDatabase({ dbPath: fx.dbPath, walPath: null });
    console.log('secure_delete on', {
      records: r.records.length,
      ...pick(r.stats, ['freeblocks', 'freeblocksZeroFilled', 'freelistPages', 'freelistZeroFilled', 'unallocatedBytes', 'unallocatedZero']),
    });
    expect(deletedMessages(r)).toEqual([]);
    expect(r.stats.freeblocks).toBeGreaterThan(0);
    expect(r.stats.freeblocksZeroFilled).toBe(r.stats.freeblocks);
    expect(r.stats.freelistPages).toBeGreaterThan(0);
    expect(r.stats.freelistZeroFilled).toBe(r.stats.freelistPages);
  });
});

describe('recovery: WAL not yet checkpointed', () => {
  let fx: SmsRecoveryFixture;
  let r: RecoveryResult;
  beforeAll(() => {
    fx = buildSmsRecovery({ dir: tmpDir('rec-wal-'), journal: 'wal', rows: 300, deleteEvery: 10, edit: [3, 44], bigText: [60], walInsertDelete: 5 });
    r = recoverDatabase({ dbPath: fx.dbPath, walPath: fx.walPath });
  });

  it('returns every deleted row (incl. rows that lived only in the WAL) with high confidence', () => {
    const s = score(fx, r);
    console.log('WAL', s, r.stats.bySource, pick(r.stats, ['walFrames', 'walFramesCommitted', 'walCommits']));
    expect(s.survivors).toBe(s.deleted);
    expect(s.recovered).toBe(s.deleted);
    expect(s.withRowid).toBe(s.deleted);
    expect(s.falsePositives).toBe(0);
    for (const d of [...fx.deleted, ...fx.walOnlyDeleted]) {
      const m = deletedMessages(r).find((x) => Number(x.rowid) === d.rowid)!;
      expect(m.confidence).toBe('high');
      expect(['superseded-page', 'wal-frame']).toContain(m.source);
      expect(m.bracket?.afterCommit).toBeDefined();
    }
    for (const d of fx.walOnlyDeleted) {
      const m = deletedMessages(r).find((x) => Number(x.rowid) === d.rowid)!;
      expect(m.where.some((w) => w.source === 'wal-frame' && w.walFrame! > 0 && w.walSalt)).toBe(true);
    }
    const big = deletedMessages(r).find((x) => Number(x.rowid) === 60)!;
    expect(col(big, 'text')).toBe(fx.deleted.find((d) => d.rowid === 60)!.text);
  });

  it('returns the earlier text of edited rows as older versions, with high confidence', () => {
    for (const e of fx.edited) {
      const hit = r.records.find((m) => m.table === 'message' && col(m, 'text') === e.oldText)!;
      expect(hit).toBeDefined();
      expect(Number(hit.olderVersionOf)).toBe(e.rowid);
      expect(hit.confidence).toBe('high');
    }
  });

  it('does not treat frames after a damaged frame as committed, and says so', () => {
    const wal = fs.readFileSync(fx.walPath!);
    const frameSize = 24 + 4096;
    const frames = (wal.length - 32) / frameSize;
    const bad = Buffer.from(wal);
    bad[32 + (frames - 1) * frameSize + 24 + 100] ^= 0xff; // the last frame's page data: its checksum no longer holds
    const r2 = recoverDatabase({ dbPath: fx.dbPath, wal: bad });
    expect(r2.stats.walFramesUncommitted).toBeGreaterThanOrEqual(1);
    expect(r2.warnings.join('\n')).toMatch(/never treated as committed/);
    // The deletes committed before the damaged (edit) transaction still come back.
    expect(score(fx, r2).withRowid).toBe(fx.deleted.length + fx.walOnlyDeleted.length);
  });
});

describe('recovery: an older WAL generation after a checkpoint restart', () => {
  it("examines the previous generation's frames as uncommitted and recovers their rows with medium confidence", () => {
    const dir = tmpDir('rec-gen-');
    const p = path.join(dir, 'g.db');
    const db = new Database(p);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)');
    for (let i = 1; i <= 60; i++) db.prepare('INSERT INTO note VALUES (?, ?)').run(i, `note ${i} `.repeat(20));
    db.exec('DELETE FROM note WHERE id % 6 = 0');
    db.pragma('wal_checkpoint(RESTART)');
    db.prepare('INSERT INTO note VALUES (?, ?)').run(100, 'after restart'); // rewrites the WAL from its start with new salts
    fs.copyFileSync(p, path.join(dir, 'c.db'));
    fs.copyFileSync(p + '-wal', path.join(dir, 'c.db-wal'));
    db.close();
    const r = recoverDatabase({ dbPath: path.join(dir, 'c.db') });
    expect(r.stats.walFramesOldGeneration).toBeGreaterThan(10);
    expect(r.stats.walFramesUncommitted).toBeGreaterThan(10);
    const notes = r.records.filter((x) => x.table === 'note' && x.olderVersionOf === undefined);
    expect(notes.map((x) => Number(x.rowid)).sort((a, b) => a - b)).toEqual([6, 12, 18, 24, 30, 36, 42, 48, 54, 60]);
    for (const n of notes) {
      expect(n.values[1]).toBe(`note ${n.rowid} `.repeat(20));
      expect(n.where.some((w) => w.source === 'wal-frame' && w.committed === false)).toBe(true);
    }
  });
});

describe('recovery: auto-vacuum database', () => {
  it('recovers deleted rows from an auto_vacuum=FULL file (pointer-map pages skipped)', () => {
    const fx = buildSmsRecovery({ dir: tmpDir('rec-av-'), journal: 'delete', autoVacuum: 'full', rows: 300, deleteEvery: 10 });
    const r = recoverDatabase({ dbPath: fx.dbPath, walPath: null });
    const s = score(fx, r);
    console.log('auto_vacuum=FULL', s);
    expect(s.survivors).toBeGreaterThanOrEqual(20);
    expect(s.recovered).toBe(s.survivors);
    expect(s.withRowid).toBe(s.survivors);
    expect(s.falsePositives).toBe(0);
  });
});

describe('recovery: nothing to recover', () => {
  it('returns no deleted message from a database where nothing was deleted', () => {
    for (const journal of ['delete', 'wal'] as const) {
      const fx = buildSmsRecovery({ dir: tmpDir('rec-none-'), journal, rows: 200, deleteEvery: 0 });
      const r = recoverDatabase({ dbPath: fx.dbPath, walPath: fx.walPath });
      expect(deletedMessages(r), journal).toEqual([]);
      expect(r.records.filter((x) => x.olderVersionOf === undefined && x.table !== 'message')).toEqual([]);
      expect(r.warnings).toEqual([]);
    }
  });
});

describe('recovery: rows written before ALTER TABLE ADD COLUMN', () => {
  it('reads records with fewer columns than the CREATE statement', () => {
    const dir = tmpDir('rec-alter-');
    const p = path.join(dir, 'a.db');
    const db = new Database(p);
    db.pragma('journal_mode = DELETE');
    db.exec('CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, created INTEGER)');
    const ins = db.prepare('INSERT INTO note (id, title, created) VALUES (?, ?, ?)');
    for (let i = 1; i <= 40; i++) ins.run(i, `old note number ${i} about the case`, 700_000_000 + i);
    db.exec('ALTER TABLE note ADD COLUMN body TEXT');
    const ins2 = db.prepare('INSERT INTO note (id, title, created, body) VALUES (?, ?, ?, ?)');
    for (let i = 41; i <= 80; i++) ins2.run(i, `new note number ${i} about the case`, 700_000_000 + i, `body text ${i}`);
    db.exec('DELETE FROM note WHERE id IN (7, 21, 50, 66)');
    db.close();
    const r = recoverDatabase({ dbPath: p, walPath: null });
    const got = new Map(r.records.filter((x) => x.table === 'note').map((x) => [Number(x.rowid), x]));
    for (const id of [7, 21]) {
      expect(got.get(id)?.columnsPresent, `old ${id}`).toBe(3);
      expect(got.get(id)?.values).toEqual([id, `old note number ${id} about the case`, 700_000_000 + id, null]);
    }
    for (const id of [50, 66]) expect(got.get(id)?.values).toEqual([id, `new note number ${id} about the case`, 700_000_000 + id, `body text ${id}`]);
    expect(r.records.filter((x) => x.table === 'note' && ![7, 21, 50, 66].includes(Number(x.rowid)))).toEqual([]);
  });
});

describe('recovery: CallHistory', () => {
  for (const journal of ['wal', 'delete'] as const) {
    it(`recovers deleted ZCALLRECORD rows (${journal}) and maps them to call events; Z_MAX gaps`, () => {
      const fx = buildCallsRecovery({ dir: tmpDir('rec-calls-'), journal, count: 40, deletePks: [5, 6, 7, 20, 40] });
      const r = recoverDatabase({ dbPath: fx.dbPath, walPath: fx.walPath });
      const calls = r.records.filter((x) => x.table === 'ZCALLRECORD' && x.olderVersionOf === undefined);
      console.log(
        `calls ${journal}`,
        calls.map((c) => [Number(c.rowid), c.source, c.confidence]),
      );
      const live = new Set(fx.live.map((c) => c.pk));
      expect(calls.filter((c) => c.rowid !== null && live.has(Number(c.rowid)))).toEqual([]);
      for (const d of fx.deleted) {
        const c = calls.find((x) => Number(x.rowid) === d.pk);
        expect(c, `call ${d.pk}`).toBeDefined();
        const f = recoveredToEventFields(c!)!;
        expect(f).toMatchObject({ kind: 'call', counterpart: d.address, durationS: d.duration, direction: d.originated ? 'outgoing' : 'incoming' });
        expect(f.tsRaw).toBe(d.macDate);
        expect(f.time?.epoch).toBe('mac-s');
        if (journal === 'wal') expect(c!.confidence).toBe('high');
      }
      const db = new Database(fx.dbPath, { readonly: true });
      const g = callRowidGaps(db, r.records)!;
      db.close();
      expect(g.maxFrom).toBe('Z_PRIMARYKEY');
      expect(g.gaps.map((x) => [x.from, x.to, x.count, x.recovered])).toEqual([
        [5, 7, 3, 3],
        [20, 20, 1, 1],
        [40, 40, 1, 1],
      ]);
    });
  }
});

describe('recovery: Messages Recently Deleted and deleted-GUID tables', () => {
  it('lists Recently Deleted messages and parts, and the deleted GUID tables', () => {
    const fx = buildSmsRecovery({ dir: tmpDir('rec-rd-'), journal: 'delete', rows: 20, deleteEvery: 0, schema: 'ios17' });
    const db = new Database(fx.dbPath);
    db.defaultSafeIntegers(true);
    db.exec(
      `CREATE TABLE IF NOT EXISTS recoverable_message_part (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, part_index INTEGER, delete_date INTEGER, part_text BLOB NOT NULL, ck_sync_state INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id, part_index), CHECK (delete_date != 0))`,
    );
    db.exec('DELETE FROM chat_message_join WHERE message_id IN (4, 5)');
    db.exec('INSERT INTO chat_recoverable_message_join (chat_id, message_id, delete_date) VALUES (1, 4, 760000000000000000), (1, 5, 760000001000000000)');
    db.prepare('INSERT INTO recoverable_message_part (chat_id, message_id, part_index, delete_date, part_text) VALUES (1, 9, 0, 760000002000000000, ?)').run(
      Buffer.from('deleted part'),
    );
    db.exec("INSERT INTO deleted_messages (guid) VALUES ('AAAA-1'), ('AAAA-2')");
    db.exec("INSERT INTO sync_deleted_messages (guid, recordID) VALUES ('BBBB-1', 'rec-1')");
    db.exec("INSERT INTO sync_deleted_chats (guid, recordID, timestamp) VALUES ('CCCC-1', 'rec-2', 760000003)");
    db.exec("INSERT INTO sync_deleted_attachments (guid, recordID) VALUES ('DDDD-1', NULL)");
    const rd = recentlyDeleted(db);
    const dg = deletedGuids(db);
    db.close();
    expect(rd.map((x) => [x.messageId, x.from, String(x.deleteDate), x.messagePresent, x.parts.length])).toEqual([
      [4, 'chat_recoverable_message_join', '760000000000000000', true, 0],
      [5, 'chat_recoverable_message_join', '760000001000000000', true, 0],
      [9, 'recoverable_message_part', '760000002000000000', true, 1],
    ]);
    expect(rd[2].parts[0].partText!.toString()).toBe('deleted part');
    expect(dg.map((x) => [x.table, x.guid, x.recordId, x.timestamp === null ? null : String(x.timestamp)])).toEqual([
      ['deleted_messages', 'AAAA-1', null, null],
      ['deleted_messages', 'AAAA-2', null, null],
      ['sync_deleted_messages', 'BBBB-1', 'rec-1', null],
      ['sync_deleted_chats', 'CCCC-1', 'rec-2', '760000003'],
      ['sync_deleted_attachments', 'DDDD-1', null, null],
    ]);
  });

  it('finds gaps at the start, in the middle and at the end', () => {
    const live = [3, 4, 8].map((rowid) => ({ rowid, time: rowid * 10 }));
    expect(findRowidGaps('t', live, 10).map((g) => [g.from, g.to, g.count, g.before?.rowid ?? null, g.after?.rowid ?? null])).toEqual([
      [1, 2, 2, null, 3],
      [5, 7, 3, 4, 8],
      [9, 10, 2, 8, null],
    ]);
    expect(findRowidGaps('t', [], null)).toEqual([]);
  });
});

function pick<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Partial<T>;
}
