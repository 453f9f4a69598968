// Key file: the unwrapped class keys of one keybag, so later runs skip the PBKDF2 (10M SHA-256 rounds).
// Kept apart from crypto.ts so the dependency runs one way only: keyFile → keybag → crypto.
import { createHash } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { Keybag } from './keybag.js';

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

export const KEY_FILE_FORMAT = 'ios-timeline-keyfile';

interface KeyFileJson {
  format: typeof KEY_FILE_FORMAT;
  version: 1;
  keybagUuid: string;
  /** SHA-256 over the keybag's class records (CLAS, WRAP, KTYP, WPKY): changes when the password changes */
  keybagFingerprint: string;
  classKeys: Record<string, string>;
}

/** Identifies the wrapped class keys of a keybag; a new backup password gives new WPKYs and so a new fingerprint. */
export function keybagFingerprint(kb: Keybag): string {
  const h = createHash('sha256');
  for (const ck of [...kb.classKeys.values()].sort((a, b) => a.clas - b.clas)) {
    const head = Buffer.alloc(16);
    head.writeUInt32BE(ck.clas, 0);
    head.writeUInt32BE(ck.wrap >>> 0, 4);
    head.writeUInt32BE(ck.ktyp >>> 0, 8);
    head.writeUInt32BE(ck.wpky?.length ?? 0, 12);
    h.update(head);
    if (ck.wpky) h.update(ck.wpky);
  }
  return h.digest('hex');
}

/**
 * Write the class keys as JSON (hex), bound to the keybag UUID and fingerprint, with mode 0600. Anyone holding this
 * file can decrypt the backup without the password: keep it with the case, not in a report.
 */
export async function saveKeyFile(path: string, kb: Keybag, classKeys: Map<number, Buffer>): Promise<void> {
  if (classKeys.size === 0) throw new KeyFileError('no class keys to save');
  const json: KeyFileJson = {
    format: KEY_FILE_FORMAT,
    version: 1,
    keybagUuid: kb.uuid.toString('hex'),
    keybagFingerprint: keybagFingerprint(kb),
    classKeys: Object.fromEntries([...classKeys].sort((a, b) => a[0] - b[0]).map(([c, k]) => [String(c), k.toString('hex')])),
  };
  await writeFile(path, JSON.stringify(json, null, 2) + '\n', { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode applies only when it creates the file
}

/** Read a key file written by saveKeyFile for this keybag. Throws KeyFileError when it is malformed or for another keybag. */
export async function loadKeyFile(path: string, kb: Keybag): Promise<Map<number, Buffer>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new KeyFileError(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  let json: Partial<KeyFileJson>;
  try {
    json = JSON.parse(text) as Partial<KeyFileJson>;
  } catch {
    throw new KeyFileError(`key file ${path} is not JSON`);
  }
  if (!json || typeof json !== 'object' || json.format !== KEY_FILE_FORMAT || json.version !== 1) {
    throw new KeyFileError(`key file ${path} is not an ${KEY_FILE_FORMAT} version 1 file`);
  }
  const uuid = kb.uuid.toString('hex');
  if (json.keybagUuid !== uuid) {
    throw new KeyFileError(`key file ${path} belongs to keybag ${String(json.keybagUuid)}, but this backup's keybag is ${uuid}`);
  }
  if (json.keybagFingerprint !== keybagFingerprint(kb)) {
    throw new KeyFileError(
      `key file ${path} was made for keybag ${uuid} with other wrapped class keys (was the backup password changed?); derive the keys again from the password`,
    );
  }
  if (!json.classKeys || typeof json.classKeys !== 'object') throw new KeyFileError(`key file ${path} has no classKeys`);
  const keys = new Map<number, Buffer>();
  for (const [c, hex] of Object.entries(json.classKeys)) {
    const clas = Number(c);
    if (!/^\d+$/.test(c) || !kb.classKeys.has(clas)) throw new KeyFileError(`key file ${path} has a key for class ${c}, which this keybag lacks`);
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/i.test(hex)) throw new KeyFileError(`key file ${path}: class ${c} key is not 64 hex digits`);
    keys.set(clas, Buffer.from(hex, 'hex'));
  }
  if (keys.size === 0) throw new KeyFileError(`key file ${path} holds no class keys`);
  return keys;
}
