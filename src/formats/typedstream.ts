// Apple typedstream ("streamtyped") decoder for sms.db `message.attributedBody` (docs/ios-formats.md §3.5).
//
// The blob is an NSArchiver stream holding one NS(Mutable)AttributedString. Its first value is an
// NS(Mutable)String whose `+` value is the message text; after it come (rangeId, length) pairs, each
// new rangeId followed by an NSDictionary of attributes (attachment GUIDs, links, message parts...).
//
// Two decoders sit behind decodeAttributedBody():
//  * fast: checks the 16-byte header, finds the `+` type right after the NSString class chain, reads
//    the length properly and takes exactly that many bytes (strict UTF-8). It does not look at the
//    attribute section, except for a byte search for the attachment / link attribute keys: when
//    either key is present the full decoder runs so that attachmentGuids / links are filled.
//  * full: a bounded generic typedstream parser (shared-string table + object table, references,
//    class chains, all scalar / struct / array types) followed by a walk of the NSAttributedString.
//
// Hostile input: every read is bounds-checked, nesting depth and table sizes are capped, and the
// total number of values (including type-encoding expansion) is capped linearly in the blob size,
// so a decode can neither hang nor blow the stack. Every failure surfaces as TypedStreamError.

import { Buffer, isUtf8 } from 'node:buffer';

export interface DecodedBody {
  text: string;
  /** file transfer GUIDs found in attributes, in order */
  attachmentGuids: string[];
  links: string[];
  decoder: 'fast' | 'full';
}

export class TypedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypedStreamError';
  }
}

// ---------------------------------------------------------------------------------------------
// Constants

export const TAG_I16 = 0x81;
export const TAG_I32 = 0x82;
const TAG_FLOAT = 0x83;
export const TAG_NEW = 0x84;
export const TAG_NIL = 0x85;
export const TAG_END = 0x86;
export const TAG_I64 = 0x87;
/** First reference byte (0x92 = -110). References are signed integers; index = value + 110. */
const REF_BASE = 0x92;
export const REF_OFFSET = 110;

const MAX_OBJECT_DEPTH = 64;
const MAX_TYPE_DEPTH = 32;
const MAX_TABLE_ENTRIES = 65_536;
const MAX_CLASS_CHAIN = 64;

export const FILE_TRANSFER_GUID_KEY = '__kIMFileTransferGUIDAttributeName';
export const LINK_KEY = '__kIMLinkAttributeName';
export const MESSAGE_PART_KEY = '__kIMMessagePartAttributeName';

export const HEADER = Buffer.from([0x04, 0x0b, ...Buffer.from('streamtyped', 'latin1'), 0x81, 0xe8, 0x03]);
const HEADER_LEN = 16;
/** `84 08 "NSString"`: the NSString class name as a new shared string (always new the first time). */
const NSSTRING_CLASS = Buffer.from('\x84\x08NSString', 'latin1');
const NEEDLE_GUID = Buffer.from(FILE_TRANSFER_GUID_KEY, 'latin1');
const NEEDLE_LINK = Buffer.from(LINK_KEY, 'latin1');

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function toBuffer(blob: Uint8Array): Buffer {
  if (Buffer.isBuffer(blob)) return blob;
  if (blob instanceof Uint8Array) return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  throw new TypedStreamError(`attributedBody must be a Uint8Array/Buffer, got ${blob === null ? 'null' : typeof blob}`);
}

/** Index of the first byte in [start, end) where UTF-8 decoding fails (end if all valid). */
function utf8ValidUntil(b: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= end) return i; // sequence cut off by the end of the range
    const c1 = b[i + 1];
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const ck = b[i + k];
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += need + 1;
  }
  return end;
}

function isAscii(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] >= 0x80) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fast path

/** Offset just past the text found by the last successful fastText() call. */
let fastTextEnd = 0;

/**
 * Returns the text, or undefined to fall through to the full decoder. Throws TypedStreamError only
 * for a well-formed blob whose text is empty (the "Blank" case).
 */
function fastText(buf: Buffer): string | undefined {
  const n = buf.length;
  if (n < HEADER_LEN + 20) return undefined;
  for (let i = 0; i < HEADER_LEN; i++) if (buf[i] !== HEADER[i]) return undefined;
  // root: type '@' (84 01 40), new object (84)
  if (buf[16] !== TAG_NEW || buf[17] !== 0x01 || buf[18] !== 0x40 || buf[19] !== TAG_NEW) {
    return undefined;
  }
  const c = buf.indexOf(NSSTRING_CLASS, 20);
  if (c < 0) return undefined;
  // after the class name: version (literal byte), superclass (nil or reference), then `84 01 2B`
  const p = c + NSSTRING_CLASS.length;
  if (p + 6 > n) return undefined;
  if (buf[p] >= 0x80) return undefined;
  const parent = buf[p + 1];
  if (parent !== TAG_NIL && parent < REF_BASE) return undefined;
  if (buf[p + 2] !== TAG_NEW || buf[p + 3] !== 0x01 || buf[p + 4] !== 0x2b) return undefined;
  let q = p + 5;
  const head = buf[q];
  let len: number;
  if (head < 0x80) {
    len = head;
    q += 1;
  } else if (head === TAG_I16) {
    if (q + 3 > n) return undefined;
    len = buf[q + 1] | (buf[q + 2] << 8);
    q += 3;
  } else if (head === TAG_I32) {
    if (q + 5 > n) return undefined;
    len = buf.readUInt32LE(q + 1);
    q += 5;
  } else return undefined;
  const end = q + len;
  // The NSString object must be closed by END right after the text; otherwise the declared
  // length is not trustworthy (ExtraData) and the full decoder takes over.
  if (end >= n || buf[end] !== TAG_END) return undefined;
  if (len === 0) {
    throw new TypedStreamError('attributedBody has an empty text (Blank body): no message text');
  }
  let text: string;
  if (isAscii(buf, q, end)) text = buf.toString('latin1', q, end);
  else {
    try {
      text = strictUtf8.decode(buf.subarray(q, end));
    } catch {
      return undefined;
    }
  }
  fastTextEnd = end;
  return text;
}

function hasRichAttributes(buf: Buffer, from: number): boolean {
  return buf.indexOf(NEEDLE_GUID, from) >= 0 || buf.indexOf(NEEDLE_LINK, from) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Full parser

class TsClass {
  parent: TsClass | null = null;
  constructor(
    readonly name: string,
    readonly version: number,
  ) {}
}

class TsObject {
  cls: TsClass | null = null;
  readonly values: Value[] = [];
  /** false while the object's values are still being read (or reading failed) */
  complete = false;
}

class TsCString {
  constructor(readonly text: string) {}
}

type Entry = TsClass | TsObject | TsCString;
type Value = number | string | Buffer | TsObject | TsClass | null;

// slot kinds produced by type-encoding parsing
const K_OBJECT = 1; // @
const K_CLASS = 2; // #
const K_SEL = 3; // :   (shared string)
const K_ATOM = 4; // %  (shared string)
const K_CSTRING = 5; // *
const K_PLUS = 6; // +  (length-prefixed string)
const K_SINT = 7; // s i l q
const K_UINT = 8; // S I L Q
const K_CHAR = 9; // c  (raw byte, signed)
const K_UCHAR = 10; // C B (raw byte)
const K_FLOAT = 11; // f
const K_DOUBLE = 12; // d
const K_BYTES = 13; // [Nc] / [NC]; followed in the slot list by N

function scalarKind(ch: number): number {
  switch (ch) {
    case 0x40:
      return K_OBJECT; // @
    case 0x23:
      return K_CLASS; // #
    case 0x3a:
      return K_SEL; // :
    case 0x25:
      return K_ATOM; // %
    case 0x2a:
      return K_CSTRING; // *
    case 0x2b:
      return K_PLUS; // +
    case 0x73:
    case 0x69:
    case 0x6c:
    case 0x71:
      return K_SINT; // s i l q
    case 0x53:
    case 0x49:
    case 0x4c:
    case 0x51:
      return K_UINT; // S I L Q
    case 0x63:
      return K_CHAR; // c
    case 0x43:
    case 0x42:
      return K_UCHAR; // C B
    case 0x66:
      return K_FLOAT; // f
    case 0x64:
      return K_DOUBLE; // d
    default:
      return 0;
  }
}

const SINGLE_SLOTS: (readonly number[])[] = [];
for (let k = K_OBJECT; k <= K_DOUBLE; k++) SINGLE_SLOTS[k] = Object.freeze([k]);

function hex(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0');
}

class Parser {
  readonly buf: Buffer;
  readonly n: number;
  pos = 0;
  readonly strings: string[] = [];
  readonly typeCache: (readonly number[] | undefined)[] = [];
  readonly objects: Entry[] = [];
  depth = 0;
  /** Remaining work units (values read + type slots expanded): linear in the blob size. */
  budget: number;
  /** set when a string's declared length had to be repaired (ExtraData case) */
  recovered = false;
  /** the root object; its entry exists as soon as its NEW tag has been read */
  root: TsObject | null = null;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.n = buf.length;
    this.budget = 4 * buf.length + 4096;
  }

  fail(msg: string): never {
    throw new TypedStreamError(`typedstream: ${msg} (offset ${this.pos} of ${this.n})`);
  }

  u8(): number {
    if (this.pos >= this.n) this.fail('unexpected end of data');
    return this.buf[this.pos++];
  }

  need(k: number): void {
    if (k > this.n - this.pos) this.fail(`needs ${k} more bytes, only ${this.n - this.pos} left`);
  }

  spend(k: number): void {
    this.budget -= k;
    if (this.budget < 0) this.fail('too many values for the blob size (hostile input?)');
  }

  /** Integer whose head byte has already been read. */
  intWithHead(head: number, signed: boolean): number {
    if (head < 0x80 || head >= REF_BASE) return signed ? (head << 24) >> 24 : head;
    const b = this.buf;
    switch (head) {
      case TAG_I16: {
        this.need(2);
        const v = b[this.pos] | (b[this.pos + 1] << 8);
        this.pos += 2;
        return signed ? (v << 16) >> 16 : v;
      }
      case TAG_I32: {
        this.need(4);
        const v = signed ? b.readInt32LE(this.pos) : b.readUInt32LE(this.pos);
        this.pos += 4;
        return v;
      }
      case TAG_I64: {
        this.need(8);
        const lo = b.readUInt32LE(this.pos);
        const hi = signed ? b.readInt32LE(this.pos + 4) : b.readUInt32LE(this.pos + 4);
        this.pos += 8;
        return hi * 4294967296 + lo;
      }
      default:
        this.pos--;
        return this.fail(`unexpected tag ${hex(head)} where an integer was expected`);
    }
  }

  /** Table index of a reference whose head byte has already been read. */
  refIndex(head: number, tableLen: number, what: string): number {
    const idx = this.intWithHead(head, true) + REF_OFFSET;
    if (idx < 0 || idx >= tableLen) {
      this.fail(`${what} reference #${idx} out of range (table has ${tableLen})`);
    }
    return idx;
  }

  pushEntry(e: Entry): void {
    if (this.objects.length >= MAX_TABLE_ENTRIES) this.fail('object table too large');
    this.objects.push(e);
  }

  /** Shared string (type encodings, class names, C-string contents). Returns index or -1 for nil. */
  sharedString(head: number): number {
    if (head === TAG_NIL) return -1;
    if (head === TAG_NEW) {
      const lh = this.u8();
      if (lh === TAG_NIL) this.fail('nil literal in a shared string');
      const len = this.intWithHead(lh, false);
      this.need(len);
      if (this.strings.length >= MAX_TABLE_ENTRIES) this.fail('string table too large');
      const s = this.buf.toString('latin1', this.pos, this.pos + len);
      this.pos += len;
      this.strings.push(s);
      return this.strings.length - 1;
    }
    return this.refIndex(head, this.strings.length, 'shared string');
  }

  /** A class chain (new classes up to a nil or a reference). Returns the most derived class. */
  readClass(head: number): TsClass | null {
    let first: TsClass | null = null;
    let prev: TsClass | null = null;
    while (head === TAG_NEW) {
      const si = this.sharedString(this.u8());
      if (si < 0) this.fail('nil class name');
      const version = this.intWithHead(this.u8(), true);
      const c = new TsClass(this.strings[si], version);
      this.pushEntry(c);
      if (prev) prev.parent = c;
      else first = c;
      prev = c;
      head = this.u8();
    }
    let tail: TsClass | null = null;
    if (head !== TAG_NIL) {
      const e = this.objects[this.refIndex(head, this.objects.length, 'class')];
      if (!(e instanceof TsClass)) this.fail('class reference does not point to a class');
      tail = e;
    }
    if (prev) {
      prev.parent = tail;
      return first;
    }
    return tail;
  }

  readObject(head: number): TsObject | TsClass | TsCString | null {
    if (head === TAG_NIL) return null;
    if (head !== TAG_NEW) return this.objects[this.refIndex(head, this.objects.length, 'object')];
    if (++this.depth > MAX_OBJECT_DEPTH) this.fail(`objects nested deeper than ${MAX_OBJECT_DEPTH}`);
    const o = new TsObject();
    this.pushEntry(o);
    if (this.depth === 1) this.root = o;
    o.cls = this.readClass(this.u8());
    for (;;) {
      const h = this.u8();
      if (h === TAG_END) break;
      this.readGroup(h, o.values);
    }
    o.complete = true;
    this.depth--;
    return o;
  }

  /** `+` string: length-prefixed UTF-8. Repairs an impossible length (see ExtraData). */
  readPlus(head: number): string | null {
    if (head === TAG_NIL) return null;
    const len = this.intWithHead(head, false);
    const b = this.buf;
    const start = this.pos;
    const avail = this.n - start;
    const end = len <= avail ? start + len : -1;
    if (end >= 0) {
      if (isAscii(b, start, end)) {
        this.pos = end;
        return b.toString('latin1', start, end);
      }
      if (isUtf8(b.subarray(start, end))) {
        this.pos = end;
        return b.toString('utf8', start, end);
      }
    }
    // Declared length runs past the blob, or the bytes are not UTF-8: if the valid UTF-8 prefix
    // stops exactly at an END tag, the length field was wrong and the string ends there.
    const limit = end >= 0 ? end : this.n;
    const stop = utf8ValidUntil(b, start, limit);
    if (stop < limit && b[stop] === TAG_END) {
      this.recovered = true;
      this.pos = stop;
      return b.toString('utf8', start, stop);
    }
    if (end < 0) this.fail(`string declares ${len} bytes but only ${avail} remain`);
    this.pos = end;
    return b.toString('utf8', start, end); // invalid UTF-8 inside a well-delimited string: lossy
  }

  readCString(head: number): string | null {
    if (head === TAG_NIL) return null;
    if (head === TAG_NEW) {
      const si = this.sharedString(this.u8());
      if (si < 0) this.fail('nil shared string in a C string');
      const s = this.strings[si];
      this.pushEntry(new TsCString(s));
      return s;
    }
    const e = this.objects[this.refIndex(head, this.objects.length, 'C string')];
    if (!(e instanceof TsCString)) this.fail('C string reference does not point to a C string');
    return e.text;
  }

  /** One typed group: a type encoding (new or referenced) and one value per slot. */
  readGroup(head: number, out: Value[]): void {
    const si = this.sharedString(head);
    if (si < 0) this.fail('nil type encoding');
    const slots = this.typeCache[si] ?? this.parseType(si);
    const count = slots.length;
    this.spend(count);
    const b = this.buf;
    for (let i = 0; i < count; i++) {
      switch (slots[i]) {
        case K_OBJECT: {
          const v = this.readObject(this.u8());
          out.push(v instanceof TsCString ? v.text : v);
          break;
        }
        case K_SINT:
          out.push(this.intWithHead(this.u8(), true));
          break;
        case K_UINT:
          out.push(this.intWithHead(this.u8(), false));
          break;
        case K_PLUS:
          out.push(this.readPlus(this.u8()));
          break;
        case K_CSTRING:
          out.push(this.readCString(this.u8()));
          break;
        case K_CHAR:
          out.push((this.u8() << 24) >> 24);
          break;
        case K_UCHAR:
          out.push(this.u8());
          break;
        case K_FLOAT:
        case K_DOUBLE: {
          const h = this.u8();
          if (h === TAG_FLOAT) {
            if (slots[i] === K_FLOAT) {
              this.need(4);
              out.push(b.readFloatLE(this.pos));
              this.pos += 4;
            } else {
              this.need(8);
              out.push(b.readDoubleLE(this.pos));
              this.pos += 8;
            }
          } else out.push(this.intWithHead(h, true));
          break;
        }
        case K_SEL:
        case K_ATOM: {
          const s = this.sharedString(this.u8());
          out.push(s < 0 ? null : this.strings[s]);
          break;
        }
        case K_CLASS:
          out.push(this.readClass(this.u8()));
          break;
        case K_BYTES: {
          const len = slots[++i];
          this.need(len);
          out.push(b.subarray(this.pos, this.pos + len));
          this.pos += len;
          break;
        }
        default:
          this.fail('corrupt slot list');
      }
    }
  }

  parseType(si: number): readonly number[] {
    const s = this.strings[si];
    if (s.length === 0) this.fail('empty type encoding');
    let slots: readonly number[];
    const single = s.length === 1 ? scalarKind(s.charCodeAt(0)) : 0;
    if (single) slots = SINGLE_SLOTS[single];
    else {
      const out: number[] = [];
      let i = 0;
      while (i < s.length) i = this.parseOneType(s, i, out, 0);
      slots = out;
    }
    this.typeCache[si] = slots;
    return slots;
  }

  private parseOneType(s: string, i: number, out: number[], depth: number): number {
    if (depth > MAX_TYPE_DEPTH) this.fail(`type encoding nested deeper than ${MAX_TYPE_DEPTH}`);
    const len = s.length;
    // method qualifiers (const, in, out, ...)
    while (i < len && 'rnNoORV'.includes(s[i])) i++;
    if (i >= len) this.fail(`truncated type encoding ${JSON.stringify(s)}`);
    const ch = s.charCodeAt(i++);
    if (ch === 0x5b) {
      // [N<type>]
      let count = 0;
      const d0 = i;
      while (i < len && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
        count = count * 10 + (s.charCodeAt(i) - 0x30);
        if (count > 0x7fffffff) this.fail('array length overflow in type encoding');
        i++;
      }
      if (i === d0) this.fail(`array without length in type encoding ${JSON.stringify(s)}`);
      const e = s.charCodeAt(i);
      if ((e === 0x63 || e === 0x43) && s.charCodeAt(i + 1) === 0x5d) {
        this.spend(1);
        out.push(K_BYTES, count);
        return i + 2;
      }
      const elem: number[] = [];
      i = this.parseOneType(s, i, elem, depth + 1);
      if (s.charCodeAt(i) !== 0x5d) this.fail(`unterminated array in type encoding ${JSON.stringify(s)}`);
      i++;
      if (elem.length > 0 && count > 0) {
        this.spend(count * elem.length);
        for (let k = 0; k < count; k++) for (let j = 0; j < elem.length; j++) out.push(elem[j]);
      }
      return i;
    }
    if (ch === 0x7b) {
      // {name=members}
      while (i < len) {
        const c = s.charCodeAt(i++);
        if (c === 0x3d) break;
        if (c === 0x7d) return i;
      }
      for (;;) {
        if (i >= len) this.fail(`unterminated struct in type encoding ${JSON.stringify(s)}`);
        if (s.charCodeAt(i) === 0x7d) return i + 1;
        i = this.parseOneType(s, i, out, depth + 1);
      }
    }
    const k = scalarKind(ch);
    if (!k) this.fail(`unsupported type encoding character ${JSON.stringify(String.fromCharCode(ch))}`);
    this.spend(1);
    out.push(k);
    return i;
  }

  /** Header + the root group. rootValues is filled progressively, so it survives a throw. */
  parseRoot(): void {
    const b = this.buf;
    if (this.n < HEADER_LEN) this.fail('too short for a typedstream header');
    const version = this.intWithHead(this.u8(), false);
    const sigLen = this.u8();
    if (version !== 4 || sigLen !== 11) this.fail('not a typedstream (bad header)');
    this.need(11);
    const sig = b.toString('latin1', this.pos, this.pos + 11);
    this.pos += 11;
    if (sig === 'typedstream') this.fail('big-endian typedstream is not supported');
    if (sig !== 'streamtyped') this.fail('not a typedstream (bad signature)');
    const system = this.intWithHead(this.u8(), false);
    if (system !== 1000) this.fail(`unsupported typedstream system version ${system}`);
    // The root group must be a single new object ('@' then NEW). Its table entry is created before
    // its contents are read, so a later failure still leaves the partially read root reachable.
    const si = this.sharedString(this.u8());
    if (si < 0) this.fail('nil root type encoding');
    const slots = this.typeCache[si] ?? this.parseType(si);
    if (slots.length !== 1 || slots[0] !== K_OBJECT) {
      this.fail(`root value has type ${JSON.stringify(this.strings[si])}, not an object`);
    }
    if (this.pos >= this.n || this.buf[this.pos] !== TAG_NEW) this.fail('root object is not a new object');
    this.readObject(this.u8()); // sets this.root as soon as the object entry exists
  }
}

// ---------------------------------------------------------------------------------------------
// NSAttributedString walk

function classChainHas(cls: TsClass | null, name: string): boolean {
  for (let i = 0; cls && i < MAX_CLASS_CHAIN; i++, cls = cls.parent) if (cls.name === name) return true;
  return false;
}

function className(v: Value | undefined): string {
  if (v instanceof TsObject) return v.cls ? v.cls.name : '(no class)';
  if (v === null) return 'nil';
  if (v === undefined) return 'nothing';
  if (v instanceof TsClass) return `class ${v.name}`;
  return typeof v;
}

/** Text of an NSString-like object (or a bare string value). */
function nsString(v: Value | undefined): string | null {
  if (typeof v === 'string') return v;
  if (v instanceof TsObject && classChainHas(v.cls, 'NSString')) {
    const s = v.values[0];
    return typeof s === 'string' ? s : null;
  }
  return null;
}

function nsUrl(v: Value | undefined): string | null {
  if (typeof v === 'string') return v;
  if (!(v instanceof TsObject)) return null;
  if (classChainHas(v.cls, 'NSString')) return nsString(v);
  if (!classChainHas(v.cls, 'NSURL')) return null;
  for (const x of v.values) {
    const s = nsString(x);
    if (s !== null) return s;
  }
  return null;
}

function collectDictionary(dict: TsObject, guids: string[], links: string[]): void {
  const vals = dict.values;
  const count = vals[0];
  if (typeof count !== 'number') return;
  const pairs = Math.min(count, (vals.length - 1) >> 1);
  for (let k = 0; k < pairs; k++) {
    const key = nsString(vals[1 + 2 * k]);
    if (key === FILE_TRANSFER_GUID_KEY) {
      const g = nsString(vals[2 + 2 * k]);
      if (g && !guids.includes(g)) guids.push(g);
    } else if (key === LINK_KEY) {
      const u = nsUrl(vals[2 + 2 * k]);
      if (u && !links.includes(u)) links.push(u);
    }
  }
}

function fullDecodeUnsafe(buf: Buffer): DecodedBody {
  const p = new Parser(buf);
  let error: TypedStreamError | null = null;
  try {
    p.parseRoot();
  } catch (e) {
    error = e instanceof TypedStreamError ? e : new TypedStreamError(`typedstream: decoder failure: ${(e as Error)?.message ?? String(e)}`);
  }
  const root = p.root;
  if (!root) throw error ?? new TypedStreamError('typedstream: no root object');
  if (!classChainHas(root.cls, 'NSAttributedString')) {
    if (error) throw error;
    throw new TypedStreamError(`typedstream: root object is ${className(root)}, not an NSAttributedString`);
  }
  const v = root.values;
  const strObj = v[0];
  const text = nsString(strObj);
  if (text === null) {
    if (error) throw error;
    throw new TypedStreamError(`typedstream: NSAttributedString does not start with an NSString (found ${className(strObj)})`);
  }
  if (text.length === 0) {
    throw new TypedStreamError('attributedBody has an empty text (Blank body): no message text');
  }
  // Attribute runs: (rangeId, length) then, for a new rangeId, the NSDictionary.
  const attachmentGuids: string[] = [];
  const links: string[] = [];
  for (let i = 1; i < v.length; i++) {
    const x = v[i];
    if (x instanceof TsObject && classChainHas(x.cls, 'NSDictionary')) {
      collectDictionary(x, attachmentGuids, links);
    }
  }
  return { text, attachmentGuids, links, decoder: 'full' };
}

function fullDecode(buf: Buffer): DecodedBody {
  try {
    return fullDecodeUnsafe(buf);
  } catch (e) {
    if (e instanceof TypedStreamError) throw e;
    throw new TypedStreamError(`typedstream: decoder failure: ${(e as Error)?.message ?? String(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Decode an attributedBody blob. Throws TypedStreamError with a clear message for anything that is
 * not a decodable NSAttributedString with text (including an empty/"Blank" body).
 *
 * When the blob is damaged after the text (truncated or corrupt attribute runs), the text is still
 * returned, with the attributes that could be read before the damage.
 */
export function decodeAttributedBody(blob: Uint8Array): DecodedBody {
  const buf = toBuffer(blob);
  let text: string | undefined;
  try {
    text = fastText(buf);
  } catch (e) {
    if (e instanceof TypedStreamError) throw e;
    text = undefined;
  }
  if (text === undefined) return fullDecode(buf);
  if (!hasRichAttributes(buf, fastTextEnd)) {
    return { text, attachmentGuids: [], links: [], decoder: 'fast' };
  }
  try {
    return fullDecode(buf);
  } catch {
    // The full parser failed before reaching the text that the fast path did find.
    return { text, attachmentGuids: [], links: [], decoder: 'fast' };
  }
}

/** Always use the full parser (tests and benchmarks). Same contract as decodeAttributedBody. */
export function decodeAttributedBodyFull(blob: Uint8Array): DecodedBody {
  return fullDecode(toBuffer(blob));
}
