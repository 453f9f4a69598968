// Ed25519 signatures over output manifests (node:crypto, keys as PEM). The signature file holds the
// base64 signature of the manifest's exact bytes; the manifest names the signing key by its fingerprint.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export const PRIVATE_KEY_NAME = 'ios-timeline-signing.key';
export const PUBLIC_KEY_NAME = 'ios-timeline-signing.pub';

export class KeyError extends Error {}

/** Write a new key pair into `dir`: the private key readable by its owner only. Never overwrites. */
export function generateKeys(dir: string): { privateKeyPath: string; publicKeyPath: string; fingerprint: string } {
  fs.mkdirSync(dir, { recursive: true });
  const privateKeyPath = path.join(dir, PRIVATE_KEY_NAME);
  const publicKeyPath = path.join(dir, PUBLIC_KEY_NAME);
  for (const p of [privateKeyPath, publicKeyPath]) if (fs.existsSync(p)) throw new KeyError(`${p} already exists; choose another folder or remove it`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  // 'wx' + mode: the file is created with 0600 from the start, never briefly readable by others.
  fs.writeFileSync(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: 'wx' });
  fs.chmodSync(privateKeyPath, 0o600); // in case the umask widened nothing but a copy tool did
  fs.writeFileSync(publicKeyPath, pub, { mode: 0o644, flag: 'wx' });
  return { privateKeyPath, publicKeyPath, fingerprint: keyFingerprint(publicKey) };
}

export function loadPrivateKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(fs.readFileSync(file));
  } catch (e) {
    throw new KeyError(`${file} is not a readable private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new KeyError(`${file} is a ${key.asymmetricKeyType} key; an Ed25519 key is needed (ios-timeline keygen)`);
  return key;
}

export function loadPublicKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(fs.readFileSync(file));
  } catch (e) {
    throw new KeyError(`${file} is not a readable public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new KeyError(`${file} is a ${key.asymmetricKeyType} key; an Ed25519 key is needed`);
  return key;
}

/** sha256 of the public key's DER encoding: what a manifest records as its signer. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

export function signBytes(data: Buffer, privateKey: KeyObject): string {
  return sign(null, data, privateKey).toString('base64');
}

export function verifyBytes(data: Buffer, signatureB64: string, publicKey: KeyObject): boolean {
  const sig = Buffer.from(signatureB64.trim(), 'base64');
  if (sig.length !== 64) return false;
  try {
    return verify(null, data, publicKey, sig);
  } catch {
    return false;
  }
}
