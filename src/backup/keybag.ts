/**
 * Backup keybag (Manifest.plist `BackupKeyBag`): strict TLV parser, password key derivation, class-key unwrap
 * (the builder for test fixtures is fixtures/keybagBuilder.ts). See docs/ios-formats.md §2.1-§2.3.
 *
 * TLV: `tag` (4 bytes, A-Z/0-9), `length` (u32 big-endian), `value`. Integer tags are u32 big-endian and must be
 * exactly 4 bytes. The first UUID is the keybag UUID; every later UUID opens a class-key record, and the record tags
 * (CLAS WRAP KTYP WPKY PBKY) that follow belong to it. Anything else is a keybag-level attribute.
 */
import { pbkdf2 as pbkdf2Cb } from 'node:crypto';
import { promisify } from 'node:util';
import { aesKeyUnwrap } from './crypto.js';

const pbkdf2 = promisify(pbkdf2Cb);

export interface ClassKey {
  clas: number;
  wrap: number;
  ktyp: number;
  wpky?: Buffer;
  pbky?: Buffer;
  uuid?: Buffer;
}
export interface Keybag {
  uuid: Buffer;
  /** keybag type with the iOS 5+ flag bits masked off (`& 0x3FFFFFFF`): 0 system, 1 backup, 2 escrow, 3 OTA */
  type: number;
  version?: number;
  wrap?: number;
  salt: Buffer;
  iter: number;
  dpsl?: Buffer;
  dpic?: number;
  dpwt?: number;
  hmck?: Buffer;
  classKeys: Map<number, ClassKey>;
  /** tags this parser does not interpret, in order of appearance (kept for the processing log) */
  unknownTags?: string[];
}

export class KeybagError extends Error {
  override name = 'KeybagError';
}
export class WrongPasswordError extends Error {
  override name = 'WrongPasswordError';
}

/**
 * Iteration caps, so a hostile keybag cannot stall the process. Real backups use DPIC = 10,000,000 (SHA-256) and
 * ITER = 10,000 (SHA-1); pre-10.2 keybags (no DPSL) use ITER = 10,000 on the raw password. DPIC may be 2x the real
 * value, ITER 1000x. Measured on the dev machine (node 20, OpenSSL 3): 10M SHA-256 + 10k SHA-1 rounds = 1.55 s;
 * DPIC at its cap about 3.1 s; ITER at its cap (10M SHA-1) 3.0 s; so the worst accepted keybag costs about 6 s.
 * Exceeding a cap throws KeybagError naming the field and the value; parseKeybag's options can raise the caps.
 */
export const ITERATION_LIMITS = { DPIC: 20_000_000, ITER: 10_000_000 } as const;
/** The largest iteration count accepted for any field (DPIC); ITER is capped lower, see ITERATION_LIMITS. */
export const MAX_ITERATIONS: number = ITERATION_LIMITS.DPIC;

export interface ParseKeybagOptions {
  /** override the caps, e.g. for a keybag known to be genuine; both must still be >= 1 */
  maxDpic?: number;
  maxIter?: number;
}

const CLASS_TAGS = new Set(['CLAS', 'WRAP', 'KTYP', 'WPKY', 'PBKY']);
const INT_TAGS = new Set(['VERS', 'TYPE', 'WRAP', 'ITER', 'DPWT', 'DPIC', 'CLAS', 'KTYP']);
const KNOWN_TOP = new Set(['VERS', 'TYPE', 'UUID', 'HMCK', 'WRAP', 'SALT', 'ITER', 'DPWT', 'DPIC', 'DPSL', 'SIGN']);
const TAG_RE = /^[A-Z0-9]{4}$/;

export const WRAP_DEVICE = 1;
export const KEYBAG_TYPE_BACKUP = 1;
export const WRAP_PASSCODE = 2;
export const KTYP_AES = 0;
export const KTYP_CURVE25519 = 1;

interface RawRecord {
  offset: number;
  tags: Map<string, Buffer | number>;
}

/** Parse a backup keybag. Throws KeybagError (with the byte offset where it applies) on any structural problem. */
export function parseKeybag(buf: Buffer, opts: ParseKeybagOptions = {}): Keybag {
  if (!Buffer.isBuffer(buf)) throw new KeybagError('keybag is not binary data');
  if (buf.length === 0) throw new KeybagError('keybag is empty (0 bytes)');
  const top = new Map<string, Buffer | number>();
  const records: RawRecord[] = [];
  const unknownTags: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 8) {
      throw new KeybagError(`truncated TLV header at offset ${pos}: ${buf.length - pos} byte(s) left, need 8`);
    }
    const tag = buf.toString('latin1', pos, pos + 4);
    if (!TAG_RE.test(tag)) {
      throw new KeybagError(`bad TLV tag ${JSON.stringify(tag)} (hex ${buf.subarray(pos, pos + 4).toString('hex')}) at offset ${pos}`);
    }
    const len = buf.readUInt32BE(pos + 4);
    if (len > buf.length - pos - 8) {
      throw new KeybagError(`TLV ${tag} at offset ${pos} claims ${len} bytes, only ${buf.length - pos - 8} left`);
    }
    const raw = buf.subarray(pos + 8, pos + 8 + len);
    let value: Buffer | number;
    if (INT_TAGS.has(tag)) {
      if (len !== 4) throw new KeybagError(`TLV ${tag} at offset ${pos} is ${len} bytes, an integer tag must be 4`);
      value = raw.readUInt32BE(0);
    } else {
      value = Buffer.from(raw); // own copy: the caller's buffer may be reused
    }
    if (tag === 'UUID' && top.has('UUID')) {
      records.push({ offset: pos, tags: new Map([['UUID', value]]) });
    } else if (records.length > 0 && CLASS_TAGS.has(tag)) {
      const rec = records[records.length - 1]!;
      if (rec.tags.has(tag)) throw new KeybagError(`duplicate ${tag} in the class record starting at offset ${rec.offset} (second at offset ${pos})`);
      rec.tags.set(tag, value);
    } else {
      if (top.has(tag)) throw new KeybagError(`duplicate keybag-level ${tag} at offset ${pos}`);
      if (!KNOWN_TOP.has(tag)) unknownTags.push(tag);
      top.set(tag, value);
    }
    pos += 8 + len;
  }

  const bytes = (tag: string, required: boolean): Buffer | undefined => {
    const v = top.get(tag);
    if (v === undefined) {
      if (required) throw new KeybagError(`keybag has no ${tag}`);
      return undefined;
    }
    if (!Buffer.isBuffer(v) || v.length === 0) throw new KeybagError(`keybag ${tag} is empty`);
    return v;
  };
  const int = (tag: string): number | undefined => top.get(tag) as number | undefined;

  const uuid = bytes('UUID', true)!;
  const salt = bytes('SALT', true)!;
  const iter = int('ITER');
  if (iter === undefined) throw new KeybagError('keybag has no ITER');
  checkIterations('ITER', iter, opts.maxIter ?? ITERATION_LIMITS.ITER);
  const dpsl = bytes('DPSL', false);
  const dpic = int('DPIC');
  if (dpsl && dpic === undefined) throw new KeybagError('keybag has DPSL but no DPIC');
  if (dpic !== undefined) checkIterations('DPIC', dpic, opts.maxDpic ?? ITERATION_LIMITS.DPIC);
  const type = int('TYPE');
  if (type === undefined) throw new KeybagError('keybag has no TYPE');

  const classKeys = new Map<number, ClassKey>();
  for (const rec of records) {
    const clasRaw = rec.tags.get('CLAS') as number | undefined;
    if (clasRaw === undefined) throw new KeybagError(`class record at offset ${rec.offset} has no CLAS`);
    const clas = clasRaw & 0xf;
    if (classKeys.has(clas)) throw new KeybagError(`class ${clas} appears twice (second record at offset ${rec.offset})`);
    const ck: ClassKey = {
      clas,
      wrap: (rec.tags.get('WRAP') as number | undefined) ?? 0,
      ktyp: (rec.tags.get('KTYP') as number | undefined) ?? KTYP_AES,
      uuid: rec.tags.get('UUID') as Buffer,
    };
    const wpky = rec.tags.get('WPKY') as Buffer | undefined;
    const pbky = rec.tags.get('PBKY') as Buffer | undefined;
    if (wpky) ck.wpky = wpky;
    if (pbky) ck.pbky = pbky;
    classKeys.set(clas, ck);
  }
  if (classKeys.size === 0) throw new KeybagError('keybag has no class-key records');

  const kb: Keybag = { uuid, type: type & 0x3fffffff, salt, iter, classKeys };
  const version = int('VERS');
  const wrap = int('WRAP');
  const dpwt = int('DPWT');
  const hmck = bytes('HMCK', false);
  if (version !== undefined) kb.version = version;
  if (wrap !== undefined) kb.wrap = wrap;
  if (dpsl) {
    kb.dpsl = dpsl;
    kb.dpic = dpic!;
  }
  if (dpwt !== undefined) kb.dpwt = dpwt;
  if (hmck) kb.hmck = hmck;
  if (unknownTags.length) kb.unknownTags = unknownTags;
  return kb;
}

function checkIterations(field: 'ITER' | 'DPIC', value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new KeybagError(`keybag ${field}=${value} is not a positive iteration count`);
  if (value > max) {
    throw new KeybagError(`keybag ${field}=${value.toLocaleString('en-US')} exceeds the cap of ${max.toLocaleString('en-US')} iterations (refusing to run a KDF that long)`);
  }
}

/**
 * The password key (KEK) that unwraps the class keys. With DPSL: PBKDF2-SHA256(password, DPSL, DPIC) then
 * PBKDF2-SHA1(that, SALT, ITER); without: PBKDF2-SHA1(password, SALT, ITER). 32 bytes. Runs on libuv's thread pool.
 * The caps are checked again here, because a Keybag may be built by hand.
 */
export async function deriveKeyEncryptionKey(password: string, kb: Keybag, opts: ParseKeybagOptions = {}): Promise<Buffer> {
  checkIterations('ITER', kb.iter, opts.maxIter ?? ITERATION_LIMITS.ITER);
  let secret: Buffer = Buffer.from(password, 'utf8');
  if (kb.dpsl) {
    if (kb.dpic === undefined) throw new KeybagError('keybag has DPSL but no DPIC');
    checkIterations('DPIC', kb.dpic, opts.maxDpic ?? ITERATION_LIMITS.DPIC);
    secret = await pbkdf2(secret, kb.dpsl, kb.dpic, 32, 'sha256');
  }
  return pbkdf2(secret, kb.salt, kb.iter, 32, 'sha1');
}

export interface ClassUnlockNote {
  clas: number;
  reason: string;
}
export interface UnlockResult {
  keys: Map<number, Buffer>;
  /** classes not unwrapped, with why: device-wrapped, Curve25519, odd WPKY size, or a failed integrity check */
  skipped: ClassUnlockNote[];
}

/** Unwrap every password-wrapped AES class key; see unlockClassKeys. Never throws for a wrong KEK. */
export function unlockClassKeysDetailed(kb: Keybag, kek: Buffer): UnlockResult {
  const keys = new Map<number, Buffer>();
  const skipped: ClassUnlockNote[] = [];
  for (const ck of [...kb.classKeys.values()].sort((a, b) => a.clas - b.clas)) {
    if (!(ck.wrap & WRAP_PASSCODE)) {
      skipped.push({ clas: ck.clas, reason: `WRAP=${ck.wrap} is not password-wrapped (needs the device UID key)` });
      continue;
    }
    if (ck.ktyp !== KTYP_AES) {
      skipped.push({ clas: ck.clas, reason: `KTYP=${ck.ktyp}${ck.ktyp === KTYP_CURVE25519 ? ' (Curve25519)' : ''} is not supported` });
      continue;
    }
    if (ck.wpky?.length !== 40) {
      skipped.push({ clas: ck.clas, reason: `WPKY is ${ck.wpky ? `${ck.wpky.length} bytes` : 'missing'}, expected 40` });
      continue;
    }
    const key = aesKeyUnwrap(kek, ck.wpky);
    if (!key) {
      skipped.push({ clas: ck.clas, reason: 'RFC 3394 integrity check failed' });
      continue;
    }
    if (ck.wrap & WRAP_DEVICE && kb.type !== KEYBAG_TYPE_BACKUP) {
      // the password layer checked out, but the key is still wrapped with the device UID key. A backup keybag is
      // portable, so there the password unwrap is the whole story whatever bit 1 says (JSH, check-backup.py)
      skipped.push({ clas: ck.clas, reason: `WRAP=${ck.wrap}: also device-wrapped (needs the device UID key)` });
      continue;
    }
    keys.set(ck.clas, key);
  }
  return { keys, skipped };
}

/**
 * Unwrap every class key with WRAP&2 and a 40-byte WPKY. Classes that cannot be unwrapped are skipped and, when
 * `notes` is given, appended to it. Throws WrongPasswordError when integrity checks failed and nothing unwrapped,
 * KeybagError when the keybag has no usable password-wrapped AES class key at all.
 */
export function unlockClassKeys(kb: Keybag, kek: Buffer, notes?: ClassUnlockNote[]): Map<number, Buffer> {
  const { keys, skipped } = unlockClassKeysDetailed(kb, kek);
  notes?.push(...skipped);
  if (keys.size > 0) return keys;
  const failed = skipped.filter((s) => s.reason.startsWith('RFC 3394'));
  if (failed.length > 0) {
    const which = failed.length > 3 ? `all ${failed.length} password-wrapped classes` : `class${failed.length > 1 ? 'es' : ''} ${failed.map((f) => f.clas).join(', ')}`;
    throw new WrongPasswordError(`wrong backup password: no class key unwraps (RFC 3394 integrity check failed for ${which})`);
  }
  throw new KeybagError(`keybag has no usable password-wrapped AES class key (${skipped.map((s) => `class ${s.clas}: ${s.reason}`).join('; ')})`);
}
