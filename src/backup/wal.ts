// SQLite write-ahead log check (https://www.sqlite.org/fileformat2.html#walformat). SQLite silently ignores a WAL
// with a bad header and every frame after the first whose salt or checksum does not match, so rows that live only
// in those frames vanish without a word. This counts what SQLite will use and what it will drop, so the drop
// becomes a named warning.
//   header (32 bytes, big-endian): magic 0x377f0682/0x377f0683, format 3007000, page size, checkpoint seq,
//     salt-1, salt-2, checksum-1, checksum-2 (over the first 24 bytes)
//   frame (24-byte header + one page): page number, db size after commit (non-zero marks a commit),
//     salt-1, salt-2, checksum-1, checksum-2 (cumulative, over the frame header's first 8 bytes and the page)
import fs from 'node:fs';
import { openRegular } from './safePath.js';

export interface WalCheck {
  /** Frames the file's size can hold (0 when the header is unusable and the page size unknown). */
  frames: number;
  /** Frames SQLite replays: valid salt and checksum, up to the last commit frame. */
  usable: number;
  /** frames - usable (stale frames from before a checkpoint included). */
  unusable: number;
  /** Frames whose salts match the header (whatever their checksum). */
  saltMatches: number;
  /** Why the whole file, or its tail, is dropped; null when every frame is usable. */
  problem: string | null;
}

const HEADER = 32;
const FRAME_HEADER = 24;

function checksum(buf: Buffer, bigEndian: boolean, s: [number, number]): [number, number] {
  let [s0, s1] = s;
  for (let i = 0; i + 8 <= buf.length; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i);
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

/**
 * Check a WAL file (a regular file: opened without blocking). `dbPageSize`, the main database's page size, lets a
 * WAL with a ruined header still be counted in frames.
 */
export function inspectWal(file: string, dbPageSize?: number | null): WalCheck {
  const fd = openRegular(file);
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return { frames: 0, usable: 0, unusable: 0, saltMatches: 0, problem: null }; // an empty WAL is normal
    const head = Buffer.alloc(HEADER);
    const n = fs.readSync(fd, head, 0, HEADER, 0);
    const isPageSize = (p: number) => p >= 512 && p <= 65536 && (p & (p - 1)) === 0;
    // With a ruined header, count in the database's page size when known, so the warning can say how many frames.
    const none = (problem: string): WalCheck => {
      const frames = dbPageSize && isPageSize(dbPageSize) ? Math.floor(Math.max(0, size - HEADER) / (FRAME_HEADER + dbPageSize)) : 0;
      const what = frames ? `all ${frames} frame(s) (${size} bytes) are unusable` : `all ${size} bytes are unusable`;
      return { frames, usable: 0, unusable: frames, saltMatches: 0, problem: `${problem}: ${what}` };
    };
    if (n < HEADER) return none(`only ${size} bytes, shorter than a WAL header`);
    const magic = head.readUInt32BE(0);
    if (magic !== 0x377f0682 && magic !== 0x377f0683) return none(`not a WAL file (magic 0x${magic.toString(16).padStart(8, '0')})`);
    const pageSize = head.readUInt32BE(8) === 1 ? 65536 : head.readUInt32BE(8);
    if (!isPageSize(pageSize)) return none(`WAL header gives an impossible page size ${head.readUInt32BE(8)}`);
    const frames = Math.floor((size - HEADER) / (FRAME_HEADER + pageSize));
    const bigEndian = magic === 0x377f0683;
    let sum = checksum(head.subarray(0, 24), bigEndian, [0, 0]);
    if (sum[0] !== head.readUInt32BE(24) || sum[1] !== head.readUInt32BE(28)) {
      return { frames, usable: 0, unusable: frames, saltMatches: 0, problem: `WAL header checksum does not match: all ${frames} frame(s) are unusable` };
    }
    const salt1 = head.readUInt32BE(16);
    const salt2 = head.readUInt32BE(20);
    const frame = Buffer.alloc(FRAME_HEADER + pageSize);
    let saltMatches = 0;
    let chainOk = true; // SQLite stops at the first frame that breaks the checksum chain
    let valid = 0;
    let usable = 0;
    for (let i = 0; i < frames; i++) {
      fs.readSync(fd, frame, 0, frame.length, HEADER + i * frame.length);
      const saltOk = frame.readUInt32BE(8) === salt1 && frame.readUInt32BE(12) === salt2;
      if (saltOk) saltMatches++;
      if (!chainOk) continue;
      if (!saltOk) {
        chainOk = false;
        continue;
      }
      sum = checksum(frame.subarray(0, 8), bigEndian, sum);
      sum = checksum(frame.subarray(FRAME_HEADER), bigEndian, sum);
      if (sum[0] !== frame.readUInt32BE(16) || sum[1] !== frame.readUInt32BE(20)) {
        chainOk = false;
        continue;
      }
      valid++;
      if (frame.readUInt32BE(4) !== 0) usable = valid; // a commit frame: everything up to here is replayed
    }
    // Frames with other salts after the chain are normally left over from before the last checkpoint reset
    // (SQLite reuses the file): not a loss. Frames with this header's salts that are not replayed are.
    const lost = saltMatches - usable;
    const unusable = frames - usable;
    let problem: string | null = null;
    if (lost > 0 || (frames > 0 && usable === 0)) {
      const parts = [`${lost} of the ${saltMatches} frame(s) that carry the header's salts are not replayed`];
      if (valid < saltMatches) parts.push(`the checksum chain breaks after frame ${valid}`);
      if (valid > usable) parts.push(`${valid - usable} valid frame(s) follow the last commit`);
      if (frames > saltMatches) parts.push(`${frames - saltMatches} frame(s) carry other salts`);
      problem = `${unusable} of ${frames} WAL frame(s) are unusable (${parts.join('; ')})`;
    }
    return { frames, usable, unusable, saltMatches, problem };
  } finally {
    fs.closeSync(fd);
  }
}

/** Page size from an SQLite database header (offset 16, big-endian; 1 means 65536), or null. */
export function sqlitePageSize(head: Buffer): number | null {
  if (head.length < 18 || head.subarray(0, 16).toString('latin1') !== 'SQLite format 3\0') return null;
  const v = head.readUInt16BE(16);
  return v === 1 ? 65536 : v;
}

/** The warning text for a database's WAL sibling, or null when SQLite will use all of it. */
export function walWarning(name: string, c: WalCheck): string | null {
  return c.problem ? `${name}: ${c.problem}; rows that exist only in those frames are not in the case` : null;
}
