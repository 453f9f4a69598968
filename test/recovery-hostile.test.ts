// Hostile and damaged inputs: the recovery engine must finish quickly, never throw, and say what it skipped.
import fs from 'node:fs';
import { describe, it, expect, beforeAll } from 'vitest';
import { tmpDir } from './helpers.js';
import { buildSmsRecovery, type SmsRecoveryFixture } from '../fixtures/recovery/build.js';
import { recoverDatabase, type RecoveryResult } from '../src/recovery/index.js';
import { parsePageHeader, parseTableLeafCell, u16, u32, PAGE_TABLE_LEAF, PAGE_TABLE_INTERIOR } from '../src/formats/sqliteFile.js';
import { Rng } from '../fixtures/random.js';

const PS = 4096;
const T = 20_000;

let fx: SmsRecoveryFixture;
let walFx: SmsRecoveryFixture;
let clean: Buffer;

function page(b: Buffer, pg: number): Buffer {
  return b.subarray((pg - 1) * PS, pg * PS);
}
function pages(b: Buffer): number {
  return Math.floor(b.length / PS);
}

/** Run and check the invariants every run must keep. */
function run(db: Uint8Array, wal: Uint8Array | null = null, budget?: { maxMs?: number; maxBytes?: number }): RecoveryResult {
  const t = Date.now();
  const r = recoverDatabase({ db, wal, budget });
  expect(Date.now() - t).toBeLessThan(T);
  expect(Array.isArray(r.records)).toBe(true);
  expect(Array.isArray(r.warnings)).toBe(true);
  return r;
}

function findPage(b: Buffer, pred: (p: Buffer, pg: number) => boolean): number {
  for (let pg = 2; pg <= pages(b); pg++) if (pred(page(b, pg), pg)) return pg;
  throw new Error('no such page');
}

beforeAll(() => {
  fx = buildSmsRecovery({ dir: tmpDir('rec-hostile-'), journal: 'delete', rows: 300, deleteEvery: 10, bigText: [55] });
  walFx = buildSmsRecovery({ dir: tmpDir('rec-hostile-wal-'), journal: 'wal', rows: 120, deleteEvery: 7 });
  clean = fs.readFileSync(fx.dbPath);
});

describe('recovery: hostile inputs', () => {
  it('rejects what is not an SQLite file, with a warning', { timeout: T }, () => {
    for (const b of [Buffer.alloc(0), Buffer.alloc(50, 7), Buffer.from('SQLite format 3\0' + 'x'.repeat(200)), new Rng(1).uuid().repeat(500)].map((x) => Buffer.from(x))) {
      const r = run(b);
      expect(r.records).toEqual([]);
      expect(r.warnings.length).toBeGreaterThan(0);
    }
    const bad = Buffer.from(clean);
    bad.writeUInt16BE(3000, 16); // not a power of two
    expect(run(bad).warnings.join()).toMatch(/page size/);
  });

  it('cuts a freeblock chain that loops or leaves the page', { timeout: T }, () => {
    // A message-table leaf (message texts start with '#'), not a sqlite_master page.
    const pg = findPage(clean, (p, n) => {
      const h = parsePageHeader(p, n);
      return !!h && h.type === PAGE_TABLE_LEAF && h.firstFreeblock > 0 && p.indexOf('#2') >= 0;
    });
    const loop = Buffer.from(clean);
    const p = page(loop, pg);
    const fb = u16(p, 1);
    p.writeUInt16BE(fb, fb); // next = itself
    expect(run(loop).warnings.join('\n')).toMatch(/freeblock chain/);
    const out = Buffer.from(clean);
    page(out, pg).writeUInt16BE(0xfff0, 1); // first freeblock outside the page
    expect(run(out).warnings.join('\n')).toMatch(/freeblock/);
    const size = Buffer.from(clean);
    page(size, pg).writeUInt16BE(0xffff, fb + 2); // impossible size
    expect(run(size).warnings.join('\n')).toMatch(/impossible size/);
  });

  it('survives huge payload lengths and varints that run off the page', { timeout: T }, () => {
    const pg = findPage(clean, (p, n) => {
      const h = parsePageHeader(p, n);
      return !!h && h.type === PAGE_TABLE_LEAF && h.cellCount > 2;
    });
    const b = Buffer.from(clean);
    const p = page(b, pg);
    const h = parsePageHeader(p, pg)!;
    const off = u16(p, h.ptrStart);
    p.fill(0xff, off, off + 8); // payload-length varint: 8 continuation bytes, an absurd length
    p.fill(0xff, PS - 9, PS); // a varint running off the end of the page
    const h2 = parsePageHeader(p, pg)!;
    p.fill(0x81, h2.ptrStart + 2 * h2.cellCount, Math.min(h2.contentStart, PS)); // unallocated gap: endless varints
    const r = run(b);
    expect(r.warnings.length).toBeGreaterThan(0);
  });

  it('stops an overflow chain that loops, and a b-tree that points to itself', { timeout: T }, () => {
    // Overflow loop on the live 10 KB row.
    const b = Buffer.from(clean);
    let ovf = 0;
    for (let pg = 2; pg <= pages(b) && !ovf; pg++) {
      const p = page(b, pg);
      const h = parsePageHeader(p, pg);
      if (!h || h.type !== PAGE_TABLE_LEAF) continue;
      for (let i = 0; i < h.cellCount; i++) {
        const c = parseTableLeafCell(p, u16(p, h.ptrStart + 2 * i), PS, PS);
        if (c?.overflow) {
          ovf = c.overflow;
          break;
        }
      }
    }
    expect(ovf).toBeGreaterThan(0);
    page(b, ovf).writeUInt32BE(ovf, 0);
    const r = run(b);
    expect(r.warnings.join('\n')).toMatch(/overflow chain/);
    // Interior page whose right child is itself.
    const c = Buffer.from(clean);
    const ip = findPage(c, (p, n) => parsePageHeader(p, n)?.type === PAGE_TABLE_INTERIOR);
    page(c, ip).writeUInt32BE(ip, 8);
    expect(run(c).warnings.join('\n')).toMatch(/cycle|twice/);
    // Freelist trunk that points to itself and claims too many leaves.
    const f = Buffer.from(clean);
    const trunk = u32(f, 32);
    if (trunk > 0) {
      page(f, trunk).writeUInt32BE(trunk, 0);
      page(f, trunk).writeUInt32BE(0xffffff, 4);
      run(f);
    }
  });

  it('handles a damaged WAL: bad magic, bad header checksum, torn last frame, wrong page size', { timeout: T }, () => {
    const db = fs.readFileSync(walFx.dbPath);
    const wal = fs.readFileSync(walFx.walPath!);
    const good = run(db, wal);
    expect(good.stats.walFramesCommitted).toBeGreaterThan(0);
    const magic = Buffer.from(wal);
    magic.writeUInt32BE(0x12345678, 0);
    expect(run(db, magic).warnings.join()).toMatch(/magic/);
    const ck = Buffer.from(wal);
    ck[24] ^= 1;
    const r1 = run(db, ck);
    expect(r1.stats.walFramesCommitted).toBe(0);
    expect(r1.warnings.join()).toMatch(/header checksum/);
    const torn = wal.subarray(0, wal.length - 1000);
    const r2 = run(db, torn);
    expect(r2.warnings.join()).toMatch(/trailing bytes/);
    const ps = Buffer.from(wal);
    ps.writeUInt32BE(1024, 8);
    run(db, ps);
    run(db, Buffer.alloc(31));
    const rng = new Rng(3);
    const junk = Buffer.alloc(3 * (24 + PS));
    for (let i = 0; i < junk.length; i++) junk[i] = rng.int(0, 255);
    run(db, Buffer.concat([wal.subarray(0, 32), junk]));
  });

  it('stops at the time budget and says the result is partial', { timeout: T }, () => {
    const r = run(clean, null, { maxMs: 0 });
    expect(r.stats.budgetExceeded).toBe(true);
    expect(r.warnings.join()).toMatch(/budget exceeded/);
    const r2 = run(clean, null, { maxBytes: PS * 3 });
    expect(r2.stats.budgetExceeded).toBe(true);
  });

  it('never throws on randomly corrupted pages (seeded fuzz)', { timeout: 60_000 }, () => {
    const rng = new Rng(20261203);
    const db = fs.readFileSync(walFx.dbPath);
    const wal = fs.readFileSync(walFx.walPath!);
    for (let round = 0; round < 25; round++) {
      const b = Buffer.from(clean);
      for (let k = 0; k < 300; k++) b[rng.int(100, b.length - 1)] = rng.int(0, 255);
      run(b);
      const w = Buffer.from(wal);
      for (let k = 0; k < 100; k++) w[rng.int(32, w.length - 1)] = rng.int(0, 255);
      run(db, w);
    }
  });
});
