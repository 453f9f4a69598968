// Recovery of a WAL-less working copy on a second thread (src/pipeline/recover.ts recoverInThread) while SQLite reads
// the same copy: the thread's result equals the synchronous one (blobs still Buffers), a crashed thread is a named
// failure, and SQLite leaves a copy without -wal / -journal byte-identical.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './helpers.js';
import { buildCallsRecovery } from '../fixtures/recovery/build.js';
import { recoverInThread, recoverWorkingCopy, recoveryWorkerScript, startRecovery } from '../src/pipeline/recover.js';

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** A rollback-journal database with deleted rows that hold blobs. */
function blobDb(dir: string): string {
  const p = path.join(dir, 'blobs.db');
  const db = new Database(p);
  db.pragma('journal_mode = DELETE');
  db.pragma('secure_delete = OFF');
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, payload BLOB)');
  const ins = db.prepare('INSERT INTO item VALUES (?, ?, ?)');
  for (let i = 1; i <= 200; i++) ins.run(i, `item number ${i}`, Buffer.alloc(40 + (i % 7), i));
  db.exec('DELETE FROM item WHERE id % 9 = 0');
  db.close();
  return p;
}

describe('recovery on a second thread', () => {
  it('runs in the built worker and returns what the calling thread would, blobs as Buffers', async () => {
    expect(recoveryWorkerScript()).toMatch(/recoverWorker\.js$/); // npm test builds dist/ first
    const p = blobDb(tmpDir('rth-'));
    const here = recoverWorkingCopy('blobs.db', 7, p, null);
    const there = await recoverInThread('blobs.db', 7, p);
    expect(there.error).toBeNull();
    expect(there.fileRowId).toBe(7);
    const items = there.result!.records.filter((r) => r.table === 'item');
    expect(items.length).toBeGreaterThanOrEqual(5);
    for (const r of items) {
      expect(Buffer.isBuffer(r.values[2])).toBe(true);
      const n = Number(String(r.values[1]).split(' ').at(-1));
      expect(n % 9).toBe(0);
      expect((r.values[2] as Buffer).equals(Buffer.alloc(40 + (n % 7), n))).toBe(true);
    }
    expect(there.result!.records).toEqual(here.result!.records);
    expect({ ...there.result!.stats, ms: 0 }).toEqual({ ...here.result!.stats, ms: 0 });
    expect(there.result!.warnings).toEqual(here.result!.warnings);
  });

  it('recovers a copy with a -wal at once (before SQLite opens it), a large WAL-less copy on the thread', async () => {
    const fx = buildCallsRecovery({ dir: tmpDir('rth-start-'), journal: 'wal', count: 60 });
    const withWal = startRecovery('c', 1, fx.dbPath, 0);
    expect(withWal).not.toBeInstanceOf(Promise);
    expect((withWal as Awaited<typeof withWal>).result!.stats.walFrames).toBeGreaterThan(0);
    const p = blobDb(tmpDir('rth-start2-'));
    const small = startRecovery('b', 2, p); // under the thread threshold: here
    expect(small).not.toBeInstanceOf(Promise);
    const threaded = startRecovery('b', 2, p, 0);
    expect(threaded).toBeInstanceOf(Promise);
    expect((await threaded).result!.records).toEqual((small as Awaited<typeof small>).result!.records);
  });

  it('turns a crashed thread into a job with a named error, never a throw', async () => {
    const dir = tmpDir('rth-crash-');
    const bad = path.join(dir, 'crash.mjs');
    fs.writeFileSync(bad, "throw new Error('boom in the recovery thread');\n");
    const job = await recoverInThread('x.db', 3, path.join(dir, 'x.db'), bad);
    expect(job.result).toBeNull();
    expect(job.error).toMatch(/^the recovery thread failed \(boom in the recovery thread\)$/);
    const silent = path.join(dir, 'silent.mjs');
    fs.writeFileSync(silent, 'process.exitCode = 0;\n');
    const job2 = await recoverInThread('x.db', 3, path.join(dir, 'x.db'), silent);
    expect(job2.error).toMatch(/exited \(code 0\) without a result/);
  });

  for (const mode of ['WAL', 'DELETE'] as const)
    it(`SQLite reading a ${mode}-mode copy without -wal or -journal leaves it byte-identical while the thread recovers it`, async () => {
      const fx = buildCallsRecovery({ dir: tmpDir('rth-sqlite-'), journal: mode === 'WAL' ? 'wal' : 'delete', count: 80 });
      const copy = path.join(tmpDir('rth-copy-'), 'CallHistory.storedata');
      fs.copyFileSync(fx.dbPath, copy);
      if (mode === 'WAL') {
        // The deletions checkpointed into the copy and the -wal gone: the header still says WAL.
        fs.copyFileSync(fx.walPath!, copy + '-wal');
        const db = new Database(copy);
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        expect(fs.readFileSync(copy)[18]).toBe(2);
      }
      for (const side of ['-wal', '-journal', '-shm']) expect(fs.existsSync(copy + side)).toBe(false);
      const before = sha(copy);
      const job = recoverInThread('CallHistory.storedata', 1, copy);
      // As runExtractors opens it, then what extractors do: read every row, a temp table.
      const db = new Database(copy);
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      db.defaultSafeIntegers(true);
      const rows = db.prepare('SELECT * FROM ZCALLRECORD').all();
      db.exec('CREATE TEMP TABLE seen (pk INTEGER PRIMARY KEY); INSERT INTO temp.seen SELECT Z_PK FROM ZCALLRECORD;');
      const done = await job;
      db.close();
      expect(rows.length).toBe(fx.live.length);
      expect(done.error).toBeNull();
      const pks = done.result!.records.filter((r) => r.table === 'ZCALLRECORD' && r.olderVersionOf === undefined).map((r) => Number(r.rowid));
      for (const d of fx.deleted) expect(pks).toContain(d.pk);
      expect(sha(copy)).toBe(before);
      expect(fs.existsSync(copy + '-wal')).toBe(false);
    });
});
