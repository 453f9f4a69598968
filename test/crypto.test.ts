import { createCipheriv, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  aesKeyUnwrap,
  aesKeyUnwrapEcb,
  aesKeyWrap,
  aesKeyWrapEcb,
  DecryptError,
  decryptBuffer,
  decryptBufferReport,
  decryptFileTo,
  encryptBuffer,
  unwrapWithClass,
} from '../src/backup/crypto.js';
import { KeyFileError, loadKeyFile, saveKeyFile } from '../src/backup/keyFile.js';
import { buildKeybag } from '../fixtures/keybagBuilder.js';
import {
  deriveKeyEncryptionKey,
  ITERATION_LIMITS,
  type Keybag,
  KeybagError,
  MAX_ITERATIONS,
  parseKeybag,
  unlockClassKeys,
  unlockClassKeysDetailed,
  type ClassUnlockNote,
  WrongPasswordError,
} from '../src/backup/keybag.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const small = { iter: 10, dpic: 10 }; // tiny iteration counts: the KDF rules are the same, the tests stay fast

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'crypto-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** TLV helper for hand-made keybags */
function tlv(tag: string, value: Buffer | number): Buffer {
  const v = typeof value === 'number' ? Buffer.from([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]) : value;
  const h = Buffer.alloc(8);
  h.write(tag, 0, 'latin1');
  h.writeUInt32BE(v.length, 4);
  return Buffer.concat([h, v]);
}
const minimalTop = () => [tlv('VERS', 5), tlv('TYPE', 1), tlv('UUID', Buffer.alloc(16, 1)), tlv('WRAP', 0), tlv('SALT', Buffer.alloc(20, 2)), tlv('ITER', 10)];
const minimalClass = (clas: number) => [tlv('UUID', Buffer.alloc(16, clas)), tlv('CLAS', clas), tlv('WRAP', 2), tlv('KTYP', 0), tlv('WPKY', Buffer.alloc(40, 3))];

describe('RFC 3394 AES key wrap', () => {
  // RFC 3394 §4.6: 256-bit KEK, 256-bit key data
  const kek256 = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
  const key256 = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
  const wrapped256 = hex('28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21');
  // RFC 3394 §4.1: 128-bit KEK, 128-bit key data
  const kek128 = hex('000102030405060708090A0B0C0D0E0F');
  const key128 = hex('00112233445566778899AABBCCDDEEFF');
  const wrapped128 = hex('1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5');

  it('matches the RFC 3394 §4.6 vector (native and ECB forms)', () => {
    expect(aesKeyWrap(kek256, key256)).toEqual(wrapped256);
    expect(aesKeyWrapEcb(kek256, key256)).toEqual(wrapped256);
    expect(aesKeyUnwrap(kek256, wrapped256)).toEqual(key256);
    expect(aesKeyUnwrapEcb(kek256, wrapped256)).toEqual(key256);
  });

  it('matches the RFC 3394 §4.1 vector', () => {
    expect(aesKeyWrap(kek128, key128)).toEqual(wrapped128);
    expect(aesKeyWrapEcb(kek128, key128)).toEqual(wrapped128);
    expect(aesKeyUnwrap(kek128, wrapped128)).toEqual(key128);
    expect(aesKeyUnwrapEcb(kek128, wrapped128)).toEqual(key128);
  });

  it('returns null, never throws, for a wrong KEK or altered data', () => {
    const wrong = Buffer.alloc(32, 7);
    expect(aesKeyUnwrap(wrong, wrapped256)).toBeNull();
    expect(aesKeyUnwrapEcb(wrong, wrapped256)).toBeNull();
    for (const i of [0, 8, 39]) {
      const bad = Buffer.from(wrapped256);
      bad[i]! ^= 1;
      expect(aesKeyUnwrap(kek256, bad)).toBeNull();
      expect(aesKeyUnwrapEcb(kek256, bad)).toBeNull();
    }
  });

  it('native and ECB forms agree on random keys', () => {
    for (let i = 0; i < 20; i++) {
      const kek = randomBytes(32);
      const key = randomBytes(32);
      const w = aesKeyWrap(kek, key);
      expect(aesKeyWrapEcb(kek, key)).toEqual(w);
      expect(aesKeyUnwrapEcb(kek, w)).toEqual(key);
    }
  });

  it('rejects impossible lengths with RangeError', () => {
    expect(() => aesKeyUnwrap(Buffer.alloc(31), wrapped256)).toThrow(RangeError);
    expect(() => aesKeyUnwrap(kek256, wrapped256.subarray(0, 39))).toThrow(/multiple of 8/);
    expect(() => aesKeyUnwrap(kek256, wrapped256.subarray(0, 16))).toThrow(/at least 24/);
    expect(() => aesKeyWrap(kek256, Buffer.alloc(12))).toThrow(RangeError);
  });
});

describe('keybag', () => {
  it('round trip: build -> parse -> derive -> unlock', async () => {
    const built = await buildKeybag({ password: 'hunter2', ...small });
    const kb = parseKeybag(built.keybag);
    expect(kb.type).toBe(1);
    expect(kb.version).toBe(5);
    expect(kb.wrap).toBe(0);
    expect(kb.uuid).toHaveLength(16);
    expect(kb.salt).toHaveLength(20);
    expect(kb.dpsl).toHaveLength(20);
    expect(kb.hmck).toHaveLength(40);
    expect(kb.iter).toBe(10);
    expect(kb.dpic).toBe(10);
    expect(kb.dpwt).toBe(1);
    expect([...kb.classKeys.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const ck of kb.classKeys.values()) {
      expect(ck).toMatchObject({ wrap: 2, ktyp: 0 });
      expect(ck.wpky).toHaveLength(40);
      expect(ck.uuid).toHaveLength(16);
    }
    const kek = await deriveKeyEncryptionKey('hunter2', kb);
    expect(kek).toEqual(built.kek);
    // the two PBKDF2 rounds, computed independently
    const k1 = pbkdf2Sync(Buffer.from('hunter2'), kb.dpsl!, 10, 32, 'sha256');
    expect(kek).toEqual(pbkdf2Sync(k1, kb.salt, 10, 32, 'sha1'));
    const notes: ClassUnlockNote[] = [];
    expect(unlockClassKeys(kb, kek, notes)).toEqual(built.classKeys);
    expect(notes).toEqual([]);
  });

  it('pre-iOS-10.2 keybag (no DPSL): SHA-1 round on the raw password only', async () => {
    const built = await buildKeybag({ password: 'pässwörd', dpsl: null, iter: 12, classes: [1, 3] });
    const kb = parseKeybag(built.keybag);
    expect(kb.dpsl).toBeUndefined();
    expect(kb.dpic).toBeUndefined();
    const kek = await deriveKeyEncryptionKey('pässwörd', kb);
    expect(kek).toEqual(pbkdf2Sync(Buffer.from('pässwörd', 'utf8'), kb.salt, 12, 32, 'sha1'));
    expect(unlockClassKeys(kb, kek)).toEqual(built.classKeys);
  });

  it('is deterministic given its inputs', async () => {
    const a = await buildKeybag({ password: 'x', ...small, seed: 's1' });
    const b = await buildKeybag({ password: 'x', ...small, seed: 's1' });
    const c = await buildKeybag({ password: 'x', ...small, seed: 's2' });
    expect(a.keybag).toEqual(b.keybag);
    expect(a.classKeys).toEqual(b.classKeys);
    expect(c.keybag).not.toEqual(a.keybag);
  });

  it('wrong password -> WrongPasswordError', async () => {
    const built = await buildKeybag({ password: 'right', ...small });
    const kb = parseKeybag(built.keybag);
    const kek = await deriveKeyEncryptionKey('wrong', kb);
    expect(() => unlockClassKeys(kb, kek)).toThrow(WrongPasswordError);
    expect(() => unlockClassKeys(kb, kek)).toThrow(/wrong backup password/);
  });

  it('skips and reports Curve25519 classes', async () => {
    const built = await buildKeybag({ password: 'pw', ...small, classes: [1, 3], curve25519Classes: [2] });
    const kb = parseKeybag(built.keybag);
    expect(kb.classKeys.get(2)).toMatchObject({ ktyp: 1 });
    expect(kb.classKeys.get(2)!.wpky).toHaveLength(72);
    expect(kb.classKeys.get(2)!.pbky).toHaveLength(32);
    const notes: ClassUnlockNote[] = [];
    const keys = unlockClassKeys(kb, built.kek, notes);
    expect([...keys.keys()]).toEqual([1, 3]);
    expect(notes).toEqual([{ clas: 2, reason: expect.stringMatching(/Curve25519/) }]);
  });

  it('reports odd WPKY sizes and device-wrapped classes; no usable class -> KeybagError', async () => {
    const kek = randomBytes(32);
    const good = aesKeyWrap(kek, randomBytes(32));
    const buf = Buffer.concat([
      ...minimalTop(),
      tlv('UUID', Buffer.alloc(16, 9)),
      tlv('CLAS', 1),
      tlv('WRAP', 2),
      tlv('KTYP', 0),
      tlv('WPKY', good),
      tlv('UUID', Buffer.alloc(16, 8)),
      tlv('CLAS', 2),
      tlv('WRAP', 2),
      tlv('KTYP', 0),
      tlv('WPKY', Buffer.alloc(48, 1)),
      tlv('UUID', Buffer.alloc(16, 7)),
      tlv('CLAS', 3),
      tlv('WRAP', 1),
      tlv('KTYP', 0),
      tlv('WPKY', good),
    ]);
    const kb = parseKeybag(buf);
    const r = unlockClassKeysDetailed(kb, kek);
    expect([...r.keys.keys()]).toEqual([1]);
    expect(r.skipped.map((s) => s.clas)).toEqual([2, 3]);
    expect(r.skipped[0]!.reason).toMatch(/48 bytes/);
    expect(r.skipped[1]!.reason).toMatch(/device UID/);
    kb.classKeys.delete(1);
    expect(() => unlockClassKeys(kb, kek)).toThrow(KeybagError);
  });

  describe('malformed TLV -> KeybagError with the offset', () => {
    const good = Buffer.concat([...minimalTop(), ...minimalClass(1)]);
    it('accepts the minimal hand-made keybag', () => {
      expect(parseKeybag(good).classKeys.size).toBe(1);
    });
    it('zero-length blob', () => {
      expect(() => parseKeybag(Buffer.alloc(0))).toThrow(/empty/);
    });
    it('truncated header', () => {
      const bad = Buffer.concat([good, Buffer.from('WPKY')]);
      expect(() => parseKeybag(bad)).toThrow(new RegExp(`truncated TLV header at offset ${good.length}`));
    });
    it('truncated length field', () => {
      expect(() => parseKeybag(good.subarray(0, 6))).toThrow(/truncated TLV header at offset 0/);
    });
    it('length past the end', () => {
      const bad = Buffer.from(good);
      bad.writeUInt32BE(0xfffffff0, 4); // VERS claims ~4 GiB
      expect(() => parseKeybag(bad)).toThrow(/TLV VERS at offset 0 claims 4294967280 bytes/);
      expect(() => parseKeybag(good.subarray(0, good.length - 1))).toThrow(/claims 40 bytes, only 39 left/);
    });
    it('garbage', () => {
      expect(() => parseKeybag(Buffer.from('this is not a keybag at all'))).toThrow(/bad TLV tag .* at offset 0/);
      expect(() => parseKeybag(randomBytes(200))).toThrow(KeybagError);
      expect(() => parseKeybag(Buffer.concat([good, Buffer.alloc(16)]))).toThrow(new RegExp(`at offset ${good.length}`));
    });
    it('integer tag with the wrong width', () => {
      const bad = Buffer.concat([tlv('VERS', Buffer.alloc(8)), ...minimalTop().slice(1), ...minimalClass(1)]);
      expect(() => parseKeybag(bad)).toThrow(/VERS at offset 0 is 8 bytes/);
    });
    it('missing or empty required fields', () => {
      const noSalt = Buffer.concat([...minimalTop().filter((_, i) => i !== 4), ...minimalClass(1)]);
      expect(() => parseKeybag(noSalt)).toThrow(/no SALT/);
      const emptySalt = Buffer.concat([...minimalTop().slice(0, 4), tlv('SALT', Buffer.alloc(0)), tlv('ITER', 10), ...minimalClass(1)]);
      expect(() => parseKeybag(emptySalt)).toThrow(/SALT is empty/);
      expect(() => parseKeybag(Buffer.concat(minimalTop()))).toThrow(/no class-key records/);
      const dpslOnly = Buffer.concat([...minimalTop(), tlv('DPSL', Buffer.alloc(20, 4)), ...minimalClass(1)]);
      expect(() => parseKeybag(dpslOnly)).toThrow(/DPSL but no DPIC/);
    });
    it('duplicate class, class without CLAS, duplicate top-level tag', () => {
      expect(() => parseKeybag(Buffer.concat([...minimalTop(), ...minimalClass(1), ...minimalClass(1)]))).toThrow(/class 1 appears twice/);
      const noClas = Buffer.concat([...minimalTop(), ...minimalClass(1).filter((_, i) => i !== 1)]);
      expect(() => parseKeybag(noClas)).toThrow(/has no CLAS/);
      expect(() => parseKeybag(Buffer.concat([...minimalTop(), tlv('ITER', 5), ...minimalClass(1)]))).toThrow(/duplicate keybag-level ITER/);
    });
  });

  describe('iteration caps', () => {
    it('documents its caps', () => {
      expect(MAX_ITERATIONS).toBe(20_000_000);
      expect(ITERATION_LIMITS).toEqual({ DPIC: 20_000_000, ITER: 10_000_000 });
    });
    it('absurd ITER -> KeybagError naming the field and value', () => {
      const bad = Buffer.concat([...minimalTop().slice(0, 5), tlv('ITER', 0xffffffff), ...minimalClass(1)]);
      expect(() => parseKeybag(bad)).toThrow(KeybagError);
      expect(() => parseKeybag(bad)).toThrow(/ITER=4,294,967,295 exceeds the cap of 10,000,000/);
    });
    it('absurd DPIC -> KeybagError naming the field and value', () => {
      const bad = Buffer.concat([...minimalTop(), tlv('DPWT', 1), tlv('DPIC', 50_000_001), tlv('DPSL', Buffer.alloc(20, 4)), ...minimalClass(1)]);
      expect(() => parseKeybag(bad)).toThrow(/DPIC=50,000,001 exceeds the cap of 20,000,000/);
      expect(parseKeybag(bad, { maxDpic: 60_000_000 }).dpic).toBe(50_000_001);
    });
    it('zero iterations -> KeybagError', () => {
      const bad = Buffer.concat([...minimalTop().slice(0, 5), tlv('ITER', 0), ...minimalClass(1)]);
      expect(() => parseKeybag(bad)).toThrow(/ITER=0 is not a positive/);
    });
    it('deriveKeyEncryptionKey checks the caps before running the KDF', async () => {
      const kb: Keybag = { uuid: Buffer.alloc(16), type: 1, salt: Buffer.alloc(20), iter: 10, dpsl: Buffer.alloc(20), dpic: 4e9, classKeys: new Map() };
      await expect(deriveKeyEncryptionKey('x', kb)).rejects.toThrow(/DPIC=4,000,000,000 exceeds/);
      await expect(deriveKeyEncryptionKey('x', { ...kb, dpic: 10, iter: 2 ** 31 })).rejects.toThrow(/ITER=2,147,483,648 exceeds/);
    });
  });
});

describe('unwrapWithClass', () => {
  const classKeys = new Map([
    [3, randomBytes(32)],
    [1, randomBytes(32)],
  ]);
  const fileKey = randomBytes(32);
  const blob = (clas: number, wrapped: Buffer) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(clas, 0);
    return Buffer.concat([b, wrapped]);
  };
  const good = blob(3, aesKeyWrap(classKeys.get(3)!, fileKey));

  it('unwraps with the class named by the little-endian prefix', () => {
    expect(unwrapWithClass(classKeys, good)).toEqual(fileKey);
  });
  it('key blob with the wrong length', () => {
    expect(() => unwrapWithClass(classKeys, good.subarray(0, 43))).toThrow(DecryptError);
    expect(() => unwrapWithClass(classKeys, good.subarray(0, 43))).toThrow(/43 bytes, expected 44/);
    expect(() => unwrapWithClass(classKeys, Buffer.concat([good, Buffer.alloc(8)]))).toThrow(/52 bytes/);
    expect(() => unwrapWithClass(classKeys, Buffer.alloc(0))).toThrow(/0 bytes/);
  });
  it('unknown class', () => {
    expect(() => unwrapWithClass(classKeys, blob(7, good.subarray(4)))).toThrow(/no key for protection class 7 \(unlocked classes: 1, 3\)/);
  });
  it('class key of the wrong size', () => {
    expect(() => unwrapWithClass(new Map([[3, Buffer.alloc(16)]]), good)).toThrow(/class 3 key is 16 bytes/);
  });
  it('wrong class key', () => {
    expect(() => unwrapWithClass(classKeys, blob(1, good.subarray(4)))).toThrow(/does not unwrap with the class 1 key/);
  });
});

describe('AES-256-CBC', () => {
  const key = createHash('sha256').update('file key').digest();
  /** CBC-encrypt whole blocks with no padding added, to craft bad padding */
  const rawEncrypt = (plain: Buffer, k = key) => {
    const c = createCipheriv('aes-256-cbc', k, Buffer.alloc(16));
    c.setAutoPadding(false);
    return Buffer.concat([c.update(plain), c.final()]);
  };

  it('round trips every padding length', () => {
    for (const n of [0, 1, 15, 16, 17, 31, 32, 1000]) {
      const plain = randomBytes(n);
      const enc = encryptBuffer(plain, key);
      expect(enc.length).toBe((Math.floor(n / 16) + 1) * 16);
      expect(decryptBuffer(enc, key)).toEqual(plain);
      expect(decryptBuffer(enc, key, n)).toEqual(plain);
    }
  });

  it('ciphertext length not a multiple of 16, or empty', () => {
    const enc = encryptBuffer(Buffer.from('hello world, hello world'), key);
    expect(() => decryptBuffer(enc.subarray(0, 31), key)).toThrow(/length 31 is not a multiple of 16/);
    expect(() => decryptBuffer(Buffer.alloc(0), key)).toThrow(/empty/);
  });

  it('bad padding', () => {
    const body = randomBytes(32);
    for (const last of [
      Buffer.concat([Buffer.alloc(15, 1), Buffer.from([0])]), // n = 0
      Buffer.concat([Buffer.alloc(15, 1), Buffer.from([17])]), // n > 16
      Buffer.concat([Buffer.alloc(13, 1), Buffer.from([3, 9, 3])]), // n = 3, middle padding byte differs
      Buffer.concat([Buffer.alloc(13, 1), Buffer.from([2, 3, 3])]), // n = 3, first padding byte differs
    ]) {
      expect(() => decryptBuffer(rawEncrypt(Buffer.concat([body, last])), key)).toThrow(/invalid padding/);
    }
    // a full block of padding is valid
    expect(decryptBuffer(rawEncrypt(Buffer.concat([body, Buffer.alloc(16, 16)])), key)).toEqual(body);
  });

  it('wrong key almost always shows as bad padding', () => {
    // A wrong key gives a random-looking last block; valid padding by chance has p ~ 1/256, so both the plaintext
    // and the wrong key are fixed (a random plaintext made this test fail about once in 256 runs).
    const enc = encryptBuffer(Buffer.alloc(100, 0x41), key);
    const wrong = createHash('sha256').update('another key').digest();
    expect(() => decryptBuffer(enc, wrong)).toThrow(DecryptError);
  });

  it('size mismatch: decryptBuffer throws, decryptBufferReport truncates or reports', () => {
    const plain = randomBytes(100);
    const enc = encryptBuffer(plain, key);
    expect(() => decryptBuffer(enc, key, 90)).toThrow(/decrypted 100 bytes, MBFile Size is 90/);
    expect(() => decryptBuffer(enc, key, 110)).toThrow(/10 bytes short/);
    const longer = decryptBufferReport(enc, key, 90);
    expect(longer.plain).toEqual(plain.subarray(0, 90));
    expect(longer.sizeMismatch).toMatch(/truncated to Size/);
    const shorter = decryptBufferReport(enc, key, 110);
    expect(shorter.plain).toEqual(plain);
    expect(shorter.sizeMismatch).toMatch(/10 bytes short/);
    expect(decryptBufferReport(enc, key, 100)).toEqual({ plain });
  });

  it('rejects a key that is not 32 bytes', () => {
    expect(() => encryptBuffer(Buffer.alloc(4), Buffer.alloc(16))).toThrow(/16 bytes, expected 32/);
    expect(() => decryptBuffer(Buffer.alloc(16), Buffer.alloc(31))).toThrow(DecryptError);
  });
});

describe('decryptFileTo (streaming)', () => {
  const key = createHash('sha256').update('stream key').digest();

  it('a > 3 MiB file of odd size equals decryptBuffer; onChunk sees the exact ciphertext', async () => {
    const size = 3 * 1024 * 1024 + 12_345; // odd, spans 4 reads
    const plain = randomBytes(size);
    const enc = encryptBuffer(plain, key);
    const src = join(tmp, 'big.enc');
    const dst = join(tmp, 'big.dec');
    await writeFile(src, enc);
    const h = createHash('sha256');
    const sizes: number[] = [];
    const res = await decryptFileTo(src, dst, key, size, (c) => {
      h.update(c);
      sizes.push(c.length);
    });
    expect(res).toEqual({ bytesIn: enc.length, bytesOut: size });
    expect(h.digest('hex')).toBe(createHash('sha256').update(enc).digest('hex'));
    expect(sizes.slice(0, 3)).toEqual([1 << 20, 1 << 20, 1 << 20]);
    expect(sizes.reduce((a, b) => a + b)).toBe(enc.length);
    const out = await readFile(dst);
    expect(out.equals(decryptBuffer(enc, key, size))).toBe(true);
    expect(out.equals(plain)).toBe(true);
  });

  it('handles exact-chunk sizes (padding block alone in the last read) and tiny files', async () => {
    for (const n of [(1 << 20) - 16, (1 << 20) - 1, 0, 5]) {
      const plain = randomBytes(n);
      const src = join(tmp, `edge-${n}.enc`);
      const dst = join(tmp, `edge-${n}.dec`);
      await writeFile(src, encryptBuffer(plain, key));
      const res = await decryptFileTo(src, dst, key, undefined);
      expect(res.bytesOut).toBe(n);
      expect((await readFile(dst)).equals(plain)).toBe(true);
    }
  });

  it('size mismatch is reported, not thrown: longer is truncated to Size, shorter kept', async () => {
    const plain = randomBytes(5000);
    const src = join(tmp, 'size.enc');
    await writeFile(src, encryptBuffer(plain, key));
    const a = await decryptFileTo(src, join(tmp, 'size-a'), key, 4000);
    expect(a.bytesOut).toBe(4000);
    expect(a.sizeMismatch).toMatch(/decrypted 5000 bytes, MBFile Size is 4000: truncated/);
    expect(await readFile(join(tmp, 'size-a'))).toEqual(plain.subarray(0, 4000));
    const b = await decryptFileTo(src, join(tmp, 'size-b'), key, 6000);
    expect(b.bytesOut).toBe(5000);
    expect(b.sizeMismatch).toMatch(/1000 bytes short/);
    expect(await readFile(join(tmp, 'size-b'))).toEqual(plain);
  });

  it('ciphertext length not a multiple of 16: DecryptError, nothing written, onChunk still saw every byte', async () => {
    const enc = encryptBuffer(randomBytes(2 * 1024 * 1024), key).subarray(0, 2 * 1024 * 1024 + 7);
    const src = join(tmp, 'odd.enc');
    const dst = join(tmp, 'odd.dec');
    await writeFile(src, enc);
    let seen = 0;
    const err = await decryptFileTo(src, dst, key, undefined, (c) => {
      seen += c.length;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect((err as DecryptError).message).toMatch(/length 2097159 is not a multiple of 16/);
    expect((err as DecryptError).bytesIn).toBe(enc.length);
    expect(seen).toBe(enc.length);
    expect(existsSync(dst)).toBe(false);
  });

  it('empty file -> DecryptError', async () => {
    const src = join(tmp, 'empty.enc');
    await writeFile(src, Buffer.alloc(0));
    await expect(decryptFileTo(src, join(tmp, 'empty.dec'), key, 0)).rejects.toThrow(/empty/);
  });

  it('bad padding: DecryptError and the partial output is removed', async () => {
    const enc = encryptBuffer(randomBytes(1_500_000), key);
    enc[enc.length - 17]! ^= 0xff; // flips bytes of the last plaintext block's padding
    const src = join(tmp, 'badpad.enc');
    const dst = join(tmp, 'badpad.dec');
    await writeFile(src, enc);
    await expect(decryptFileTo(src, dst, key, undefined)).rejects.toThrow(/invalid padding/);
    expect(existsSync(dst)).toBe(false);
  });

  it('refuses to write onto its own source (same inode)', async () => {
    const enc = encryptBuffer(Buffer.from('evidence'), key);
    const src = join(tmp, 'self.enc');
    await writeFile(src, enc);
    await expect(decryptFileTo(src, src, key, undefined)).rejects.toThrow(/onto itself/);
    await expect(decryptFileTo(src, join(tmp, '.', 'self.enc'), key, undefined)).rejects.toThrow(/onto itself/);
    expect(await readFile(src)).toEqual(enc);
  });

  it('missing source -> the fs error, no output', async () => {
    await expect(decryptFileTo(join(tmp, 'nope'), join(tmp, 'nope.dec'), key, undefined)).rejects.toThrow(/ENOENT/);
    expect(existsSync(join(tmp, 'nope.dec'))).toBe(false);
  });
});

describe('key file', () => {
  it('saves and loads the class keys (mode 0600)', async () => {
    const built = await buildKeybag({ password: 'pw', ...small });
    const kb = parseKeybag(built.keybag);
    const path = join(tmp, 'keys.json');
    await writeFile(path, 'old contents', { mode: 0o644 });
    await saveKeyFile(path, kb, built.classKeys);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await loadKeyFile(path, kb)).toEqual(built.classKeys);
    const json = JSON.parse(await readFile(path, 'utf8')) as { keybagUuid: string };
    expect(json.keybagUuid).toBe(kb.uuid.toString('hex'));
  });

  it('refuses a key file made for another keybag', async () => {
    const a = await buildKeybag({ password: 'pw', ...small, seed: 'device A' });
    const b = await buildKeybag({ password: 'pw', ...small, seed: 'device B' });
    const path = join(tmp, 'keys-a.json');
    await saveKeyFile(path, parseKeybag(a.keybag), a.classKeys);
    const kbB = parseKeybag(b.keybag);
    await expect(loadKeyFile(path, kbB)).rejects.toThrow(KeyFileError);
    await expect(loadKeyFile(path, kbB)).rejects.toThrow(
      new RegExp(`belongs to keybag ${parseKeybag(a.keybag).uuid.toString('hex')}, but this backup's keybag is ${kbB.uuid.toString('hex')}`),
    );
  });

  it('refuses a key file for the same keybag UUID after a password change', async () => {
    const a = await buildKeybag({ password: 'old', ...small, seed: 'same device' });
    const b = await buildKeybag({ password: 'new', ...small, seed: 'same device' });
    expect(parseKeybag(a.keybag).uuid).toEqual(parseKeybag(b.keybag).uuid);
    const path = join(tmp, 'keys-old.json');
    await saveKeyFile(path, parseKeybag(a.keybag), a.classKeys);
    await expect(loadKeyFile(path, parseKeybag(b.keybag))).rejects.toThrow(/password changed/);
  });

  it('refuses malformed key files', async () => {
    const built = await buildKeybag({ password: 'pw', ...small });
    const kb = parseKeybag(built.keybag);
    const path = join(tmp, 'bad.json');
    await writeFile(path, 'not json');
    await expect(loadKeyFile(path, kb)).rejects.toThrow(/not JSON/);
    await writeFile(path, JSON.stringify({ hello: 1 }));
    await expect(loadKeyFile(path, kb)).rejects.toThrow(/not an ios-timeline-keyfile/);
    await saveKeyFile(path, kb, built.classKeys);
    const json = JSON.parse(await readFile(path, 'utf8')) as { classKeys: Record<string, string> };
    json.classKeys['1'] = 'abcd';
    await writeFile(path, JSON.stringify(json));
    await expect(loadKeyFile(path, kb)).rejects.toThrow(/class 1 key is not 64 hex digits/);
    await expect(loadKeyFile(join(tmp, 'missing.json'), kb)).rejects.toThrow(/cannot read key file/);
  });
});

// Cross-check with the independent validator's own keybag/unwrap/CBC code (../shared/tools/check-backup.py).
const validator = resolve(process.cwd(), '../shared/tools/check-backup.py');
const python = spawnSync('python3', ['-c', 'import sys; sys.path.append("/usr/lib/python3/dist-packages"); import Cryptodome'], { encoding: 'utf8' });
const haveValidator = existsSync(validator) && python.status === 0;

describe.skipIf(!haveValidator)('check-backup.py agrees', () => {
  it('parses our keybag, derives the same class keys, unwraps our file key and decrypts our ciphertext', async () => {
    const built = await buildKeybag({ password: 'validator pw', ...small, curve25519Classes: [12] });
    const fileKey = randomBytes(32);
    const keyBlob = Buffer.concat([Buffer.from([3, 0, 0, 0]), aesKeyWrap(built.classKeys.get(3)!, fileKey)]);
    const plain = randomBytes(70_000);
    const src = join(tmp, 'validator.enc');
    await writeFile(src, encryptBuffer(plain, fileKey));
    const script = `
import importlib.util, sys, json
from pathlib import Path
sys.path.append("/usr/lib/python3/dist-packages")
spec = importlib.util.spec_from_file_location("cb", sys.argv[1]); cb = importlib.util.module_from_spec(spec); spec.loader.exec_module(cb)
from Cryptodome.Cipher import AES
cb.AES = AES
top, classes = cb.parse_keybag(bytes.fromhex(sys.argv[2]))
keys, warns = cb.unlock(top, classes, sys.argv[3])
blob = bytes.fromhex(sys.argv[4])
fk = cb.aes_unwrap(keys[int.from_bytes(blob[:4], "little")], blob[4:])
n = cb.cbc_decrypt(Path(sys.argv[5]), fk, Path(sys.argv[5] + ".py"))
print(json.dumps({"keys": {str(k): v.hex() for k, v in keys.items()}, "warns": warns, "n": n}))
`;
    const r = spawnSync('python3', ['-c', script, validator, built.keybag.toString('hex'), 'validator pw', keyBlob.toString('hex'), src], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { keys: Record<string, string>; warns: string[]; n: number };
    expect(out.keys).toEqual(Object.fromEntries([...built.classKeys].map(([c, k]) => [String(c), k.toString('hex')])));
    expect(out.warns).toEqual([expect.stringMatching(/class 12 skipped/)]);
    expect(out.n).toBe(plain.length);
    expect((await readFile(src + '.py')).equals(plain)).toBe(true);
  });
});
