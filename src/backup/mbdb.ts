// Manifest.mbdb (iOS 5–9): the index of a legacy backup, a flat list of big-endian records (docs/ios-formats.md
// §1.5). Each record becomes a ManifestEntry with its MBFile already decoded, so decryption, hashing and coverage
// work as they do for Manifest.db. Every length is checked against the bytes left: a damaged record ends the
// list with a named problem (its offset), and the records before it are kept.
import crypto from 'node:crypto';
import type { ManifestEntry, MBFile } from './manifest.js';

export const MBDB_MAGIC = Buffer.from('mbdb\x05\x00', 'latin1');

export class MbdbError extends Error {}

/** One record as stored; times are Unix seconds. */
export interface MbdbRecord {
  /** Byte offset of the record in Manifest.mbdb. */
  offset: number;
  domain: string;
  relativePath: string;
  target: string | null;
  /** SHA-1 of the payload as iTunes recorded it (empty for folders, links and many files); a view into the file. */
  digest: Buffer | null;
  /** 4-byte protection class + 40-byte wrapped key; null when plain. A view into the file's bytes. */
  encryptionKey: Buffer | null;
  mode: number;
  inode: number;
  uid: number;
  gid: number;
  mtime: number;
  ctime: number;
  btime: number;
  size: number;
  protectionClass: number;
  /** Extended attributes (name → raw value). */
  properties: [string, Buffer][];
}

export interface MbdbParse {
  records: MbdbRecord[];
  /** Why reading stopped early (a damaged record), or null when every byte was read. */
  problem: string | null;
}

/** The fixed part after the five strings: mode u16, inode u64, uid, gid, mtime, ctime, btime u32, size u64, class u8, count u8. */
const FIXED = 40;
/** A string whose u16 length is 0xFFFF is absent. */
const NULL_LEN = 0xffff;

class Damaged extends Error {}

/** Parse Manifest.mbdb. Throws MbdbError only when the header is wrong; damage later is reported in `problem`. */
export function parseMbdb(buf: Buffer): MbdbParse {
  if (buf.length < MBDB_MAGIC.length || !buf.subarray(0, 4).equals(MBDB_MAGIC.subarray(0, 4))) {
    throw new MbdbError(`Manifest.mbdb does not start with "mbdb" (first bytes ${buf.subarray(0, 6).toString('hex') || 'none'}): not a legacy backup manifest`);
  }
  if (buf[4] !== 5 || buf[5] !== 0) {
    throw new MbdbError(`Manifest.mbdb has version ${buf[4]}.${buf[5]}, expected 5.0 (iOS 5–9); not read`);
  }
  const records: MbdbRecord[] = [];
  let pos = MBDB_MAGIC.length;
  let recordStart = pos;
  // The span of the last string read (a hot loop: no per-field allocation but the values themselves).
  let from = 0;
  let to = 0;
  const damaged = (what: string, n: number) => new Damaged(`${what} needs ${n} bytes, ${buf.length - pos} left in the file`);
  /** Read one length-prefixed string into from/to; false when it is absent (0xFFFF). */
  const span = (name: string): boolean => {
    if (pos + 2 > buf.length) throw damaged(`${name} length`, 2);
    const len = buf.readUInt16BE(pos);
    pos += 2;
    if (len === NULL_LEN) return false;
    if (pos + len > buf.length) throw damaged(name, len);
    from = pos;
    to = pos += len;
    return true;
  };
  const text = (name: string): string | null => (span(name) ? buf.toString('utf8', from, to) : null);
  const data = (name: string): Buffer | null => (span(name) && to > from ? buf.subarray(from, to) : null);
  const u64 = (at: number) => buf.readUInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);

  try {
    while (pos < buf.length) {
      recordStart = pos;
      const domain = text('domain') ?? '';
      const relativePath = text('path') ?? '';
      const target = text('link target');
      const digest = data('digest');
      const encryptionKey = data('encryption key');
      if (pos + FIXED > buf.length) throw damaged('fixed fields', FIXED);
      // Offsets in the fixed block: mode 0, inode 2, uid 10, gid 14, mtime 18, ctime 22, btime 26, size 30, class 38, count 39.
      if (buf.readUInt32BE(pos + 30) >= 2 ** 21) throw new Damaged(`size ${buf.readBigUInt64BE(pos + 30)} is not a plausible file size`);
      const rec: MbdbRecord = {
        offset: recordStart,
        domain,
        relativePath,
        target,
        digest,
        encryptionKey,
        mode: buf.readUInt16BE(pos),
        inode: u64(pos + 2),
        uid: buf.readUInt32BE(pos + 10),
        gid: buf.readUInt32BE(pos + 14),
        mtime: buf.readUInt32BE(pos + 18),
        ctime: buf.readUInt32BE(pos + 22),
        btime: buf.readUInt32BE(pos + 26),
        size: u64(pos + 30),
        protectionClass: buf[pos + 38]!,
        properties: [],
      };
      const count = buf[pos + 39]!;
      pos += FIXED;
      for (let i = 0; i < count; i++) {
        const name = text(`property ${i + 1} name`) ?? '';
        rec.properties.push([name, data(`property ${i + 1} value`) ?? Buffer.alloc(0)]);
      }
      records.push(rec);
    }
    return { records, problem: null };
  } catch (e) {
    if (!(e instanceof Damaged)) throw e;
    return {
      records,
      problem: `record ${records.length + 1} at offset ${recordStart} is damaged (${e.message}); the ${records.length} record(s) before it are kept, nothing after it is read`,
    };
  }
}

const S_IFMT = 0o170000;
/** Manifest.db `flags` from the file type bits of the mode: 1 file, 2 folder, 4 symlink (0 for anything else). */
export function flagsForMode(mode: number): number {
  switch (mode & S_IFMT) {
    case 0o100000:
      return 1;
    case 0o040000:
      return 2;
    case 0o120000:
      return 4;
    default:
      return 0;
  }
}

/**
 * The key blob with the record's protection class as its 4-byte little-endian prefix (the MBFile form the decryptor
 * reads). iphone-dataprotection's backup4.py unwraps mbdb keys with the record's class and `key[4:]`, never reading
 * the prefix, so the prefix is not trusted here either; the raw bytes stay in MbdbRecord.encryptionKey.
 */
function keyWithClass(key: Buffer | null, protectionClass: number): Buffer | null {
  if (!key || key.length <= 4) return key;
  const out = Buffer.from(key);
  out.writeUInt32LE(protectionClass, 0);
  return out;
}

/** The MBFile Manifest.db would hold for this record. */
export function mbfileOf(r: MbdbRecord): MBFile {
  return {
    size: r.size,
    mode: r.mode,
    lastModified: r.mtime,
    lastStatusChange: r.ctime,
    birth: r.btime,
    protectionClass: r.protectionClass,
    encryptionKey: keyWithClass(r.encryptionKey, r.protectionClass),
    target: r.target,
    inode: r.inode,
  };
}

// crypto.hash (Node ≥ 20.12) is about 3× faster than createHash for 250,000 short strings.
const sha1Hex: (s: string) => string = typeof crypto.hash === 'function' ? (s) => crypto.hash('sha1', s, 'hex') : (s) => crypto.createHash('sha1').update(s, 'utf8').digest('hex');

/** Manifest entries for the records: fileID = SHA-1 of `domain-relativePath`, as iTunes names the payload. */
export function mbdbEntries(records: readonly MbdbRecord[]): ManifestEntry[] {
  return records.map((r) => ({
    fileID: sha1Hex(`${r.domain}-${r.relativePath}`),
    domain: r.domain,
    relativePath: r.relativePath,
    flags: flagsForMode(r.mode),
    blob: null,
    mbfile: mbfileOf(r),
  }));
}
