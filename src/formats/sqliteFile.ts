// SQLite file and WAL structures read from raw bytes (never through SQLite, which would checkpoint a WAL away).
// References: https://www.sqlite.org/fileformat2.html (database header, b-tree pages, cells, record format,
// overflow, freelist, pointer map) and https://www.sqlite.org/walformat.html (WAL header, frames, checksums).
// Every reader here is bounded: it never reads outside the buffer it is given, never loops without a limit,
// and reports a problem as a return value (null / a warning string), never by throwing on hostile bytes.

export const SQLITE_MAGIC = 'SQLite format 3\0';

export interface DbHeader {
  pageSize: number;
  reserved: number;
  usable: number;
  /** Pages according to the header (0 or stale in old files: fall back to the file size). */
  pageCount: number;
  freelistTrunk: number;
  freelistCount: number;
  /** Largest root page when auto-vacuum or incremental vacuum is on, else 0. */
  autoVacuumRoot: number;
  incrementalVacuum: boolean;
  /** 1 UTF-8, 2 UTF-16le, 3 UTF-16be. */
  textEncoding: number;
  schemaFormat: number;
  /** 1 = legacy rollback journal, 2 = WAL (file format read/write versions). */
  writeVersion: number;
}

/** Parse the 100-byte database header, or explain why it is not one. */
export function parseDbHeader(b: Uint8Array, fileSize = b.length): DbHeader | string {
  if (b.length < 100) return 'file shorter than the 100-byte SQLite header';
  for (let i = 0; i < 16; i++) if (b[i] !== SQLITE_MAGIC.charCodeAt(i)) return 'not an SQLite 3 database (bad magic)';
  let pageSize = (b[16] << 8) | b[17];
  if (pageSize === 1) pageSize = 65536;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `invalid page size ${pageSize}`;
  const reserved = b[20];
  const usable = pageSize - reserved;
  if (usable < 480) return `usable page size ${usable} below 480`;
  const dv = new DataView(b.buffer, b.byteOffset, 100);
  const headerCount = dv.getUint32(28);
  const changeCounter = dv.getUint32(24);
  const validFor = dv.getUint32(92);
  const filePages = Math.floor(fileSize / pageSize);
  // The in-header size is valid only when "version-valid-for" equals the change counter (SQLite ≥ 3.7.0).
  const pageCount = headerCount > 0 && validFor === changeCounter ? Math.min(headerCount, Math.max(filePages, headerCount)) : filePages;
  return {
    pageSize,
    reserved,
    usable,
    pageCount,
    freelistTrunk: dv.getUint32(32),
    freelistCount: dv.getUint32(36),
    autoVacuumRoot: dv.getUint32(52),
    incrementalVacuum: dv.getUint32(64) !== 0,
    textEncoding: dv.getUint32(56) || 1,
    schemaFormat: dv.getUint32(44),
    writeVersion: b[18],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Varints. `readVarint` returns a JS number (exact up to 2^53; larger values come back through `vbig`) and sets
// `vlen` to the bytes used, or 0 when the varint runs off `end`.
export let vlen = 0;
export let vbig: bigint | null = null;

export function readVarint(b: Uint8Array, off: number, end: number): number {
  vbig = null;
  let v = 0;
  for (let i = 0; i < 8; i++) {
    if (off + i >= end) {
      vlen = 0;
      return 0;
    }
    const c = b[off + i];
    v = v * 128 + (c & 0x7f);
    if (c < 0x80) {
      vlen = i + 1;
      if (v > Number.MAX_SAFE_INTEGER) {
        vbig = bigVarint(b, off, i + 1);
        return Number(vbig);
      }
      return v;
    }
  }
  if (off + 8 >= end) {
    vlen = 0;
    return 0;
  }
  vlen = 9;
  vbig = bigVarint(b, off, 9);
  if (vbig >= -BigInt(Number.MAX_SAFE_INTEGER) && vbig <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const n = Number(vbig);
    vbig = null;
    return n;
  }
  return Number(vbig);
}

function bigVarint(b: Uint8Array, off: number, len: number): bigint {
  let v = 0n;
  for (let i = 0; i < len; i++) v = len === 9 && i === 8 ? (v << 8n) | BigInt(b[off + i]) : (v << 7n) | BigInt(b[off + i] & 0x7f);
  return BigInt.asIntN(64, v);
}

// ---------------------------------------------------------------------------------------------------------
// Serial types (record format).

/** Bytes a value of this serial type occupies in the record body; -1 for the reserved types 10 and 11. */
export function serialSize(t: number): number {
  if (t < 12) return SERIAL_SIZES[t];
  return (t - (t & 1 ? 13 : 12)) / 2;
}
const SERIAL_SIZES = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1];

export type SqlValue = null | number | bigint | string | Buffer;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf16le = new TextDecoder('utf-16le');
const utf16be = new TextDecoder('utf-16be');

/** Decode one value; text that is not valid UTF-8 comes back as a Buffer tagged by `badText`. */
export function decodeValue(b: Uint8Array, off: number, t: number, enc = 1): SqlValue {
  switch (t) {
    case 0:
      return null;
    case 1:
      return (b[off] << 24) >> 24;
    case 2:
      return (((b[off] << 8) | b[off + 1]) << 16) >> 16;
    case 3:
      return (((b[off] << 16) | (b[off + 1] << 8) | b[off + 2]) << 8) >> 8;
    case 4:
      return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    case 5: {
      const hi = (((b[off] << 8) | b[off + 1]) << 16) >> 16;
      return hi * 4294967296 + (((b[off + 2] << 24) | (b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5]) >>> 0);
    }
    case 6: {
      const hi = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
      const lo = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
      const n = hi * 4294967296 + lo;
      if (Number.isSafeInteger(n)) return n;
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    case 7:
      return new DataView(b.buffer, b.byteOffset + off, 8).getFloat64(0);
    case 8:
      return 0;
    case 9:
      return 1;
    default: {
      const n = serialSize(t);
      // Blobs are views into the page buffer (no copy): callers that keep them copy them (see copyValues).
      const bytes = Buffer.from(b.buffer, b.byteOffset + off, n);
      if (t & 1) {
        if (enc === 2) return utf16le.decode(bytes);
        if (enc === 3) return utf16be.decode(bytes);
        const s = bytes.toString('utf8');
        // Valid UTF-8 round-trips to the same length; a replacement character may also be genuine, so check properly then.
        if (s.indexOf('\uFFFD') < 0) return s;
        try {
          return utf8.decode(bytes);
        } catch {
          badText = true;
          return bytes;
        }
      }
      return bytes;
    }
  }
}
/** Set by decodeValue when a text value was not valid UTF-8 (the caller resets it). */
export let badText = false;
export function resetBadText(): void {
  badText = false;
}

// ---------------------------------------------------------------------------------------------------------
// B-tree pages.

export const PAGE_INDEX_INTERIOR = 2,
  PAGE_TABLE_INTERIOR = 5,
  PAGE_INDEX_LEAF = 10,
  PAGE_TABLE_LEAF = 13;

export interface PageHeader {
  type: number;
  /** Offset of the b-tree header inside the page (100 on page 1). */
  hdr: number;
  firstFreeblock: number;
  cellCount: number;
  contentStart: number;
  fragmented: number;
  rightChild: number;
  /** Offset of the first cell pointer. */
  ptrStart: number;
}

export function parsePageHeader(page: Uint8Array, pgno: number): PageHeader | null {
  const hdr = pgno === 1 ? 100 : 0;
  if (page.length < hdr + 8) return null;
  const type = page[hdr];
  if (type !== 2 && type !== 5 && type !== 10 && type !== 13) return null;
  const interior = type === 2 || type === 5;
  let contentStart = (page[hdr + 5] << 8) | page[hdr + 6];
  if (contentStart === 0) contentStart = 65536;
  return {
    type,
    hdr,
    firstFreeblock: (page[hdr + 1] << 8) | page[hdr + 2],
    cellCount: (page[hdr + 3] << 8) | page[hdr + 4],
    contentStart,
    fragmented: page[hdr + 7],
    rightChild: interior ? ((page[hdr + 8] << 24) | (page[hdr + 9] << 16) | (page[hdr + 10] << 8) | page[hdr + 11]) >>> 0 : 0,
    ptrStart: hdr + (interior ? 12 : 8),
  };
}

export function u32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}
export function u16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** Local bytes of a table-leaf payload of `p` bytes on a page with `usable` usable bytes. */
export function tableLocalSize(p: number, usable: number): number {
  const x = usable - 35;
  if (p <= x) return p;
  const m = Math.floor(((usable - 12) * 32) / 255) - 23;
  const k = m + ((p - m) % (usable - 4));
  return k <= x ? k : m;
}

/** Local bytes of an index payload. */
export function indexLocalSize(p: number, usable: number): number {
  const x = Math.floor(((usable - 12) * 64) / 255) - 23;
  if (p <= x) return p;
  const m = Math.floor(((usable - 12) * 32) / 255) - 23;
  const k = m + ((p - m) % (usable - 4));
  return k <= x ? k : m;
}

export interface FreeRegion {
  start: number;
  end: number;
  kind: 'freeblock' | 'unallocated';
}

/**
 * The free space of a b-tree page: the freeblock chain (bounded: a loop, a block outside the page or out of order
 * ends the walk with a warning) and the unallocated gap between the cell pointer array and the content area.
 */
export function freeRegions(page: Uint8Array, h: PageHeader, usable: number, warn?: (m: string) => void): FreeRegion[] {
  const out: FreeRegion[] = [];
  const ptrEnd = h.ptrStart + 2 * h.cellCount;
  const cs = Math.min(h.contentStart, usable);
  if (ptrEnd < cs) out.push({ start: ptrEnd, end: cs, kind: 'unallocated' });
  let fb = h.firstFreeblock;
  let prev = 0;
  let n = 0;
  while (fb !== 0) {
    if (fb <= prev || fb < ptrEnd || fb + 4 > usable) {
      warn?.(`freeblock chain points to ${fb} (outside the page or backwards): chain cut`);
      break;
    }
    const size = u16(page, fb + 2);
    if (size < 4 || fb + size > usable) {
      warn?.(`freeblock at ${fb} has impossible size ${size}: chain cut`);
      break;
    }
    out.push({ start: fb, end: fb + size, kind: 'freeblock' });
    prev = fb;
    fb = u16(page, fb);
    if (++n > usable / 4) {
      warn?.('freeblock chain too long: cut');
      break;
    }
  }
  return out;
}

export interface Cell {
  /** Offset of the cell in the page. */
  off: number;
  payloadLen: number;
  rowid: number | bigint;
  /** Offset of the payload (record header) in the page. */
  payloadOff: number;
  localLen: number;
  overflow: number;
}

/** Parse a table-leaf cell at `off`; null when it does not fit in `end`. */
export function parseTableLeafCell(page: Uint8Array, off: number, end: number, usable: number): Cell | null {
  const p = readVarint(page, off, end);
  if (vlen === 0 || p < 0) return null;
  let q = off + vlen;
  let rowid: number | bigint = readVarint(page, q, end);
  if (vlen === 0) return null;
  if (vbig !== null) rowid = vbig;
  q += vlen;
  const local = tableLocalSize(p, usable);
  const needs = local + (local < p ? 4 : 0);
  if (q + needs > end) return null;
  return { off, payloadLen: p, rowid, payloadOff: q, localLen: local, overflow: local < p ? u32(page, q + local) : 0 };
}

// ---------------------------------------------------------------------------------------------------------
// Freelist and pointer map.

/** Pointer-map page numbers of an auto-vacuum database with `pageCount` pages. */
export function isPtrmapPage(pgno: number, usable: number): boolean {
  if (pgno < 2) return false;
  const per = Math.floor(usable / 5) + 1;
  return (pgno - 2) % per === 0;
}

// ---------------------------------------------------------------------------------------------------------
// WAL.

export const WAL_MAGIC_LE = 0x377f0682,
  WAL_MAGIC_BE = 0x377f0683;

export interface WalFrame {
  index: number; // 1-based frame number
  offset: number; // file offset of the frame header
  pgno: number;
  commitSize: number; // non-zero on a commit frame: db size in pages after the commit
  salt1: number;
  salt2: number;
  /** Salts match the header and the cumulative checksum holds from the header on. */
  valid: boolean;
  /** Part of a committed transaction (valid and at or before the last valid commit frame). */
  committed: boolean;
  /** 1-based commit sequence of the transaction this frame belongs to (committed frames only). */
  commit: number;
  /** Frame of an earlier WAL generation (other salts) whose checksum chains to the frame before it. */
  oldGeneration: boolean;
}

export interface WalInfo {
  pageSize: number;
  bigEndianChecksum: boolean;
  salt1: number;
  salt2: number;
  checkpointSeq: number;
  frames: WalFrame[];
  commits: number;
  /** Database size in pages after the last commit (0 when nothing is committed). */
  dbSize: number;
  warnings: string[];
}

function walChecksum(b: Uint8Array, off: number, len: number, be: boolean, s0: number, s1: number): [number, number] {
  const dv = new DataView(b.buffer, b.byteOffset + off, len);
  for (let i = 0; i + 8 <= len; i += 8) {
    s0 = (s0 + dv.getUint32(i, !be) + s1) >>> 0;
    s1 = (s1 + dv.getUint32(i + 4, !be) + s0) >>> 0;
  }
  return [s0, s1];
}

/** Random access to a file's bytes (a Uint8Array, or a file read through a descriptor: see src/recovery/pageSource.ts). */
export interface ByteReader {
  readonly length: number;
  /** `len` bytes from `off` (fewer at the end of the file). */
  read(off: number, len: number): Uint8Array;
}

/**
 * Parse a WAL file, given whole or as a reader (frames are read one at a time: a large WAL is never held in memory).
 * A frame's page is the `pageSize` bytes at `offset + 24`. Never throws: a bad header yields no frames and a warning.
 */
export function parseWal(wal: Uint8Array | ByteReader, dbPageSize?: number): WalInfo {
  const src: ByteReader = wal instanceof Uint8Array ? { length: wal.length, read: (o, l) => wal.subarray(o, o + l) } : wal;
  const info: WalInfo = { pageSize: 0, bigEndianChecksum: false, salt1: 0, salt2: 0, checkpointSeq: 0, frames: [], commits: 0, dbSize: 0, warnings: [] };
  const size = src.length;
  if (size === 0) return info;
  if (size < 32) {
    info.warnings.push(`WAL shorter than its 32-byte header (${size} bytes): ignored`);
    return info;
  }
  const w = src.read(0, 32);
  const magic = u32(w, 0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) {
    info.warnings.push(`WAL magic 0x${magic.toString(16)} is neither 0x377f0682 nor 0x377f0683: WAL ignored`);
    return info;
  }
  const be = magic === WAL_MAGIC_BE;
  let pageSize = u32(w, 8);
  if (pageSize === 1) pageSize = 65536;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    if (dbPageSize) {
      info.warnings.push(`WAL header page size ${pageSize} invalid: using the database's ${dbPageSize}`);
      pageSize = dbPageSize;
    } else {
      info.warnings.push(`WAL header page size ${pageSize} invalid: WAL ignored`);
      return info;
    }
  }
  if (dbPageSize && pageSize !== dbPageSize) info.warnings.push(`WAL page size ${pageSize} differs from the database's ${dbPageSize}`);
  info.pageSize = pageSize;
  info.bigEndianChecksum = be;
  info.checkpointSeq = u32(w, 12);
  info.salt1 = u32(w, 16);
  info.salt2 = u32(w, 20);
  let [s0, s1] = walChecksum(w, 0, 24, be, 0, 0);
  const headerOk = s0 === u32(w, 24) && s1 === u32(w, 28);
  if (!headerOk) info.warnings.push('WAL header checksum is wrong: no frame is treated as committed (frames are still examined)');
  const frameSize = 24 + pageSize;
  const n = Math.floor((size - 32) / frameSize);
  if ((size - 32) % frameSize !== 0) info.warnings.push(`WAL has ${(size - 32) % frameSize} trailing bytes after ${n} whole frames`);
  let chainOk = headerOk;
  let lastCommitIdx = -1;
  let prevStored: [number, number] | null = null;
  for (let i = 0; i < n; i++) {
    const off = 32 + i * frameSize;
    const fh = src.read(off, 24);
    const f: WalFrame = {
      index: i + 1,
      offset: off,
      pgno: u32(fh, 0),
      commitSize: u32(fh, 4),
      salt1: u32(fh, 8),
      salt2: u32(fh, 12),
      valid: false,
      committed: false,
      commit: 0,
      oldGeneration: false,
    };
    const stored: [number, number] = [u32(fh, 16), u32(fh, 20)];
    if (chainOk && f.salt1 === info.salt1 && f.salt2 === info.salt2 && f.pgno > 0) {
      [s0, s1] = walChecksum(fh, 0, 8, be, s0, s1);
      [s0, s1] = walChecksum(src.read(off + 24, pageSize), 0, pageSize, be, s0, s1);
      if (s0 === stored[0] && s1 === stored[1]) f.valid = true;
      else chainOk = false;
    } else chainOk = false;
    if (!f.valid && prevStored && f.pgno > 0 && (f.salt1 !== info.salt1 || f.salt2 !== info.salt2)) {
      // An earlier generation: its checksums chain from the previous frame's stored checksum.
      let [a, b] = walChecksum(fh, 0, 8, be, prevStored[0], prevStored[1]);
      [a, b] = walChecksum(src.read(off + 24, pageSize), 0, pageSize, be, a, b);
      f.oldGeneration = a === stored[0] && b === stored[1];
    }
    prevStored = stored;
    if (f.valid && f.commitSize > 0) lastCommitIdx = i;
    info.frames.push(f);
  }
  let commit = 1;
  for (let i = 0; i <= lastCommitIdx; i++) {
    const f = info.frames[i];
    f.committed = true;
    f.commit = commit;
    if (f.commitSize > 0) {
      info.dbSize = f.commitSize;
      commit++;
    }
  }
  info.commits = commit - 1;
  return info;
}
