// One read and one hash per evidence database: the evidence pass copies the files extractors will read while it
// hashes them, from the same buffer, and Backup.read hands that copy and hash over. The copy must hold exactly
// the bytes hashed, the recorded hashes must be those of the evidence, and a file that changes after the pass
// is read again (test/custody.test.ts: "says exactly what changed when evidence changes during ingest").
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { hashFiles } from '../src/custody/evidenceHash.js';
import { READ_CHUNK } from '../src/custody/hashWorker.js';
import { ingest } from '../src/pipeline/ingest.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hash-while-copying', () => {
  for (const workers of [0, 2]) {
    it(`writes each copy with exactly the bytes it hashed (${workers ? 'worker threads' : 'in this thread'})`, async () => {
      const dir = tmpDir();
      // Empty, one byte, a chunk and a half (several reads), and a hash-only job beside them.
      const sizes = [0, 1, READ_CHUNK + READ_CHUNK / 2, 4096];
      const files = sizes.map((n, i) => {
        const p = path.join(dir, `f${i}`);
        fs.writeFileSync(p, randomBytes(n));
        return p;
      });
      const jobs = files.map((p, i) => ({ path: p, size: sizes[i], copyTo: i < 3 ? path.join(dir, `copy${i}`) : undefined }));
      const results = await hashFiles(jobs, { workers });
      files.forEach((p, i) => {
        const bytes = fs.readFileSync(p);
        expect(results[i].sha256).toBe(sha256(bytes));
        if (i < 3) {
          expect(results[i].copied).toBeTruthy();
          expect(fs.readFileSync(jobs[i].copyTo!).equals(bytes)).toBe(true);
        } else {
          expect(results[i].copied).toBeUndefined();
          expect(fs.readdirSync(dir).filter((f) => f.startsWith('copy'))).toHaveLength(3);
        }
      });
    });
  }

  it('an ingest reads each database once: the extractors get the pass copies, with the evidence hashes', async () => {
    const t = fixture({ seed: 7, contacts: 8, calls: 20, messages: 40 });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    const db = new Database(casePath, { readonly: true });
    const read = db.prepare("SELECT domain, relative_path, disk_path, sha256 FROM files WHERE read_by IS NOT NULL AND sha256 IS NOT NULL AND relative_path LIKE '%.%db'").all() as {
      domain: string;
      relative_path: string;
      disk_path: string;
      sha256: string;
    }[];
    db.close();
    // sms.db, AddressBook, CallHistory at least: each recorded with the hash of its evidence bytes.
    expect(read.map((f) => f.relative_path)).toEqual(expect.arrayContaining(['Library/SMS/sms.db', 'Library/AddressBook/AddressBook.sqlitedb']));
    for (const f of read) expect([f.relative_path, f.sha256]).toEqual([f.relative_path, sha256(fs.readFileSync(path.join(t.root, f.disk_path)))]);
    // Every database the extractors opened came from the pass (none was copied and hashed a second time).
    expect(r.timings.working_copies_made_by_hash_pass).toBeGreaterThanOrEqual(read.length);
    expect(treeHash(t.root)).toEqual(before);
  });
});
