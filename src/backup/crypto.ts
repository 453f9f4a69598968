/**
 * Encrypted-backup primitives, node:crypto only (docs/ios-formats.md §2.3, §2.4):
 * RFC 3394 AES key wrap, per-file key unwrap with a protection class key, AES-256-CBC (zero IV) decryption with
 * hand-checked padding and the MBFile Size rule. (The key file lives in keyFile.ts: this module imports nothing of ours.)
 */
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';

export class DecryptError extends Error {
  override name = 'DecryptError';
  /** ciphertext bytes read before the error (decryptFileTo), so a caller knows how much it hashed */
  bytesIn?: number;
  constructor(message: string, bytesIn?: number) {
    super(message);
    if (bytesIn !== undefined) this.bytesIn = bytesIn;
  }
}

const RFC3394_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const ZERO_IV = Buffer.alloc(16);
/** read size of decryptFileTo: 1 MiB, a multiple of the AES block */
export const DECRYPT_CHUNK = 1 << 20;

const WRAP_CIPHERS: Record<number, string> = { 16: 'id-aes128-wrap', 24: 'id-aes192-wrap', 32: 'id-aes256-wrap' };
const ECB_CIPHERS: Record<number, string> = { 16: 'aes-128-ecb', 24: 'aes-192-ecb', 32: 'aes-256-ecb' };
/** node's OpenSSL wrap ciphers are about 4x faster than the block-by-block ECB form (5 vs 22 µs per 40-byte key) */
const HAVE_NATIVE_WRAP = getCiphers().includes('id-aes256-wrap');

function checkWrapArgs(kek: Buffer, data: Buffer, what: string, min: number): void {
  if (!WRAP_CIPHERS[kek.length]) throw new RangeError(`AES key wrap: KEK is ${kek.length} bytes, expected 16, 24 or 32`);
  if (data.length % 8 !== 0 || data.length < min) {
    throw new RangeError(`AES key wrap: ${what} is ${data.length} bytes, expected a multiple of 8 and at least ${min}`);
  }
}

/**
 * RFC 3394 unwrap. Returns the key, or null when the integrity value is not A6A6A6A6A6A6A6A6 (wrong KEK or altered
 * data). Never throws for a wrong key; throws RangeError only for impossible lengths (KEK not 16/24/32 bytes,
 * wrapped data not a multiple of 8 or shorter than 24).
 */
export function aesKeyUnwrap(kek: Buffer, wrapped: Buffer): Buffer | null {
  checkWrapArgs(kek, wrapped, 'wrapped key', 24);
  if (!HAVE_NATIVE_WRAP) return aesKeyUnwrapEcb(kek, wrapped);
  try {
    const d = createDecipheriv(WRAP_CIPHERS[kek.length]!, kek, RFC3394_IV);
    // OpenSSL checks the integrity value inside update(); with a wrong KEK update() throws
    // ("Trying to add data in unsupported state"), so any throw here means "does not unwrap".
    return Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return null;
  }
}

/** RFC 3394 wrap of `key` (a multiple of 8 bytes, at least 16) under `kek`. */
export function aesKeyWrap(kek: Buffer, key: Buffer): Buffer {
  checkWrapArgs(kek, key, 'key to wrap', 16);
  if (!HAVE_NATIVE_WRAP) return aesKeyWrapEcb(kek, key);
  const c = createCipheriv(WRAP_CIPHERS[kek.length]!, kek, RFC3394_IV);
  return Buffer.concat([c.update(key), c.final()]);
}

function xorCounter(a: Buffer, t: number): void {
  // A ^= t, t < 2^32 for any realistic key size
  a.writeUInt32BE((a.readUInt32BE(4) ^ t) >>> 0, 4);
}

/** RFC 3394 unwrap, block by block on AES-ECB (RFC 3394 §2.2.2, index form). Fallback and cross-check. */
export function aesKeyUnwrapEcb(kek: Buffer, wrapped: Buffer): Buffer | null {
  checkWrapArgs(kek, wrapped, 'wrapped key', 24);
  const n = wrapped.length / 8 - 1;
  const ecb = createDecipheriv(ECB_CIPHERS[kek.length]!, kek, null);
  ecb.setAutoPadding(false);
  const a = Buffer.from(wrapped.subarray(0, 8));
  const r = Buffer.from(wrapped.subarray(8));
  const block = Buffer.alloc(16);
  for (let j = 5; j >= 0; j--) {
    for (let i = n; i >= 1; i--) {
      xorCounter(a, n * j + i);
      a.copy(block, 0);
      r.copy(block, 8, (i - 1) * 8, i * 8);
      const b = ecb.update(block);
      b.copy(a, 0, 0, 8);
      b.copy(r, (i - 1) * 8, 8, 16);
    }
  }
  return a.equals(RFC3394_IV) ? r : null;
}

/** RFC 3394 wrap on AES-ECB. Fallback and cross-check. */
export function aesKeyWrapEcb(kek: Buffer, key: Buffer): Buffer {
  checkWrapArgs(kek, key, 'key to wrap', 16);
  const n = key.length / 8;
  const ecb = createCipheriv(ECB_CIPHERS[kek.length]!, kek, null);
  ecb.setAutoPadding(false);
  const a = Buffer.from(RFC3394_IV);
  const r = Buffer.from(key);
  const block = Buffer.alloc(16);
  for (let j = 0; j <= 5; j++) {
    for (let i = 1; i <= n; i++) {
      a.copy(block, 0);
      r.copy(block, 8, (i - 1) * 8, i * 8);
      const b = ecb.update(block);
      b.copy(a, 0, 0, 8);
      xorCounter(a, n * j + i);
      b.copy(r, (i - 1) * 8, 8, 16);
    }
  }
  return Buffer.concat([a, r]);
}

/** Split a 44-byte key blob (ManifestKey, MBFile EncryptionKey): u32 little-endian class, then 40 wrapped bytes. */
export function parseKeyBlob(keyBlob: Buffer): { clas: number; wrapped: Buffer } {
  if (!Buffer.isBuffer(keyBlob)) throw new DecryptError('key blob is not binary data');
  if (keyBlob.length !== 44) {
    throw new DecryptError(`key blob is ${keyBlob.length} bytes, expected 44 (4-byte little-endian class + 40-byte wrapped key)`);
  }
  return { clas: keyBlob.readUInt32LE(0), wrapped: keyBlob.subarray(4) };
}

/** Unwrap a per-file key (or the ManifestKey) with the class key its prefix names. Throws DecryptError. */
export function unwrapWithClass(classKeys: Map<number, Buffer>, keyBlob: Buffer): Buffer {
  const { clas, wrapped } = parseKeyBlob(keyBlob);
  const ck = classKeys.get(clas);
  if (!ck) {
    const have = [...classKeys.keys()].sort((a, b) => a - b).join(', ') || 'none';
    throw new DecryptError(`no key for protection class ${clas} (unlocked classes: ${have})`);
  }
  if (ck.length !== 32) throw new DecryptError(`class ${clas} key is ${ck.length} bytes, expected 32`);
  const key = aesKeyUnwrap(ck, wrapped);
  if (!key) throw new DecryptError(`file key does not unwrap with the class ${clas} key (RFC 3394 integrity check failed)`);
  if (key.length !== 32) throw new DecryptError(`file key unwrapped to ${key.length} bytes, expected 32`);
  return key;
}

function checkAesKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== 32) {
    throw new DecryptError(`AES-256 key is ${Buffer.isBuffer(key) ? `${key.length} bytes` : 'not binary data'}, expected 32`);
  }
}

function checkCipherLength(n: number, bytesIn?: number): void {
  if (n === 0) throw new DecryptError('ciphertext is empty (an encrypted file holds at least one 16-byte block)', bytesIn);
  if (n % 16 !== 0) throw new DecryptError(`ciphertext length ${n} is not a multiple of 16 (truncated or not encrypted)`, bytesIn);
}

/** Number of padding bytes in the last 16-byte plaintext block; throws unless 1 <= n <= 16 and all n bytes equal n. */
function paddingLength(lastBlock: Buffer, bytesIn?: number): number {
  const n = lastBlock[lastBlock.length - 1]!;
  let ok = n >= 1 && n <= 16;
  for (let i = lastBlock.length - n; ok && i < lastBlock.length; i++) ok = lastBlock[i] === n;
  if (!ok) {
    throw new DecryptError(`invalid padding after decryption (last block ends ${lastBlock.subarray(-4).toString('hex')}): wrong key or altered ciphertext`, bytesIn);
  }
  return n;
}

function sizeNote(plainLength: number, expectedSize: number | undefined): string | undefined {
  if (expectedSize === undefined || plainLength === expectedSize) return undefined;
  return plainLength > expectedSize
    ? `decrypted ${plainLength} bytes, MBFile Size is ${expectedSize}: truncated to Size`
    : `decrypted ${plainLength} bytes, MBFile Size is ${expectedSize}: ${expectedSize - plainLength} bytes short`;
}

function checkExpectedSize(expectedSize: number | undefined): void {
  if (expectedSize !== undefined && !(Number.isSafeInteger(expectedSize) && expectedSize >= 0)) {
    throw new RangeError(`expected size ${expectedSize} is not a non-negative integer`);
  }
}

/**
 * Decrypt in memory (Manifest.db, small files): AES-256-CBC, zero IV, padding checked by hand and removed; when
 * `expectedSize` is given, a longer plaintext is truncated to it and the note says so, a shorter one is kept whole.
 */
export function decryptBufferReport(data: Buffer, key: Buffer, expectedSize?: number): { plain: Buffer; sizeMismatch?: string } {
  checkAesKey(key);
  checkExpectedSize(expectedSize);
  checkCipherLength(data.length);
  const d = createDecipheriv('aes-256-cbc', key, ZERO_IV);
  d.setAutoPadding(false);
  const out = Buffer.concat([d.update(data), d.final()]);
  const plainLength = out.length - paddingLength(out.subarray(out.length - 16));
  const sizeMismatch = sizeNote(plainLength, expectedSize);
  const plain = out.subarray(0, expectedSize !== undefined ? Math.min(plainLength, expectedSize) : plainLength);
  return sizeMismatch ? { plain, sizeMismatch } : { plain };
}

/**
 * Same rules as decryptBufferReport, but strict about Size, as in-memory extraction is in JSH: any difference from
 * `expectedSize` throws DecryptError. Use decryptBufferReport to keep the data and record the difference instead.
 */
export function decryptBuffer(data: Buffer, key: Buffer, expectedSize?: number): Buffer {
  const { plain, sizeMismatch } = decryptBufferReport(data, key, expectedSize);
  if (sizeMismatch) throw new DecryptError(sizeMismatch.replace(': truncated to Size', ''));
  return plain;
}

/** AES-256-CBC, zero IV, PKCS#7 padding (1..16 bytes; an empty input gives one block). For fixture builders. */
export function encryptBuffer(plain: Buffer, key: Buffer): Buffer {
  checkAesKey(key);
  const c = createCipheriv('aes-256-cbc', key, ZERO_IV);
  return Buffer.concat([c.update(plain), c.final()]);
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<number> {
  for (let off = 0; off < data.length; ) off += (await fh.write(data, off, data.length - off)).bytesWritten;
  return data.length;
}

export interface DecryptFileResult {
  bytesIn: number;
  bytesOut: number;
  sizeMismatch?: string;
}

/**
 * Stream-decrypt `srcPath` to `dstPath` (created or overwritten) in 1 MiB reads: AES-256-CBC, zero IV, padding
 * checked and removed by hand on the last block, then truncated to `expectedSize` when the plaintext is longer
 * (`sizeMismatch` says so; a shorter plaintext is kept and also reported, not thrown, as in JSH's streaming path).
 *
 * `onChunk` gets every ciphertext byte, in order, as it is read, so the caller can hash the evidence in the same
 * pass; each chunk is a fresh buffer. It sees the whole file even when a DecryptError follows (bad length, bad
 * padding): the error's `bytesIn` says how much was read. On any error `dstPath` is removed if this call created it.
 */
export async function decryptFileTo(
  srcPath: string,
  dstPath: string,
  key: Buffer,
  expectedSize: number | undefined,
  onChunk?: (cipherChunk: Buffer) => void,
): Promise<DecryptFileResult> {
  checkAesKey(key);
  checkExpectedSize(expectedSize);
  // O_NONBLOCK + the isFile check: a FIFO swapped in for the payload must not block the read forever.
  const src = await open(srcPath, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  let dst: FileHandle | undefined;
  let pendingWrite: Promise<void> = Promise.resolve();
  let bytesIn = 0;
  try {
    const st = await src.stat();
    if (!st.isFile()) throw new DecryptError(`${srcPath} is not a regular file; not read`);
    const size = st.size;
    const existing = await stat(dstPath).catch(() => undefined);
    if (existing && existing.dev === st.dev && existing.ino === st.ino) {
      throw new DecryptError(`refusing to decrypt ${srcPath} onto itself (${dstPath})`);
    }
    // A length that cannot be CBC ciphertext: still read the file through onChunk (the evidence hash), write nothing.
    const decrypt = size > 0 && size % 16 === 0;
    const d = createDecipheriv('aes-256-cbc', key, ZERO_IV);
    d.setAutoPadding(false);
    if (decrypt) dst = await open(dstPath, 'w');
    let held: Buffer = Buffer.alloc(0); // the last plaintext block, written once we know it is not the final one
    let written = 0;
    // Overlap I/O with the crypto: the next read and the previous write run on the thread pool while this chunk is
    // hashed (onChunk) and decrypted on the main thread. At most one read and one write are in flight.
    const readAt = (pos: number) => {
      const buf = Buffer.allocUnsafe(DECRYPT_CHUNK); // fresh per chunk: onChunk may keep it
      const p = src.read(buf, 0, DECRYPT_CHUNK, pos).then(({ bytesRead }) => (bytesRead === DECRYPT_CHUNK ? buf : buf.subarray(0, bytesRead)));
      p.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      return p;
    };
    let nextRead = readAt(0);
    for (;;) {
      const chunk = await nextRead;
      if (chunk.length === 0) break;
      bytesIn += chunk.length;
      nextRead = readAt(bytesIn);
      onChunk?.(chunk);
      if (!dst) continue;
      const out = d.update(chunk); // whole blocks only (padding off), so out.length % 16 === 0
      if (out.length === 0) continue;
      const body = out.subarray(0, out.length - 16);
      const parts = held.length ? [held, body] : [body];
      held = out.subarray(out.length - 16);
      await pendingWrite;
      const fh = dst;
      pendingWrite = (async () => {
        for (const p of parts) written += await writeAll(fh, p);
      })();
      pendingWrite.catch(() => undefined);
    }
    await pendingWrite;
    checkCipherLength(bytesIn, bytesIn); // also catches a file that changed size while it was read
    if (!dst) throw new DecryptError(`ciphertext length changed while reading (stat said ${size}, read ${bytesIn})`, bytesIn);
    d.final(); // nothing left over: bytesIn is a multiple of 16
    const pad = paddingLength(held, bytesIn);
    written += await writeAll(dst, held.subarray(0, 16 - pad));
    const sizeMismatch = sizeNote(written, expectedSize);
    let bytesOut = written;
    if (expectedSize !== undefined && written > expectedSize) {
      await dst.truncate(expectedSize);
      bytesOut = expectedSize;
    }
    await dst.close();
    dst = undefined;
    return sizeMismatch ? { bytesIn, bytesOut, sizeMismatch } : { bytesIn, bytesOut };
  } catch (err) {
    if (dst) {
      await pendingWrite.catch(() => undefined); // never close under a write in flight
      await dst.close().catch(() => undefined);
      await rm(dstPath, { force: true }).catch(() => undefined);
    }
    if (err instanceof DecryptError && err.bytesIn === undefined) err.bytesIn = bytesIn;
    throw err;
  } finally {
    await src.close().catch(() => undefined);
  }
}
