// EXIF from JPEG and HEIC media files (exifr), and the time-zone reasoning around it.
// EXIF DateTimeOriginal is local wall time without a zone. Its UTC instant is derived, in this order, from
// OffsetTimeOriginal, from the GPS date/time stamps (UTC by definition), or from Photos.sqlite's
// ZTIMEZONEOFFSET; otherwise the time stays "local, zone unknown". The machine's zone is never used:
// every calendar computation below goes through Date.UTC.
//
// exifr never runs on this thread: a pool of worker threads (exifWorker.ts) runs it under a deadline and a
// size budget, because damaged evidence can make it loop forever (a HEIC box of size 0) or spin for seconds
// (an IFD of thousands of entries with 30,000-value arrays). A file over budget becomes a warning naming it.
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import exifr from 'exifr';
import { isoFromUs } from '../../formats/appleTime.js';

/** Bytes read first: EXIF sits at the start of iPhone JPEGs and (usually) HEICs. */
export const EXIF_HEAD_BYTES = 128 * 1024;

/** Only the tags interpretExif reads: exifr then skips every other entry instead of decoding its values. */
const EXIF_PICK = [
  'DateTimeOriginal',
  'CreateDate',
  'SubSecTimeOriginal',
  'SubSecTimeDigitized',
  'OffsetTimeOriginal',
  'OffsetTimeDigitized',
  'OffsetTime',
  'GPSLatitude',
  'GPSLatitudeRef',
  'GPSLongitude',
  'GPSLongitudeRef',
  'GPSDateStamp',
  'GPSTimeStamp',
  'GPSAltitude',
  'GPSAltitudeRef',
  'ExifImageWidth',
  'ExifImageHeight',
  'ImageWidth',
  'ImageHeight',
  'Make',
  'Model',
  'LensModel',
  'Software',
];

export const EXIFR_OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  ifd1: false,
  interop: false,
  makerNote: false,
  userComment: false,
  xmp: false,
  icc: false,
  iptc: false,
  jfif: false,
  ihdr: false,
  reviveValues: false,
  translateValues: false,
  translateKeys: true,
  mergeOutput: true,
  sanitize: true,
  pick: EXIF_PICK,
};

// ---- the exifr pool ----------------------------------------------------------------------------------------

export interface ExifrRequest {
  op: 'parse' | 'thumbnail';
  buf: Uint8Array;
}
export type ExifrReply = { ok: true; value: unknown } | { ok: false; error: string };

/** Time and size budget for one exifr call on evidence. A normal photo takes 1–5 ms; a 60 MB HEIC well under 1 s. */
export const EXIF_BUDGET = { timeoutMs: 5000, maxBytes: 64 * 1024 * 1024 };

/** The file exceeded the budget (or broke the parser thread): a warning, never a hang. */
export class ExifBudgetError extends Error {}

interface Task {
  req: ExifrRequest;
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}
interface Slot {
  worker: Worker;
  task: Task | null;
}

/** The compiled worker: beside this module, or under dist/ when running from the TypeScript sources (tests). */
function workerScript(): string | null {
  const here = fileURLToPath(new URL('./exifWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])extractors([\\/])photos([\\/])exifWorker\.js$/, '$1dist$1src$2extractors$3photos$4exifWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

class ExifrPool {
  private slots: Slot[] = [];
  private queue: Task[] = [];
  constructor(
    private readonly script: string,
    private readonly size: number,
  ) {}

  run(req: ExifrRequest, transfer: ArrayBuffer[] = []): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length) {
      const slot = this.slots.find((s) => !s.task) ?? (this.slots.length < this.size ? this.spawn() : null);
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref(); // keeps the process alive while a parse is pending; idle workers never do
      task.timer = setTimeout(
        () => this.fail(slot, new ExifBudgetError(`the EXIF parser did not finish within ${EXIF_BUDGET.timeoutMs / 1000} s and was stopped`)),
        EXIF_BUDGET.timeoutMs,
      );
      slot.worker.postMessage(task.req, task.transfer);
    }
  }

  private spawn(): Slot {
    // A heap cap: a hostile value count must not take the whole machine's memory.
    const worker = new Worker(this.script, { resourceLimits: { maxOldGenerationSizeMb: 512 } });
    const slot: Slot = { worker, task: null };
    worker.unref();
    worker.on('message', (m: ExifrReply) => {
      const task = slot.task;
      if (!task) return;
      clearTimeout(task.timer);
      slot.task = null;
      worker.unref();
      if (m.ok) task.resolve(m.value);
      else task.reject(new Error(m.error));
      this.pump();
    });
    worker.on('error', (e) => this.fail(slot, new ExifBudgetError(`the EXIF parser thread failed (${e.message})`)));
    worker.on('exit', () => this.fail(slot, new ExifBudgetError('the EXIF parser thread exited')));
    this.slots.push(slot);
    return slot;
  }

  /** Drop a worker (stuck or dead): its task fails, the next task gets a fresh thread. */
  private fail(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i === -1) return; // already dropped
    this.slots.splice(i, 1);
    const task = slot.task;
    slot.task = null;
    if (task) {
      clearTimeout(task.timer);
      task.reject(err);
    }
    void slot.worker.terminate();
    this.pump();
  }
}

let pool: ExifrPool | null | undefined;

/** The shared pool (two threads: EXIF and thumbnail of one photo run side by side), or null without a compiled worker. */
export function exifrPool(): ExifrPool | null {
  if (pool === undefined) {
    const script = workerScript();
    pool = script ? new ExifrPool(script, Math.max(1, Math.min(2, os.cpus().length))) : null;
  }
  return pool;
}

/**
 * Run exifr on evidence bytes within the budget. `transfer` hands the buffer to the worker without a copy
 * (the caller must not use it afterwards). Throws ExifBudgetError when over budget, Error when exifr throws.
 */
export async function runExifr(op: ExifrRequest['op'], buf: Uint8Array, transfer = false): Promise<unknown> {
  if (buf.byteLength > EXIF_BUDGET.maxBytes) throw new ExifBudgetError(`${buf.byteLength} bytes is over the EXIF size budget of ${EXIF_BUDGET.maxBytes} bytes`);
  const p = exifrPool();
  if (!p) return op === 'thumbnail' ? exifr.thumbnail(buf) : exifr.parse(buf, EXIFR_OPTIONS); // TypeScript sources without a build: no isolation
  const whole = transfer && buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
  return p.run({ op, buf }, whole ? [buf.buffer as ArrayBuffer] : []);
}

/**
 * ISO BMFF (HEIC) top-level boxes up to the meta box, checked before exifr sees them: a box of size 0 or
 * 1..7, or a type that is not four printable characters, is damage (exifr would loop on a size-0 box).
 * Returns the problem, or null when the structure looks sound or runs past the bytes given.
 */
export function heicStructureProblem(buf: Uint8Array): string | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  for (let n = 0; off + 8 <= b.length && n < 10_000; n++) {
    let size = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) return `HEIC box structure is damaged at offset ${off} (box type 0x${b.subarray(off + 4, off + 8).toString('hex')})`;
    if (type === 'meta') return null;
    if (size === 1) {
      if (off + 16 > b.length) return null;
      const big = b.readBigUInt64BE(off + 8);
      size = big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
      if (size < 16) return `HEIC box structure is damaged at offset ${off} ('${type}' box with a 64-bit size of ${big})`;
    } else if (size === 0) return `HEIC has no meta box: '${type}' at offset ${off} runs to the end of the file`;
    else if (size < 8) return `HEIC box structure is damaged at offset ${off} ('${type}' box of ${size} bytes)`;
    off += size;
  }
  return null;
}

export type TimeBasis = 'exif-offset' | 'gps-time' | 'photos-db-timezone' | 'local-unknown-zone' | 'none';

/** What one media file's EXIF says, normalised. Stored as `extra_json.exif` of the photo's 'taken' event. */
export interface ExifInfo {
  format: 'jpeg' | 'heic' | 'png' | 'tiff';
  /** DateTimeOriginal (+ SubSecTimeOriginal) as wall time, ISO without zone: 2015-04-10T20:12:23.550 */
  capture_local: string | null;
  /** OffsetTimeOriginal as written (or OffsetTime), e.g. "+02:00". */
  offset_exif: string | null;
  /** The offset used to reach UTC, e.g. "+02:00", and where it came from. */
  offset: string | null;
  time_basis: TimeBasis;
  /** Capture instant in UTC (ISO) when a zone could be established, else null. */
  capture_utc: string | null;
  capture_utc_us: number | null;
  gps: { lat: number; lon: number; alt_m: number | null; utc: string | null } | null;
  /** GPS date/time stamp alone (UTC), when present. */
  gps_utc: string | null;
  make: string | null;
  model: string | null;
  lens: string | null;
  software: string | null;
  width: number | null;
  height: number | null;
  /** Values that were present but absurd and therefore ignored. */
  problems: string[];
}

export function mediaFormat(head: Buffer): ExifInfo['format'] | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp') {
    const brand = head.toString('latin1', 8, 12);
    if (/^(heic|heix|heim|heis|hevc|hevx|mif1|msf1|avif)$/.test(brand)) return 'heic';
    return null; // MOV/MP4: no EXIF
  }
  if (head.length >= 8 && head.readUInt32BE(0) === 0x89504e47) return 'png';
  if (head.length >= 4 && (head.toString('latin1', 0, 4) === 'II*\0' || head.toString('latin1', 0, 4) === 'MM\0*')) return 'tiff';
  return null;
}

type Raw = Record<string, unknown>;

/** Real IFDs hold tens of entries (an iPhone's IFD0 about 12, its Exif IFD about 60). */
const MAX_IFD_ENTRIES = 1000;

/** Where the TIFF header of a JPEG's Exif APP1 segment starts (walking the segments before the scan), or -1. */
export function jpegTiffStart(b: Uint8Array): number {
  let i = 2;
  for (let n = 0; i + 4 <= b.length && n < 64; n++) {
    if (b[i] !== 0xff) return -1;
    const marker = b[i + 1];
    if (marker === 0xda || marker === 0xd9) return -1; // image data: no EXIF after this
    const len = (b[i + 2] << 8) | b[i + 3];
    if (len < 2) return -1;
    if (marker === 0xe1 && i + 10 <= b.length && Buffer.from(b.buffer, b.byteOffset + i + 4, 6).toString('latin1') === 'Exif\0\0') return i + 10;
    i += 2 + len;
  }
  return -1;
}

/**
 * The TIFF structure exifr is about to walk, checked: IFD0 inside the bytes with a sane entry count, and the
 * next-IFD link not pointing back at IFD0. Returns the problem, or null. `t` is the TIFF block's offset in `b`.
 */
export function tiffStructureProblem(b: Uint8Array, t: number): string | null {
  if (t < 0 || t + 8 > b.length) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const order = v.getUint16(t);
  if (order !== 0x4949 && order !== 0x4d4d) return 'EXIF TIFF header has no byte order mark';
  const le = order === 0x4949;
  const ifd0 = v.getUint32(t + 4, le);
  if (t + ifd0 + 2 > b.length) return null; // beyond the bytes read: exifr reports it
  const count = v.getUint16(t + ifd0, le);
  if (count > MAX_IFD_ENTRIES) return `EXIF IFD0 declares ${count} entries (a real one holds tens)`;
  const link = t + ifd0 + 2 + count * 12;
  if (link + 4 <= b.length && v.getUint32(link, le) === ifd0) return 'EXIF IFD0 links to itself';
  return null;
}

async function parseBuffer(buf: Uint8Array, transfer = false): Promise<Raw | null> {
  const r = await runExifr('parse', buf, transfer);
  return r && typeof r === 'object' ? (r as Raw) : null;
}

const useful = (r: Raw | null) => !!r && (r.DateTimeOriginal != null || r.Make != null || r.GPSLatitude != null || r.CreateDate != null);

/**
 * Read EXIF from a working copy: the head first, the whole file when the head holds nothing useful
 * for a HEIC (its Exif item can sit further in). Throws with a readable message when the file cannot be parsed.
 * Returns null for formats that carry no EXIF we read (videos, unknown).
 */
export async function readExifFile(file: string, size: number, dbTzOffsetS: number | null = null): Promise<ExifInfo | null> {
  const fd = fs.openSync(file, 'r');
  let head: Buffer;
  const tail = Buffer.alloc(2);
  try {
    head = Buffer.allocUnsafe(Math.min(size, EXIF_HEAD_BYTES));
    head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    if (size >= 4) fs.readSync(fd, tail, 0, 2, size - 2);
  } finally {
    fs.closeSync(fd);
  }
  const format = mediaFormat(head);
  if (!format) return null;
  const problems: string[] = [];
  if (format === 'jpeg' && !(tail[0] === 0xff && tail[1] === 0xd9)) problems.push('JPEG is truncated (no end-of-image marker)');
  let raw: Raw | null = null;
  let headError: Error | null = null;
  const damage =
    format === 'heic' ? heicStructureProblem(head) : format === 'jpeg' ? tiffStructureProblem(head, jpegTiffStart(head)) : format === 'tiff' ? tiffStructureProblem(head, 0) : null;
  if (damage) throw new Error(`EXIF unreadable (${damage})`);
  try {
    raw = await parseBuffer(head);
  } catch (e) {
    headError = e as Error;
  }
  // A HEIC's Exif item can sit further in; not after a budget failure, and never past the size budget.
  if (!useful(raw) && format === 'heic' && size > head.length && !(headError instanceof ExifBudgetError)) {
    if (size > EXIF_BUDGET.maxBytes) problems.push(`file of ${size} bytes is over the EXIF size budget; only its first ${head.length} bytes were read`);
    else
      try {
        raw = await parseBuffer(fs.readFileSync(file), true);
        headError = null;
      } catch (e) {
        headError = e as Error;
      }
  }
  if (headError) throw new Error(`EXIF unreadable (${headError.message})${problems.length ? `; ${problems.join('; ')}` : ''}`);
  if (!useful(raw)) problems.push('no readable EXIF metadata');
  return interpretExif(format, raw ?? {}, dbTzOffsetS, problems);
}

function str(v: unknown): string | null {
  if (typeof v === 'string') {
    const s = v.replace(/\0+$/, '').trim();
    return s || null;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** "2015:04:10 20:12:23" (also "2015-04-10 …") → ms as if the wall time were UTC; null when absurd. */
export function wallTimeMs(s: string | null, subsec: string | null = null): number | null {
  if (!s) return null;
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (y < 1990 || y > 2100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return null;
  const frac = m[7] ?? (subsec && /^\d+$/.test(subsec.trim()) ? subsec.trim() : '');
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const back = new Date(t);
  return back.getUTCDate() === d ? t : null; // rejects 2021:02:31
}

/** "+02:00" / "-0530" → minutes east of UTC; null when absent or absurd. */
export function offsetMinutes(s: string | null): number | null {
  if (!s) return null;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const v = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return Math.abs(v) <= 14 * 60 ? v : null;
}

export function formatOffset(min: number): string {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Local wall time minus a UTC instant → a plausible zone offset (whole quarter hours, ±14 h), else null. */
export function impliedOffsetMinutes(localMs: number, utcMs: number, toleranceS = 120): number | null {
  const diffMin = (localMs - utcMs) / 60_000;
  const q = Math.round(diffMin / 15) * 15;
  if (Math.abs(q) > 14 * 60 || Math.abs(diffMin - q) * 60 > toleranceS) return null;
  return q;
}

function dms(v: unknown, ref: unknown, max: number): number | null {
  let deg: number | null = null;
  if (Array.isArray(v) && v.length >= 1) {
    const [d, m = 0, s = 0] = v.map(Number);
    if ([d, m, s].every(Number.isFinite) && m >= 0 && m < 60 && s >= 0 && s < 60) deg = d + m / 60 + s / 3600;
  } else deg = num(v);
  if (deg === null || !Number.isFinite(deg) || deg < 0 || deg > max) return null;
  const r = str(ref)?.toUpperCase();
  return r === 'S' || r === 'W' ? -deg : deg;
}

/** Degrees to 9 decimals (0.1 mm): drops float noise from the rational arithmetic. */
const round9 = (v: number | null) => (v === null ? null : Math.round(v * 1e9) / 1e9);

function gpsUtcMs(date: unknown, time: unknown): number | null {
  const d = str(date);
  if (!d || !Array.isArray(time) || time.length < 3) return null;
  const [h, m, s] = time.map(Number);
  if (![h, m, s].every(Number.isFinite) || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s >= 61) return null;
  const base = wallTimeMs(`${d} 00:00:00`);
  return base === null ? null : base + Math.round(((h * 60 + m) * 60 + s) * 1000);
}

const iso = (ms: number | null) => (ms === null ? null : isoFromUs(ms * 1000));
const isoLocal = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '');

/** Turn exifr's raw tags into ExifInfo, establishing the capture instant as well as the evidence allows. */
export function interpretExif(format: ExifInfo['format'], raw: Raw, dbTzOffsetS: number | null, problems: string[] = []): ExifInfo {
  const dtoRaw = str(raw.DateTimeOriginal) ?? str(raw.CreateDate);
  const localMs = wallTimeMs(dtoRaw, str(raw.SubSecTimeOriginal) ?? str(raw.SubSecTimeDigitized));
  if (dtoRaw && localMs === null && !/^0000/.test(dtoRaw)) problems.push(`DateTimeOriginal "${dtoRaw}" is not a valid time`);
  const offsetExif = str(raw.OffsetTimeOriginal) ?? str(raw.OffsetTimeDigitized) ?? str(raw.OffsetTime);
  const offExif = offsetMinutes(offsetExif);
  if (offsetExif && offExif === null) problems.push(`OffsetTimeOriginal "${offsetExif}" is not a valid offset`);

  let lat = round9(dms(raw.GPSLatitude, raw.GPSLatitudeRef, 90));
  let lon = round9(dms(raw.GPSLongitude, raw.GPSLongitudeRef, 180));
  if ((raw.GPSLatitude != null && lat === null) || (raw.GPSLongitude != null && lon === null)) {
    problems.push(`GPS position ${JSON.stringify(raw.GPSLatitude)} ${JSON.stringify(raw.GPSLongitude)} is out of range`);
    lat = lon = null;
  }
  const gpsMs = gpsUtcMs(raw.GPSDateStamp, raw.GPSTimeStamp);
  if (raw.GPSDateStamp != null && gpsMs === null) problems.push(`GPS date/time "${String(raw.GPSDateStamp)}" ${JSON.stringify(raw.GPSTimeStamp)} is not valid`);
  let alt = num(raw.GPSAltitude);
  if (alt !== null && Number(raw.GPSAltitudeRef) === 1) alt = -alt;
  if (alt !== null && Math.abs(alt) > 100_000) {
    problems.push(`GPS altitude ${alt} m is absurd`);
    alt = null;
  }

  let basis: TimeBasis = localMs === null ? 'none' : 'local-unknown-zone';
  let offMin: number | null = null;
  if (localMs !== null) {
    if (offExif !== null) {
      offMin = offExif;
      basis = 'exif-offset';
    } else if (gpsMs !== null && (offMin = impliedOffsetMinutes(localMs, gpsMs)) !== null) basis = 'gps-time';
    else if (dbTzOffsetS !== null && Math.abs(dbTzOffsetS) <= 14 * 3600) {
      offMin = Math.round(dbTzOffsetS / 60);
      basis = 'photos-db-timezone';
    } else offMin = null;
  }
  const utcMs = localMs !== null && offMin !== null ? localMs - offMin * 60_000 : null;
  const width = num(raw.ExifImageWidth) ?? num(raw.ImageWidth);
  const height = num(raw.ExifImageHeight) ?? num(raw.ImageHeight);
  return {
    format,
    capture_local: localMs === null ? null : isoLocal(localMs),
    offset_exif: offsetExif,
    offset: offMin === null ? null : formatOffset(offMin),
    time_basis: basis,
    capture_utc: iso(utcMs),
    capture_utc_us: utcMs === null ? null : utcMs * 1000,
    gps: lat !== null && lon !== null ? { lat, lon, alt_m: alt, utc: iso(gpsMs) } : null,
    gps_utc: iso(gpsMs),
    make: str(raw.Make),
    model: str(raw.Model),
    lens: str(raw.LensModel),
    software: str(raw.Software),
    width: width !== null && width > 0 && width < 1e6 ? width : null,
    height: height !== null && height > 0 && height < 1e6 ? height : null,
    problems,
  };
}

/** Great-circle distance in metres (haversine, mean Earth radius). */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad,
    dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
}
