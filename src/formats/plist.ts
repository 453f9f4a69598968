// Plist reading: binary (bplist-parser) and XML (plist). NSKeyedArchiver resolution for MBFile blobs.
import * as bplist from 'bplist-parser';
import plistXml from 'plist';

/** Hard caps against hostile plists: enough for any real backup plist, small enough not to exhaust memory. */
bplist.setMaxObjectCount(2_000_000);
bplist.setMaxObjectSize(256 * 1024 * 1024);

export class PlistError extends Error {}

/** More objects than this once shared references are expanded: refused before bplist-parser expands them
 *  (it re-expands every shared reference, so a tiny file can take minutes). Real backup plists stay far below. */
export const MAX_EXPANDED_OBJECTS = 500_000;

/** A big-endian unsigned integer of `size` bytes at `at` (bytes past the end read as 0). */
function readUint(b: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + (b[at + i] ?? 0);
  return v;
}

/** The last 32 bytes of a binary plist, as declared (nothing checked yet). */
function bplistTrailer(b: Buffer) {
  const t = b.length - 32;
  return {
    t,
    offSize: b[t + 6],
    refSize: b[t + 7],
    count: b.readBigUInt64BE(t + 8),
    top: b.readBigUInt64BE(t + 16),
    table: b.readBigUInt64BE(t + 24),
  };
}

/** The array, set or dictionary at `at`: its type, declared entries and where its references start; null for any other object. */
function bplistContainer(b: Buffer, at: number): { type: number; n: number; refs: number } | null {
  const type = b[at] >> 4;
  if (type !== 0xa && type !== 0xc && type !== 0xd) return null;
  const n = b[at] & 0xf;
  if (n !== 0xf) return { type, n, refs: at + 1 };
  const w = 1 << (b[at + 1] & 0xf);
  return { type, n: readUint(b, at + 2, w), refs: at + 2 + w };
}

/**
 * How many objects a binary plist becomes once every reference is expanded (bplist-parser expands shared
 * references again each time, without memo or cycle check): Infinity for a cycle, capped at `cap`.
 * 0 when the trailer or offset table is unusable (parsePlist refuses such a file first: bplistStructureProblem). parsePlist runs it
 * before bplist-parser: a 114-byte file of 40 arrays each pointing twice at the next would expand to 2^40 objects.
 */
export function bplistExpandedSize(b: Buffer, cap = 1_000_000): number {
  if (b.length < 40 || b.toString('latin1', 0, 8) !== 'bplist00') return 0;
  const tr = bplistTrailer(b);
  const { t, offSize, refSize } = tr;
  const count = Number(tr.count),
    top = Number(tr.top),
    table = Number(tr.table);
  if (!offSize || !refSize || offSize > 8 || refSize > 8 || count > 10_000_000 || top >= count || table + count * offSize > t) return 0;
  const memo = new Float64Array(count).fill(-1); // -1 not seen, -2 on the current path
  const size = (o: number, depth: number): number => {
    if (o >= count) return 1;
    if (memo[o] === -2 || depth > 5000) return Infinity;
    if (memo[o] >= 0) return memo[o];
    const at = readUint(b, table + o * offSize, offSize);
    if (at >= t) return 1;
    const c = bplistContainer(b, at);
    if (!c) return (memo[o] = 1);
    const n = c.type === 0xd ? c.n * 2 : c.n;
    memo[o] = -2;
    let total = 1;
    for (let k = 0; k < n && total <= cap && c.refs + (k + 1) * refSize <= t; k++) total += size(readUint(b, c.refs + k * refSize, refSize), depth + 1);
    return (memo[o] = Math.min(total, cap + 1));
  };
  return size(top, 0);
}

/**
 * Why bplist-parser must not be handed this binary plist, or null. It trusts every count it reads:
 * - the trailer's object count, for which it builds an offset table first: a 353-byte file declaring 1.9 million
 *   objects of offset size 0 took 340 ms (found by the fuzz test);
 * - an array's or dictionary's length, which it loops over even past the end of the file: a 50-byte file whose
 *   array declared 30 million entries took 12 s and 356 MB.
 * A real plist has offset and reference sizes of 1–8 bytes, its offset table and top object inside the file,
 * and every container's references inside the file.
 */
export function bplistStructureProblem(b: Buffer): string | null {
  if (b.length < 40) return 'too short for a trailer';
  const { t, offSize, refSize, count, top, table } = bplistTrailer(b);
  if (offSize < 1 || offSize > 8 || refSize < 1 || refSize > 8) return `trailer declares offsets of ${offSize} and references of ${refSize} bytes`;
  if (count === 0n || table < 8n || table + count * BigInt(offSize) > BigInt(t)) return `trailer declares ${count} objects whose offset table does not fit in the file`;
  if (top >= count) return `trailer's top object ${top} is not among its ${count} objects`;
  for (let o = 0; o < Number(count); o++) {
    const at = readUint(b, Number(table) + o * offSize, offSize);
    if (at >= t) continue; // bplist-parser fails on it at once
    const c = bplistContainer(b, at);
    if (c && c.refs + (c.type === 0xd ? 2 : 1) * c.n * refSize > t) return `object ${o} declares ${c.n} entries whose references run past the end of the file`;
  }
  return null;
}

export type PlistValue = string | number | bigint | boolean | Date | Buffer | PlistValue[] | { [key: string]: PlistValue } | bplist.UID | null;

/** Parse a binary or XML plist from memory. Throws PlistError with the reason (never a raw parser error). */
export function parsePlist(data: Buffer, name = 'plist'): PlistValue {
  if (data.length === 0) throw new PlistError(`${name} is empty`);
  if (data.subarray(0, 8).toString('latin1') === 'bplist00') {
    const problem = bplistStructureProblem(data);
    if (problem) throw new PlistError(`${name} is a damaged binary plist (${problem})`);
    const expanded = bplistExpandedSize(data, MAX_EXPANDED_OBJECTS);
    if (expanded > MAX_EXPANDED_OBJECTS) {
      throw new PlistError(
        `${name} is a hostile binary plist: its shared references expand to ${Number.isFinite(expanded) ? `more than ${MAX_EXPANDED_OBJECTS.toLocaleString('en-US')} objects` : 'a cycle'}`,
      );
    }
    try {
      const [root] = bplist.parseBuffer(data);
      return root as PlistValue;
    } catch (e) {
      throw new PlistError(`${name} is a damaged binary plist (${(e as Error).message})`);
    }
  }
  const text = data.toString('utf8');
  if (!/^\s*(<\?xml|<!DOCTYPE|<plist)/.test(text)) {
    throw new PlistError(`${name} is neither a binary nor an XML plist`);
  }
  try {
    return plistXml.parse(text) as PlistValue;
  } catch (e) {
    throw new PlistError(`${name} is a damaged XML plist (${(e as Error).message.split('\n')[0]})`);
  }
}

export function isDict(v: unknown): v is Record<string, PlistValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v) && !(v instanceof bplist.UID);
}

function uidIndex(v: unknown): number | null {
  if (v instanceof bplist.UID) return v.UID;
  if (isDict(v) && typeof v['CF$UID'] === 'number') return v['CF$UID'] as number;
  return null;
}

/**
 * Resolve an NSKeyedArchiver plist into plain values: `$top.root` (not `$objects[1]`), UIDs followed,
 * NSData/NSString wrappers unwrapped, `$null` → null. Depth-capped against reference cycles.
 */
export function unarchive(archive: PlistValue, name = 'archive'): PlistValue {
  if (!isDict(archive) || !Array.isArray(archive['$objects']) || !isDict(archive['$top'])) {
    throw new PlistError(`${name} is not an NSKeyedArchiver plist`);
  }
  const objects = archive['$objects'] as PlistValue[];
  const rootIndex = uidIndex((archive['$top'] as Record<string, PlistValue>)['root']);
  if (rootIndex === null || rootIndex < 0 || rootIndex >= objects.length) {
    throw new PlistError(`${name} has no valid $top.root`);
  }
  // Each object is resolved once and shared after that: five levels of 30 keys each naming the next object
  // would otherwise be resolved 30^5 times.
  const done = new Map<number, PlistValue>();
  const resolve = (v: PlistValue, depth: number): PlistValue => {
    if (depth > 32) throw new PlistError(`${name} nests deeper than 32 levels`);
    const idx = uidIndex(v);
    if (idx !== null) {
      if (idx < 0 || idx >= objects.length) throw new PlistError(`${name} references object ${idx} of ${objects.length}`);
      if (done.has(idx)) return done.get(idx)!;
      const r = resolve(objects[idx], depth + 1);
      done.set(idx, r);
      return r;
    }
    if (v === '$null') return null;
    if (Array.isArray(v)) return v.map((x) => resolve(x, depth + 1));
    if (isDict(v)) {
      if ('NS.data' in v) return resolve(v['NS.data'], depth + 1);
      if ('NS.string' in v) return resolve(v['NS.string'], depth + 1);
      if ('NS.time' in v && typeof v['NS.time'] === 'number') return new Date((v['NS.time'] + 978307200) * 1000);
      const out: Record<string, PlistValue> = {};
      for (const [k, val] of Object.entries(v)) {
        if (k === '$class') continue;
        out[k] = resolve(val, depth + 1);
      }
      return out;
    }
    return v;
  };
  return resolve(objects[rootIndex], 0);
}
