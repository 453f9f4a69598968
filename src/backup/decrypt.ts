/**
 * The Decryptor for encrypted backups (docs/ios-formats.md §2): Manifest.plist BackupKeyBag → class keys (from the
 * password, or from a key file saved earlier) → ManifestKey → Manifest.db, and per-file keys (MBFile
 * EncryptionKey) → each payload, streamed into its working copy. Nothing here logs or stores the password.
 */
import { constants as fsConstants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { pbkdf2Sync } from 'node:crypto';
import type { Decryptor } from './backup.js';
import type { MBFile } from './manifest.js';
import type { PlistValue } from '../formats/plist.js';
import { DecryptError, decryptBufferReport, decryptFileTo, unwrapWithClass } from './crypto.js';
import { KeyFileError, loadKeyFile } from './keyFile.js';
import { deriveKeyEncryptionKey, KeybagError, parseKeybag, unlockClassKeys, WrongPasswordError, type ClassUnlockNote, type Keybag } from './keybag.js';

/** Where the class keys come from. `password` wins over `keyFile` when both are given. */
export interface KeySource {
  password?: string;
  keyFile?: string;
  /** Told before the slow PBKDF2 starts, with an estimate in seconds (for a "deriving key…" line). */
  onDeriving?: (estimateS: number) => void;
}

export class BackupDecryptor implements Decryptor {
  /** Classes the keybag holds but that could not be unwrapped (device-wrapped, Curve25519…). */
  readonly skipped: ClassUnlockNote[];

  constructor(
    readonly keybag: Keybag,
    readonly classKeys: Map<number, Buffer>,
    private readonly manifestKey: Buffer | null,
    skipped: ClassUnlockNote[] = [],
  ) {
    this.skipped = skipped;
  }

  decryptManifest(data: Buffer): Buffer {
    if (!this.manifestKey) throw new DecryptError('Manifest.plist has no ManifestKey, so the encrypted Manifest.db cannot be decrypted');
    try {
      const key = unwrapWithClass(this.classKeys, this.manifestKey);
      // No Size to check against: padding is checked and removed, and the caller checks the SQLite header.
      return decryptBufferReport(data, key).plain;
    } catch (e) {
      if (e instanceof DecryptError) throw new DecryptError(`Manifest.db cannot be decrypted: ${e.message}`);
      throw e;
    }
  }

  async decryptFile(src: string, dst: string, mb: MBFile, onCipherChunk: (chunk: Buffer) => void): Promise<{ note: string | null }> {
    if (!mb.encryptionKey) throw new DecryptError('MBFile has no EncryptionKey');
    let key: Buffer;
    try {
      key = unwrapWithClass(this.classKeys, mb.encryptionKey);
    } catch (e) {
      // Still read the evidence through the hash, so the case file records what was there.
      await hashOnly(src, onCipherChunk);
      throw e;
    }
    const notes: string[] = [];
    const prefix = mb.encryptionKey.readUInt32LE(0);
    if (mb.protectionClass != null && mb.protectionClass !== prefix) {
      notes.push(`EncryptionKey names protection class ${prefix}, MBFile ProtectionClass is ${mb.protectionClass} (used the key's class)`);
    }
    const r = await decryptFileTo(src, dst, key, mb.size ?? undefined, onCipherChunk);
    if (r.sizeMismatch) notes.push(r.sizeMismatch);
    return { note: notes.length ? notes.join('; ') : null };
  }
}

async function hashOnly(src: string, onChunk: (c: Buffer) => void): Promise<void> {
  const fh = await open(src, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK); // never block on a FIFO
  try {
    if (!(await fh.stat()).isFile()) throw new DecryptError(`${src} is not a regular file; not read`);
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      onChunk(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/** The keybag and ManifestKey from Manifest.plist. Throws KeybagError when they are missing or malformed. */
export function keybagFromManifest(manifestPlist: Record<string, PlistValue>): { keybag: Keybag; manifestKey: Buffer | null } {
  const raw = manifestPlist['BackupKeyBag'];
  if (!Buffer.isBuffer(raw)) throw new KeybagError('Manifest.plist has no BackupKeyBag: cannot decrypt this backup');
  let keybag: Keybag;
  try {
    keybag = parseKeybag(raw);
  } catch (e) {
    if (e instanceof KeybagError) throw new KeybagError(`Manifest.plist BackupKeyBag: ${e.message}`);
    throw e;
  }
  const mk = manifestPlist['ManifestKey'];
  if (mk !== undefined && (!Buffer.isBuffer(mk) || mk.length !== 44)) {
    throw new KeybagError(`Manifest.plist ManifestKey is ${Buffer.isBuffer(mk) ? `${mk.length} bytes` : 'not data'}, expected 44 (4-byte class + 40-byte wrapped key)`);
  }
  return { keybag, manifestKey: Buffer.isBuffer(mk) ? mk : null };
}

/** Measured PBKDF2 rate (iterations/s) for one hash, from a short run; used only for the time estimate. */
function pbkdf2Rate(digest: 'sha256' | 'sha1'): number {
  const n = 20_000;
  const t = performance.now();
  pbkdf2Sync('x', 'salt', n, 32, digest);
  return n / Math.max((performance.now() - t) / 1000, 1e-6);
}

/** Rough seconds the key derivation for this keybag will take on this machine. */
export function estimateDerivationSeconds(kb: Keybag): number {
  return (kb.dpic ? kb.dpic / pbkdf2Rate('sha256') : 0) + kb.iter / pbkdf2Rate('sha1');
}

/**
 * Unlock an encrypted backup's class keys from the password (two PBKDF2 rounds, §2.2) or a key file.
 * Throws WrongPasswordError right after the derivation when no class key unwraps; KeybagError / KeyFileError
 * for a bad keybag or key file.
 */
export async function unlockBackup(manifestPlist: Record<string, PlistValue>, src: KeySource): Promise<BackupDecryptor> {
  const { keybag, manifestKey } = keybagFromManifest(manifestPlist);
  if (src.password !== undefined) {
    src.onDeriving?.(estimateDerivationSeconds(keybag));
    const kek = await deriveKeyEncryptionKey(src.password, keybag);
    const notes: ClassUnlockNote[] = [];
    const keys = unlockClassKeys(keybag, kek, notes);
    return new BackupDecryptor(keybag, keys, manifestKey, notes);
  }
  if (src.keyFile !== undefined) {
    // MVT / iOSbackup style: 64 hex digits holding the derived password key itself (the KEK).
    const text = await readFile(src.keyFile, 'utf8').catch(() => '');
    if (/^\s*[0-9a-f]{64}\s*$/i.test(text)) {
      const notes: ClassUnlockNote[] = [];
      try {
        return new BackupDecryptor(keybag, unlockClassKeys(keybag, Buffer.from(text.trim(), 'hex'), notes), manifestKey, notes);
      } catch (e) {
        if (e instanceof WrongPasswordError) throw new KeyFileError(`key file ${src.keyFile} holds a derived key that does not unlock this backup's keybag`);
        throw e;
      }
    }
    return new BackupDecryptor(keybag, await loadKeyFile(src.keyFile, keybag), manifestKey);
  }
  throw new KeybagError('this backup is encrypted: give the password or a key file');
}

/** A short description of the keybag for `info` (no password needed): KDF rounds and an estimate, or the problem. */
export function describeKeybag(manifestPlist: Record<string, PlistValue> | null): { ok: boolean; text: string } {
  if (!manifestPlist) return { ok: false, text: 'no Manifest.plist' };
  try {
    const { keybag: kb, manifestKey } = keybagFromManifest(manifestPlist);
    const n = (v: number) => v.toLocaleString('en-US');
    const rounds = kb.dpsl ? `PBKDF2-SHA256 ${n(kb.dpic!)} + PBKDF2-SHA1 ${n(kb.iter)} rounds` : `PBKDF2-SHA1 ${n(kb.iter)} rounds (pre-iOS 10.2 keybag)`;
    return { ok: true, text: `${rounds}, about ${estimateDerivationSeconds(kb).toFixed(1)} s to derive; ${kb.classKeys.size} class keys${manifestKey ? '' : '; no ManifestKey'}` };
  } catch (e) {
    return { ok: false, text: (e as Error).message };
  }
}
