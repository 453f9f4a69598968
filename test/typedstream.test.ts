import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAttributedBody, decodeAttributedBodyFull, TypedStreamError, type DecodedBody } from '../src/formats/typedstream.js';
import { encodeAttributedBodyForFixture } from '../fixtures/typedstreamEncoder.js';

const TEST_DIR = dirname(fileURLToPath(import.meta.url));
/** Real data lives next to the repository: <repo>/../shared/realdata (read-only, never copied in). */
const REALDATA = resolve(TEST_DIR, '..', '..', 'shared', 'realdata');
const TS_DIR = join(REALDATA, 'typedstream');
const HICKMAN_DIR = join(REALDATA, 'hickman-ios14', 'sms');
const HAVE_TS = existsSync(join(TS_DIR, 'AttributedBodyTextOnly'));
const HAVE_HICKMAN = existsSync(join(HICKMAN_DIR, 'sms.db'));

const HEADER = [0x04, 0x0b, ...Buffer.from('streamtyped', 'latin1'), 0x81, 0xe8, 0x03];
const FFFC = '\u{FFFC}';

function readBlob(name: string): Buffer {
  return readFileSync(join(TS_DIR, name));
}

/** Either decodes (returns the body) or throws TypedStreamError; anything else fails the test. */
function decodeOrTse(fn: (b: Uint8Array) => DecodedBody, blob: Uint8Array): DecodedBody | TypedStreamError {
  try {
    return fn(blob);
  } catch (e) {
    if (e instanceof TypedStreamError) return e;
    throw new Error(`non-TypedStreamError thrown: ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
}

function blob(...parts: (number | number[] | string)[]): Buffer {
  const out: number[] = [...HEADER];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else for (const x of typeof p === 'string' ? Buffer.from(p, 'latin1') : p) out.push(x);
  }
  return Buffer.from(out);
}

/** NSArchiver integer encoding (literal byte, or 0x81 + i16, or 0x82 + i32). */
function int(v: number): number[] {
  if (v >= -110 && v <= 127) return [v & 0xff];
  if (v >= -32768 && v <= 32767) return [0x81, v & 0xff, (v >> 8) & 0xff];
  return [0x82, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

/** A new shared string / type encoding literal: 0x84, length, bytes. */
function lit(s: string): number[] {
  const b = Buffer.from(s, 'latin1');
  return [0x84, ...int(b.length), ...b];
}

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TS_SUITE = HAVE_TS ? 'real typedstream blobs' : `real typedstream blobs (SKIPPED: ${TS_DIR} not found; real data lives at <repo>/../shared/realdata)`;
const HICKMAN_SUITE = HAVE_HICKMAN ? 'hickman iOS 14 sms.db' : `hickman iOS 14 sms.db (SKIPPED: ${HICKMAN_DIR}/sms.db not found; real data lives at <repo>/../shared/realdata)`;

describe.skipIf(!HAVE_TS)(TS_SUITE, () => {
  const expected: [string, string][] = [
    ['AttributedBodyTextOnly', 'Noter test'],
    ['AttributedBodyTextOnly2', 'Test 3'],
    ['WeirdText', '𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉'],
    ['URL', 'https://github.com/ReagentX/Logria'],
    ['MultiPart', `${FFFC}test 1${FFFC}test 2 ${FFFC}test 3`],
  ];

  it.each(expected)('%s decodes to the expected text (both paths)', (name, text) => {
    const b = readBlob(name);
    expect(decodeAttributedBody(b).text).toBe(text);
    const full = decodeAttributedBodyFull(b);
    expect(full.text).toBe(text);
    expect(full.decoder).toBe('full');
  });

  it('text-only bodies use the fast path', () => {
    for (const name of ['AttributedBodyTextOnly', 'AttributedBodyTextOnly2', 'WeirdText']) {
      const d = decodeAttributedBody(readBlob(name));
      expect(d).toMatchObject({ decoder: 'fast', attachmentGuids: [], links: [] });
    }
  });

  it('MultiPart yields the three file transfer GUIDs in order', () => {
    const d = decodeAttributedBody(readBlob('MultiPart'));
    expect(d.attachmentGuids).toEqual(['at_0_F0668F79-20C2-49C9-A87F-1B007ABB0CED', 'at_2_F0668F79-20C2-49C9-A87F-1B007ABB0CED', 'at_4_F0668F79-20C2-49C9-A87F-1B007ABB0CED']);
    expect(d.links).toEqual([]);
    expect(d.decoder).toBe('full');
  });

  it('URL yields the __kIMLinkAttributeName NSURL', () => {
    const d = decodeAttributedBody(readBlob('URL'));
    expect(d.links).toEqual(['https://github.com/ReagentX/Logria']);
    expect(d.attachmentGuids).toEqual([]);
  });

  it('ExtraData (declared length 157 in a 244-byte blob) is repaired by the full decoder', () => {
    const b = readBlob('ExtraData');
    expect(b.length).toBe(244);
    const d = decodeAttributedBody(b);
    expect(d.text.startsWith('This is parsing')).toBe(true);
    expect(d.text).toBe('This is parsing  ');
    expect(d.decoder).toBe('full');
  });

  it('Blank throws TypedStreamError (both paths)', () => {
    const b = readBlob('Blank');
    expect(() => decodeAttributedBody(b)).toThrow(TypedStreamError);
    expect(() => decodeAttributedBody(b)).toThrow(/empty text/);
    expect(() => decodeAttributedBodyFull(b)).toThrow(TypedStreamError);
  });

  it('damage after the text keeps the text and the attributes read before the damage', () => {
    const b = readBlob('MultiPart');
    const d = decodeAttributedBody(b.subarray(0, 0x200));
    expect(d.text).toBe(`${FFFC}test 1${FFFC}test 2 ${FFFC}test 3`);
    expect(d.attachmentGuids).toEqual(['at_0_F0668F79-20C2-49C9-A87F-1B007ABB0CED', 'at_2_F0668F79-20C2-49C9-A87F-1B007ABB0CED']);
    expect(d.decoder).toBe('full');
    // cut inside the text: nothing trustworthy, so it throws
    expect(() => decodeAttributedBody(b.subarray(0, 0x90))).toThrow(TypedStreamError);
  });

  it('accepts a plain Uint8Array view at a non-zero offset', () => {
    const b = readBlob('WeirdText');
    const backing = new Uint8Array(b.length + 13);
    backing.set(b, 7);
    const view = backing.subarray(7, 7 + b.length);
    expect(decodeAttributedBody(view).text).toBe('𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉');
    expect(decodeAttributedBodyFull(view).text).toBe('𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉');
  });

  it('every prefix of every blob decodes to the full text or throws TypedStreamError', () => {
    for (const name of readdirSync(TS_DIR)) {
      const b = readBlob(name);
      let full: string | undefined;
      try {
        full = decodeAttributedBody(b).text;
      } catch {
        full = undefined;
      }
      for (let len = 0; len < b.length; len++) {
        const prefix = b.subarray(0, len);
        for (const fn of [decodeAttributedBody, decodeAttributedBodyFull]) {
          const r = decodeOrTse(fn, prefix);
          if (!(r instanceof TypedStreamError)) expect(r.text, `${name}[0,${len})`).toBe(full);
        }
      }
    }
  });

  it('the fixture encoder reproduces the real AttributedBodyTextOnly byte for byte', () => {
    expect(encodeAttributedBodyForFixture('Noter test').equals(readBlob('AttributedBodyTextOnly'))).toBe(true);
  });
});

describe.skipIf(!HAVE_HICKMAN)(HICKMAN_SUITE, () => {
  let tmp = '';
  let rows: { ROWID: number; text: string | null; attributedBody: Buffer; guids: string | null }[] = [];

  beforeAll(() => {
    // Never open the evidence in place: copy db + wal + shm to a temp dir first.
    tmp = mkdtempSync(join(tmpdir(), 'typedstream-hickman-'));
    for (const f of ['sms.db', 'sms.db-wal', 'sms.db-shm']) {
      if (existsSync(join(HICKMAN_DIR, f))) copyFileSync(join(HICKMAN_DIR, f), join(tmp, f));
    }
    const db = new Database(join(tmp, 'sms.db'));
    try {
      rows = db
        .prepare(
          `SELECT m.ROWID, m.text, m.attributedBody,
               (SELECT group_concat(a.guid) FROM message_attachment_join j
                  JOIN attachment a ON a.ROWID = j.attachment_id WHERE j.message_id = m.ROWID) AS guids
             FROM message m WHERE m.attributedBody IS NOT NULL ORDER BY m.ROWID`,
        )
        .all() as typeof rows;
    } finally {
      db.close();
    }
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('decodes all 102 attributedBody rows to exactly message.text (both paths)', () => {
    expect(rows.length).toBe(102);
    for (const r of rows) {
      expect(decodeAttributedBody(r.attributedBody).text, `ROWID ${r.ROWID}`).toBe(r.text);
      expect(decodeAttributedBodyFull(r.attributedBody).text, `ROWID ${r.ROWID}`).toBe(r.text);
    }
  });

  it('attachment GUIDs match U+FFFC placeholders and the attachment table', () => {
    let withGuids = 0;
    for (const r of rows) {
      const d = decodeAttributedBody(r.attributedBody);
      const placeholders = [...(r.text ?? '')].filter((c) => c === FFFC).length;
      expect(d.attachmentGuids.length, `ROWID ${r.ROWID}`).toBe(placeholders);
      const joined = r.guids ? r.guids.split(',') : [];
      for (const g of d.attachmentGuids) expect(joined, `ROWID ${r.ROWID}`).toContain(g);
      if (d.attachmentGuids.length) withGuids++;
    }
    expect(withGuids).toBe(10);
  });

  it('links are found wherever __kIMLinkAttributeName is present, and appear in the text', () => {
    let normalized = 0;
    for (const r of rows) {
      const d = decodeAttributedBody(r.attributedBody);
      expect(d.links.length > 0, `ROWID ${r.ROWID}`).toBe(r.attributedBody.includes('__kIMLinkAttributeName'));
      for (const l of d.links) {
        // NSURL holds the absolute URL: data detectors add a scheme ("v.whatsapp.com/x" -> "http://...")
        if (!r.text!.includes(l)) {
          normalized++;
          expect(r.text).toContain(l.replace(/^https?:\/\//, ''));
        }
      }
    }
    expect(normalized).toBeGreaterThan(0);
  });

  it('every prefix of every row decodes to the full text or throws TypedStreamError', () => {
    for (const r of rows) {
      const b = r.attributedBody;
      for (let len = 0; len < b.length; len++) {
        const res = decodeOrTse(decodeAttributedBody, b.subarray(0, len));
        if (!(res instanceof TypedStreamError)) expect(res.text).toBe(r.text);
      }
    }
  });

  it('random mutations of real rows never hang or throw anything but TypedStreamError', () => {
    const rnd = prng(0xdecade);
    const tags = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x92, 0x93, 0xff];
    const t0 = Date.now();
    for (let it = 0; it < 20_000; it++) {
      const b = Buffer.from(rows[Math.floor(rnd() * rows.length)].attributedBody);
      const edits = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < edits; k++) {
        const pos = Math.floor(rnd() * b.length);
        const m = rnd();
        if (m < 0.45) b[pos] = Math.floor(rnd() * 256);
        else if (m < 0.8) b[pos] = tags[Math.floor(rnd() * tags.length)];
        else b[pos] ^= 1 << Math.floor(rnd() * 8);
      }
      decodeOrTse(decodeAttributedBody, b);
      decodeOrTse(decodeAttributedBodyFull, b);
    }
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('throughput smoke test (loose bounds; real numbers are in docs/typedstream.md)', () => {
    const blobs = rows.map((r) => r.attributedBody);
    const rate = (fn: (b: Uint8Array) => DecodedBody): number => {
      for (const b of blobs) fn(b);
      const n = 20_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) fn(blobs[i % blobs.length]);
      return n / ((performance.now() - t0) / 1000);
    };
    expect(rate(decodeAttributedBody)).toBeGreaterThan(20_000);
    expect(rate(decodeAttributedBodyFull)).toBeGreaterThan(10_000);
  });
});

describe('hostile input', () => {
  const expectTse = (b: Uint8Array, re?: RegExp) => {
    for (const fn of [decodeAttributedBody, decodeAttributedBodyFull]) {
      const r = decodeOrTse(fn, b);
      expect(r).toBeInstanceOf(TypedStreamError);
      if (re) expect((r as TypedStreamError).message).toMatch(re);
    }
  };

  it('rejects non-byte input and empty / non-typedstream data', () => {
    for (const bad of [null, undefined, 'streamtyped', 42, {}, [1, 2, 3]]) {
      expect(() => decodeAttributedBody(bad as unknown as Uint8Array)).toThrow(TypedStreamError);
      expect(() => decodeAttributedBodyFull(bad as unknown as Uint8Array)).toThrow(TypedStreamError);
    }
    expectTse(new Uint8Array(0));
    expectTse(Buffer.from('bplist00 hello world, not a typedstream at all'));
    expectTse(Buffer.from(HEADER), /end of data/);
    // big-endian typedstream
    expectTse(Buffer.from([0x04, 0x0b, ...Buffer.from('typedstream'), 0x81, 0xe8, 0x03, 0x84, 1, 0x40]), /big-endian/);
  });

  it('random bytes, with and without a valid header', () => {
    const rnd = prng(42);
    for (let it = 0; it < 20_000; it++) {
      const n = Math.floor(rnd() * 400);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
      if (rnd() < 0.7) Buffer.from(HEADER).copy(b, 0);
      if (rnd() < 0.4 && n > 19) b.set([0x84, 0x01, 0x40, 0x84], 16);
      decodeOrTse(decodeAttributedBody, b);
      decodeOrTse(decodeAttributedBodyFull, b);
    }
  });

  it('absurd lengths fail cleanly', () => {
    const root = [0x84, 1, 0x40, 0x84, 0x84, 0x84, 0x12, 'NSAttributedString', 0, 0x84, 0x84, 0x08, 'NSObject', 0, 0x85];
    const str = [0x92, 0x84, 0x84, 0x84, 0x08, 'NSString', 1, 0x94];
    // '+' length 0x7fffffff with only two bytes behind it
    expectTse(blob(...root, ...str, 0x84, 1, 0x2b, 0x82, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x42), /declares/);
    // 64-bit length
    expectTse(blob(...root, ...str, 0x84, 1, 0x2b, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x41));
    // shared string (class name) with an absurd length
    expectTse(blob(0x84, 1, 0x40, 0x84, 0x84, 0x84, 0x82, 0xff, 0xff, 0xff, 0x7f, 'NS'));
    // huge byte array and huge expanded arrays in type encodings
    expectTse(blob(...root, lit('[2147483647c]'), 1, 2, 3), /needs 2147483647 more bytes/);
    expectTse(blob(...root, lit('[99999999i]'), 1, 2, 3), /too many values/);
    expectTse(blob(...root, lit('[1000[1000[1000i]]]'), 1, 2, 3), /too many values/);
    expectTse(blob(...root, lit('[9999999999999999999999i]'), 1), /overflow/);
    // references far outside the tables
    expectTse(blob(0x84, 1, 0x40, 0x84, 0xff));
    expectTse(blob(0x84, 1, 0x40, 0x84, 0x84, 0x81, 0xff, 0x7f));
    expectTse(blob(0xa0));
  });

  it('deep nesting hits the depth cap instead of the stack', () => {
    const nest = 50_000;
    const parts: number[] = [0x84, 1, 0x40, 0x84, 0x84, 0x84, 1, 0x58, 0, 0x85];
    for (let i = 0; i < nest; i++) parts.push(0x92, 0x84, 0x93);
    for (let i = 0; i < nest; i++) parts.push(0x86);
    expectTse(blob(parts), /nested deeper/);
    // nested type encodings
    expectTse(blob(lit('[1'.repeat(5000) + 'i' + ']'.repeat(5000))), /nested deeper/);
    expectTse(blob(lit('{a='.repeat(5000) + 'i' + '}'.repeat(5000))), /nested deeper/);
  });

  it('a class whose superclass is itself does not loop', () => {
    expectTse(blob(0x84, 1, 0x40, 0x84, 0x84, 0x84, 1, 0x58, 0, 0x93, 0x86), /not an NSAttributedString/);
  });

  it('many references to a zero-cost type stay linear', () => {
    const parts: number[] = [0x84, 1, 0x40, 0x84, 0x84, 0x84, 0x12, ...Buffer.from('NSAttributedString'), 0, 0x85];
    parts.push(...lit('[100[0c]]'));
    for (let i = 0; i < 100_000; i++) parts.push(0x94);
    const t0 = Date.now();
    expectTse(blob(parts));
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('a repaired string length still needs an END tag', () => {
    // declared 200 bytes, 5 present, no END: not recoverable
    const root = [0x84, 1, 0x40, 0x84, 0x84, 0x84, 0x12, 'NSAttributedString', 0, 0x84, 0x84, 0x08, 'NSObject', 0, 0x85];
    const str = [0x92, 0x84, 0x84, 0x84, 0x08, 'NSString', 1, 0x94];
    expectTse(blob(...root, ...str, 0x84, 1, 0x2b, 0x81, 200, 0, 'hello'));
    // declared 200 bytes, text then END: repaired like ExtraData
    const d = decodeAttributedBody(blob(...root, ...str, 0x84, 1, 0x2b, 0x81, 200, 0, 'hello', 0x86, 0x86));
    expect(d).toMatchObject({ text: 'hello', decoder: 'full' });
  });
});

describe('encodeAttributedBodyForFixture', () => {
  const cases: [string, string][] = [
    ['ascii', 'Hello from the fixture'],
    ['127 bytes', 'a'.repeat(127)],
    ['128 bytes', 'b'.repeat(128)],
    ['300 bytes', 'c'.repeat(300)],
    ['32767 bytes', 'd'.repeat(32767)],
    ['32768 bytes', 'e'.repeat(32768)],
    ['65535 bytes', 'f'.repeat(65535)],
    ['65536 bytes', 'g'.repeat(65536)],
    ['> 65535 bytes multibyte', 'ü€😀'.repeat(20_000)],
    ['emoji', 'Party 🎉🎉 family 👨‍👩‍👧‍👦 flags 🇳🇴🇸🇪'],
    ['U+FFFC', `${FFFC}photo caption ${FFFC}`],
    ['single char', 'x'],
    ['newlines and quotes', 'line 1\nline "2"\r\n\ttab'],
  ];

  it.each(cases)('round-trips %s through both decoders', (_name, text) => {
    const b = encodeAttributedBodyForFixture(text);
    expect(Buffer.isBuffer(b)).toBe(true);
    const fast = decodeAttributedBody(b);
    expect(fast.text).toBe(text);
    expect(fast.decoder).toBe('fast');
    expect(fast.attachmentGuids).toEqual([]);
    const full = decodeAttributedBodyFull(b);
    expect(full).toEqual({ text, attachmentGuids: [], links: [], decoder: 'full' });
  });

  it('writes attachment GUIDs per U+FFFC when asked (MultiPart layout)', () => {
    const text = `${FFFC}test 1${FFFC}test 2 ${FFFC}test 3`;
    const guids = ['at_0_AAAA', 'at_2_BBBB', 'at_4_CCCC'];
    const b = encodeAttributedBodyForFixture(text, { attachmentGuids: guids });
    for (const fn of [decodeAttributedBody, decodeAttributedBodyFull]) {
      expect(fn(b)).toEqual({ text, attachmentGuids: guids, links: [], decoder: 'full' });
    }
    const big = 'é'.repeat(40_000);
    const b2 = encodeAttributedBodyForFixture(`${big}${FFFC}`, { attachmentGuids: ['at_1_X'] });
    expect(decodeAttributedBody(b2)).toMatchObject({ text: `${big}${FFFC}`, attachmentGuids: ['at_1_X'] });
  });

  it('an empty text encodes to a Blank body that decodes to TypedStreamError', () => {
    expect(() => decodeAttributedBody(encodeAttributedBodyForFixture(''))).toThrow(TypedStreamError);
  });

  it('every prefix of an encoded body decodes to the full text or throws TypedStreamError', () => {
    const text = `Prefix test 😀 ${FFFC} end`;
    const b = encodeAttributedBodyForFixture(text, { attachmentGuids: ['at_1_GUID'] });
    for (let len = 0; len < b.length; len++) {
      for (const fn of [decodeAttributedBody, decodeAttributedBodyFull]) {
        const r = decodeOrTse(fn, b.subarray(0, len));
        if (!(r instanceof TypedStreamError)) expect(r.text).toBe(text);
      }
    }
  });
});
