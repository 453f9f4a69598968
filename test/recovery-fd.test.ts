// Recovery reads files through descriptors with a bounded page cache (src/recovery/pageSource.ts): the result must
// not depend on the cache size, the file is never read whole, and files over 2 GiB (more than one Buffer) work.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, afterEach, vi } from 'vitest';
import Database from 'better-sqlite3';
import { tmpDir } from './helpers.js';
import { buildSmsRecovery, buildCallsRecovery } from '../fixtures/recovery/build.js';
import { recoverDatabase, type RecoveryResult } from '../src/recovery/index.js';
import { FileSource } from '../src/recovery/pageSource.js';
import { RowIndex } from '../src/recovery/rowIndex.js';

/** A result as plain JSON (blobs as hex, bigints as strings), without the run time. */
function plain(r: RecoveryResult): unknown {
  const json = JSON.stringify({ ...r, stats: { ...r.stats, ms: 0 } }, (_k, v) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return `hex:${Buffer.from(v.data).toString('hex')}`;
    return v;
  });
  return JSON.parse(json);
}

afterEach(() => vi.restoreAllMocks());

describe('recovery through a bounded page cache', () => {
  const cases = [
    {
      name: 'rollback journal: freeblocks, overflow pages, freelist',
      build: () => buildSmsRecovery({ dir: tmpDir('rfd-rb-'), journal: 'delete', rows: 300, deleteEvery: 10, edit: [3, 44], bigText: [55, 60], primeFreelist: true }),
    },
    {
      name: 'WAL not checkpointed: page versions in WAL frames',
      build: () => buildSmsRecovery({ dir: tmpDir('rfd-wal-'), journal: 'wal', rows: 300, deleteEvery: 10, edit: [3, 44], bigText: [60], walInsertDelete: 5 }),
    },
    { name: 'CallHistory in WAL mode', build: () => buildCallsRecovery({ dir: tmpDir('rfd-calls-'), journal: 'wal', count: 120, deletePks: [5, 6, 7, 40, 99] }) },
  ];
  for (const c of cases)
    it(`${c.name}: a 4-page cache gives exactly the result of a large cache and of the bytes in memory`, () => {
      const fx = c.build();
      const size = fs.statSync(fx.dbPath).size + (fx.walPath ? fs.statSync(fx.walPath).size : 0);
      expect(size).toBeGreaterThan(4096 * 16); // many times the tiny cache
      const big = recoverDatabase({ dbPath: fx.dbPath, walPath: fx.walPath, cachePages: 1 << 20 });
      const inMemory = recoverDatabase({ db: fs.readFileSync(fx.dbPath), wal: fx.walPath ? fs.readFileSync(fx.walPath) : null });
      const readSync = vi.spyOn(fs, 'readSync');
      const readFileSync = vi.spyOn(fs, 'readFileSync');
      const tiny = recoverDatabase({ dbPath: fx.dbPath, walPath: fx.walPath, cachePages: 4 });
      expect(big.records.length).toBeGreaterThan(0);
      expect(plain(tiny)).toEqual(plain(big));
      expect(plain(tiny)).toEqual(plain(inMemory));
      // Never the whole file: no readFileSync, and no read longer than the 4-page cache (a WAL frame is 24 bytes more).
      expect(readFileSync).not.toHaveBeenCalled();
      expect(readSync.mock.calls.length).toBeGreaterThan(size / (4 * 4096));
      for (const call of readSync.mock.calls) expect(call[3]).toBeLessThanOrEqual(4 * (4096 + 24));
    });

  it('keeps at most the configured number of pages, reads ahead only along a run, and re-reads a dropped page', () => {
    const dir = tmpDir('rfd-src-');
    const f = path.join(dir, 'bytes');
    const bytes = Buffer.alloc(40 * 4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff;
    fs.writeFileSync(f, bytes);
    const page = (p: number) => bytes.subarray(p * 4096, (p + 1) * 4096);
    const src = FileSource.open(f);
    src.shape(4096, 8);
    const readSync = vi.spyOn(fs, 'readSync');
    try {
      // Pages in order: 1, 2, 4, 8 pages per read (capped by the 8-page cache).
      for (let p = 0; p < 23; p++) expect(Buffer.from(src.read(p * 4096, 4096)).equals(page(p))).toBe(true);
      expect(readSync.mock.calls.map((c) => c[3])).toEqual([1, 2, 4, 8, 8].map((n) => n * 4096));
      src.read(20 * 4096, 10); // still cached
      expect(src.reads).toBe(5);
      src.read(0, 10); // dropped long ago: read again, one page (no neighbour cached)
      expect(src.reads).toBe(6);
      expect(readSync.mock.calls.at(-1)![3]).toBe(4096);
      // Pages backwards read ahead backwards.
      readSync.mockClear();
      for (let p = 39; p >= 30; p--) expect(Buffer.from(src.read(p * 4096 + 5, 100)).equals(page(p).subarray(5, 105))).toBe(true);
      expect(readSync.mock.calls.map((c) => [c[4], c[3]])).toEqual([
        [39 * 4096, 4096],
        [37 * 4096, 2 * 4096],
        [33 * 4096, 4 * 4096],
        [25 * 4096, 8 * 4096],
      ]);
      // A read across two pages, and reads at and past the end.
      expect(Buffer.from(src.read(4096 - 3, 8)).equals(bytes.subarray(4093, 4101))).toBe(true);
      expect(src.read(bytes.length - 2, 10).length).toBe(2);
      expect(src.read(bytes.length, 10).length).toBe(0);
    } finally {
      src.close();
    }
  });

  it('reuses the buffer of a dropped page only after a safe point', () => {
    const dir = tmpDir('rfd-safe-');
    const f = path.join(dir, 'bytes');
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + (i >> 10)) & 0xff;
    fs.writeFileSync(f, bytes);
    const src = FileSource.open(f);
    src.shape(1024, 4);
    try {
      const held: Uint8Array[] = [];
      for (let p = 0; p < 64; p++) held.push(src.read(p * 1024, 1024));
      expect(src.reused).toBe(0); // no safe point: every view read so far is intact
      held.forEach((v, p) => expect(Buffer.from(v).equals(bytes.subarray(p * 1024, (p + 1) * 1024))).toBe(true));
      src.shape(1024, 4);
      for (let p = 0; p < 64; p++) {
        src.safePoint();
        expect(Buffer.from(src.read(p * 1024, 1024)).equals(bytes.subarray(p * 1024, (p + 1) * 1024))).toBe(true);
      }
      expect(src.reused).toBeGreaterThan(5);
    } finally {
      src.close();
    }
  });

  it('refuses a path that is not a regular file with a named warning', () => {
    const r = recoverDatabase({ dbPath: tmpDir('rfd-dir-'), walPath: null });
    expect(r.records).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/cannot read the evidence file: .* is not a regular file/);
  });
});

describe('the live-row index', () => {
  it('behaves as a Map: values, overwrites keep their place, insertion order, string (bigint) keys', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const map = new Map<number | string, number>();
    const idx = new RowIndex();
    for (let i = 0; i < 20_000; i++) {
      const r = rnd(10);
      // Dense, sparse, negative, beyond 2^32, and decimal strings for rowids past 2^53.
      const key = r < 5 ? rnd(20_000) : r < 7 ? rnd(1 << 30) * 4096 : r < 8 ? -rnd(5000) : r < 9 ? 2 ** 40 + rnd(1000) : `${2n ** 60n + BigInt(rnd(300))}`;
      const value = rnd(1 << 30) * 65536 + rnd(65536);
      map.set(key, value);
      idx.set(key, value);
      const probe = rnd(2) ? key : rnd(40_000);
      expect(idx.get(probe)).toBe(map.get(probe));
      expect(idx.has(probe)).toBe(map.has(probe));
    }
    expect(idx.size).toBe(map.size);
    expect([...idx.keys()]).toEqual([...map.keys()]);
    expect([...idx.values()]).toEqual([...map.values()]);
    expect([...idx.entries()]).toEqual([...map.entries()]);
    expect(idx.get('1')).toBeUndefined();
    expect(idx.get(0.5)).toBeUndefined();
  });
});

describe('recovery of a database larger than 2 GiB', () => {
  it('recovers deleted rows from a table page past the 2 GiB mark of a sparse file', () => {
    const dir = tmpDir('rfd-2g-');
    const p = path.join(dir, 'n.db');
    const ps = 65536;
    const db = new Database(p);
    db.pragma(`page_size = ${ps}`);
    db.pragma('journal_mode = DELETE');
    db.pragma('secure_delete = OFF');
    db.exec('CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT, body TEXT)');
    const ins = db.prepare('INSERT INTO note VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= 1500; i++) ins.run(i, `title ${i}`, `body of note ${i} `.repeat(8));
    })();
    db.exec('DELETE FROM note WHERE id % 10 = 3');
    const root = Number(db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'note'").pluck().get());
    db.close();
    // Move the table's first leaf past 2 GiB: copy it there and point the root's first child at the copy.
    const file = fs.readFileSync(p);
    const rootPage = file.subarray((root - 1) * ps, root * ps);
    expect(rootPage[0]).toBe(5); // an interior table page
    const cell = rootPage.readUInt16BE(12);
    const firstLeaf = rootPage.readUInt32BE(cell);
    const lastPage = 2 ** 31 / ps + 2; // starts past 2 GiB
    rootPage.writeUInt32BE(lastPage, cell);
    file.writeUInt32BE(lastPage, 28); // the header's page count
    const big = path.join(dir, 'big.db');
    const fd = fs.openSync(big, 'w');
    try {
      fs.writeSync(fd, file, 0, file.length, 0);
      fs.writeSync(fd, file, (firstLeaf - 1) * ps, ps, (lastPage - 1) * ps); // sparse: nothing written in between
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.statSync(big).size).toBeGreaterThan(2 ** 31);
    // SQLite itself still reads every live row of the moved file.
    const check = new Database(big, { readonly: true });
    expect(check.prepare('SELECT count(*) FROM note').pluck().get()).toBe(1350);
    check.close();

    const r = recoverDatabase({ dbPath: big, walPath: null, cachePages: 64 });
    expect(r.warnings.join('\n')).not.toMatch(/cannot read/);
    expect(r.stats.fileBytes).toBe(lastPage * ps);
    const moved = r.records.filter((x) => x.table === 'note' && x.where.some((w) => w.page === lastPage));
    // The deleted rows whose cells were on that leaf.
    const leaf = file.subarray((firstLeaf - 1) * ps, firstLeaf * ps);
    const deletedOnLeaf: string[] = [];
    for (let i = 3; i <= 1500; i += 10) if (leaf.includes(`title ${i}body`)) deletedOnLeaf.push(`title ${i}`);
    expect(deletedOnLeaf.length).toBeGreaterThanOrEqual(10);
    expect(moved.map((x) => x.values[1]).sort()).toEqual(deletedOnLeaf.sort());
    for (const d of moved) expect(d.values[2]).toBe(`body of note ${String(d.values[1]).slice(6)} `.repeat(8));
  });
});
