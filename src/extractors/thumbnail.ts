// Thumbnails for the report, from a media file's working copy: the JPEG that EXIF IFD1 embeds (iPhone photos carry
// one of ~5–15 KB), else the image itself when it is already a small JPEG/PNG/GIF/WebP. Nothing is decoded or
// re-encoded; the bytes are checked structurally (a truncated or mislabelled image gives no thumbnail) and
// stored through addThumbnail() (src/timeline/thumbnails.ts). Never throws: any problem means "no thumbnail".
import fs from 'node:fs';
import { jpegTiffStart, tiffStructureProblem } from './photos/exif.js';
import { MAX_THUMBNAIL_BYTES, sniffImage, type ThumbnailMime } from '../timeline/thumbnails.js';
import { mimeFromName } from './messages/vocab.js';

export interface Thumbnail {
  mime: string;
  data: Buffer;
  width?: number;
  height?: number;
}

/** Bytes read first. EXIF (with its thumbnail) sits in the first 64 KB APP1 segment of a JPEG. */
const HEAD_BYTES = 128 * 1024;
/** A HEIC whose Exif item is not in the head is read whole, up to this size. */
const MAX_WHOLE_FILE = 64 * 1024 * 1024;

/** Whether an attachment looks like an image by its MIME type or file name; the image MIME to use, else null. */
export function imageMimeOf(mime: string | null, name: string | null): string | null {
  if (mime && /^image\//i.test(mime)) return mime.toLowerCase();
  const byName = mimeFromName(name);
  return byName?.startsWith('image/') ? byName : null;
}

/**
 * A thumbnail for the file at `workingCopyPath` (≤ MAX_THUMBNAIL_BYTES), or null. `mime` is a hint: a non-image
 * type gives null without reading; the bytes decide the format either way.
 */
export async function makeThumbnail(workingCopyPath: string, mime: string | null): Promise<Thumbnail | null> {
  try {
    if (mime && !/^image\//i.test(mime)) return null;
    const fd = fs.openSync(workingCopyPath, 'r');
    let head: Buffer;
    let size: number;
    try {
      size = fs.fstatSync(fd).size;
      head = Buffer.allocUnsafe(Math.min(size, HEAD_BYTES));
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
    const whole = head.length >= size;
    const format = sniffMedia(head);
    if (format === 'image/jpeg' || format === 'tiff') {
      const t = await exifThumbnail(head);
      if (t) return t;
    } else if (format === 'heic') {
      let t = await heicThumbnail(head);
      if (t === undefined && !whole && size <= MAX_WHOLE_FILE) t = await heicThumbnail(fs.readFileSync(workingCopyPath));
      if (t) return t;
    }
    if (whole && size <= MAX_THUMBNAIL_BYTES) return wholeImage(head);
    return null;
  } catch {
    return null;
  }
}

function sniffMedia(head: Buffer): ThumbnailMime | 'heic' | 'tiff' | null {
  const img = sniffImage(head);
  if (img) return img;
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp' && /^(heic|heix|heim|heis|hevc|hevx|mif1|msf1)$/.test(head.toString('latin1', 8, 12))) return 'heic';
  if (head.length >= 4 && (head.toString('latin1', 0, 4) === 'II*\0' || head.toString('latin1', 0, 4) === 'MM\0*')) return 'tiff';
  return null;
}

/**
 * Where the IFD1 thumbnail sits in a TIFF block starting at `t`: IFD0's next-IFD link, then IFD1's
 * JPEGInterchangeFormat (0x0201) and its length (0x0202), all checked against the bytes. Our own few reads
 * instead of a third-party parser: bounded by construction, and no worker round trip per photo.
 */
export function ifd1Jpeg(b: Buffer, t: number): Buffer | null {
  if (t < 0 || t + 8 > b.length || tiffStructureProblem(b, t)) return null;
  const le = b.readUInt16BE(t) === 0x4949;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const ifd0 = u32(t + 4);
  if (t + ifd0 + 2 > b.length) return null;
  const link = t + ifd0 + 2 + u16(t + ifd0) * 12;
  if (link + 4 > b.length) return null;
  const ifd1 = u32(link);
  if (!ifd1 || t + ifd1 + 2 > b.length) return null;
  const n = u16(t + ifd1);
  if (n > 1000 || t + ifd1 + 2 + n * 12 > b.length) return null;
  let offset: number | null = null,
    length: number | null = null;
  for (let k = 0; k < n; k++) {
    const e = t + ifd1 + 2 + k * 12;
    const tag = u16(e);
    const value = u16(e + 2) === 3 ? u16(e + 8) : u32(e + 8); // SHORT or LONG
    if (tag === 0x0201) offset = value;
    else if (tag === 0x0202) length = value;
  }
  if (offset === null || !length || t + offset + length > b.length) return null;
  return b.subarray(t + offset, t + offset + length);
}

/** The IFD1 JPEG of a JPEG or TIFF buffer, checked; null when absent or broken. */
async function exifThumbnail(buf: Buffer): Promise<Thumbnail | null> {
  const raw = ifd1Jpeg(buf, buf[0] === 0xff ? jpegTiffStart(buf) : 0);
  if (!raw || raw.byteLength === 0) return null;
  const data = trimJpeg(Buffer.from(raw)); // a copy: do not keep the head buffer alive
  if (data.length > MAX_THUMBNAIL_BYTES) return null;
  const dims = jpegInfo(data);
  return dims ? { mime: 'image/jpeg', data, ...dims } : null;
}

/**
 * HEIC keeps EXIF in an item that starts "Exif\0\0" + TIFF header; exifr extracts thumbnails from JPEG and TIFF
 * only, so the TIFF block is handed over as a TIFF file. undefined: no Exif block in `buf` (look further);
 * null: an Exif block without a usable thumbnail.
 */
async function heicThumbnail(buf: Buffer): Promise<Thumbnail | null | undefined> {
  let found = false;
  for (let i = buf.indexOf('Exif\0\0', 0, 'latin1'), n = 0; i !== -1 && n < 8; i = buf.indexOf('Exif\0\0', i + 1, 'latin1'), n++) {
    const magic = buf.toString('latin1', i + 6, i + 10);
    if (magic !== 'MM\0*' && magic !== 'II*\0') continue;
    found = true;
    const t = await exifThumbnail(buf.subarray(i + 6));
    if (t) return t;
  }
  return found ? null : undefined;
}

/** The file itself as a thumbnail: a complete JPEG/PNG/GIF/WebP (already ≤ MAX_THUMBNAIL_BYTES). */
function wholeImage(buf: Buffer): Thumbnail | null {
  const type = sniffImage(buf);
  let data: Buffer = Buffer.from(buf); // own copy of exactly these bytes
  const dims =
    type === 'image/jpeg'
      ? jpegInfo((data = trimJpeg(data)))
      : type === 'image/png'
        ? pngInfo(data)
        : type === 'image/gif'
          ? gifInfo(data)
          : type === 'image/webp'
            ? webpInfo(data)
            : null;
  return type && dims && data.length <= MAX_THUMBNAIL_BYTES ? { mime: type, data, ...dims } : null;
}

type Dims = { width?: number; height?: number };

/** Drop zero padding after the final EOI marker (some encoders pad the IFD1 blob). */
function trimJpeg(b: Buffer): Buffer {
  let end = b.length;
  while (end > 2 && b[end - 1] === 0x00 && b.length - end < 64) end--;
  return end === b.length ? b : b.subarray(0, end);
}

/**
 * A baseline/progressive JPEG that is complete: SOI, well-formed segments up to the first scan with a frame header
 * before it, EOI at the end. Its dimensions from the frame header; null when broken.
 */
export function jpegInfo(b: Buffer): Dims | null {
  if (b.length < 20 || b[0] !== 0xff || b[1] !== 0xd8 || b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) return null;
  let i = 2;
  let dims: Dims | null = null;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    while (b[i] === 0xff && i < b.length) i++; // fill bytes
    const marker = b[i++];
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd8 || marker === 0xd9 || marker === 0x00) return null;
    if (i + 2 > b.length) return null;
    const len = b.readUInt16BE(i);
    if (len < 2 || i + len > b.length) return null;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (len < 8) return null;
      const height = b.readUInt16BE(i + 3),
        width = b.readUInt16BE(i + 5);
      if (!width || !height) return null;
      dims = { width, height };
    }
    if (marker === 0xda) return dims && i + len < b.length - 2 ? dims : null;
    i += len;
  }
  return null;
}

function pngInfo(b: Buffer): Dims | null {
  if (b.length < 57 || b.toString('latin1', 12, 16) !== 'IHDR') return null;
  if (b.toString('latin1', b.length - 8, b.length - 4) !== 'IEND') return null;
  const width = b.readUInt32BE(16),
    height = b.readUInt32BE(20);
  return width && height ? { width, height } : null;
}

function gifInfo(b: Buffer): Dims | null {
  if (b.length < 14 || b[b.length - 1] !== 0x3b) return null;
  const width = b.readUInt16LE(6),
    height = b.readUInt16LE(8);
  return width && height ? { width, height } : null;
}

function webpInfo(b: Buffer): Dims | null {
  if (b.length < 30 || b.readUInt32LE(4) + 8 > b.length) return null;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const v = b.readUInt32LE(21);
    return { width: (v & 0x3fff) + 1, height: ((v >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  return {};
}
