// Plist reading: binary (bplist-parser) and XML (plist). NSKeyedArchiver resolution for MBFile blobs.
import * as bplist from 'bplist-parser';
import plistXml from 'plist';

/** Hard caps against hostile plists: enough for any real backup plist, small enough not to exhaust memory. */
bplist.setMaxObjectCount(2_000_000);
bplist.setMaxObjectSize(256 * 1024 * 1024);

export class PlistError extends Error {}

export type PlistValue = string | number | bigint | boolean | Date | Buffer | PlistValue[] | { [key: string]: PlistValue } | bplist.UID | null;

/** Parse a binary or XML plist from memory. Throws PlistError with the reason (never a raw parser error). */
export function parsePlist(data: Buffer, name = 'plist'): PlistValue {
  if (data.length === 0) throw new PlistError(`${name} is empty`);
  if (data.subarray(0, 8).toString('latin1') === 'bplist00') {
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
  const resolve = (v: PlistValue, depth: number): PlistValue => {
    if (depth > 32) throw new PlistError(`${name} nests deeper than 32 levels`);
    const idx = uidIndex(v);
    if (idx !== null) {
      if (idx < 0 || idx >= objects.length) throw new PlistError(`${name} references object ${idx} of ${objects.length}`);
      return resolve(objects[idx], depth + 1);
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
