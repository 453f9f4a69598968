// QuickTime/MP4 metadata of a video file: creation time (the movie header's, UTC by definition), duration and
// the recorded location (`©xyz` or `com.apple.quicktime.location.ISO6709`), read with mediainfo.js
// (MediaInfoLib as wasm; docs/decisions.md says why, with the measurement). MediaInfo pulls only the chunks it
// needs (the moov atom), so a 2 GB video costs kilobytes. It runs in a worker thread under a deadline and a
// byte budget: a damaged file becomes a warning naming it, never a hang.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import mediaInfoFactory, { type MediaInfo } from 'mediainfo.js';
import { validCoordinate } from '../../formats/coordinates.js';

/** Deadline and read budget for one file. A phone video's metadata is read in ~5 ms after the ~300 ms wasm start. */
export const VIDEO_BUDGET = { timeoutMs: 15_000, maxReadBytes: 64 * 1024 * 1024 };

export interface VideoRequest {
  file: string;
  maxReadBytes: number;
}

/** What a video's container says, normalised. Stored as `extra_json.video` of an orphan video event. */
export interface VideoInfo {
  /** MediaInfo's container format and profile ("MPEG-4 / QuickTime"). */
  format: string | null;
  /** Movie header creation time as MediaInfo gives it ("2020-03-22 10:45:12 UTC"): the original value. */
  created_raw: string | null;
  created_utc_us: number | null;
  /** Apple's local creation date with its offset (com.apple.quicktime.creationdate), when present. */
  recorded_date: string | null;
  duration_s: number | null;
  location: { lat: number; lon: number; alt_m: number | null; raw: string } | null;
  width: number | null;
  height: number | null;
  problems: string[];
}

type Track = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : null);
const num = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** "2020-03-22 10:45:12 UTC" / "2020-03-22T10:45:12Z" → µs; null when absent, zero (1904) or out of range. */
export function mediaInfoUtc(s: string | null): number | null {
  if (!s) return null;
  const m = /^(?:UTC )?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?: UTC|Z)?$/.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (y < 1990 || y > 2100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, se) + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0);
  return new Date(ms).getUTCDate() === d ? ms * 1000 : null;
}

/**
 * A recorded location: ISO 6709 as Apple writes it ("+48.8584+002.2945+035.000/") or MediaInfo's rendering of it
 * ("48.8584°N 2.2945°E 35.000m"). Null when unreadable or not a usable coordinate.
 */
export function parseLocation(s: string | null): { lat: number; lon: number; alt_m: number | null } | null {
  if (!s) return null;
  const iso = /^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?\/?$/.exec(s.trim());
  let lat: number, lon: number, alt: number | null;
  if (iso && /^[+-]\d{2}(\.|[+-]|$)/.test(iso[1])) {
    // Decimal degrees only (±DD.DDDD±DDD.DDDD): the form every iPhone writes.
    lat = Number(iso[1]);
    lon = Number(iso[2]);
    alt = iso[3] !== undefined ? Number(iso[3]) : null;
  } else {
    const mi = /^(\d+(?:\.\d+)?)°([NS])\s+(\d+(?:\.\d+)?)°([EW])(?:\s+(-?\d+(?:\.\d+)?)m)?$/.exec(s.trim());
    if (!mi) return null;
    lat = Number(mi[1]) * (mi[2] === 'S' ? -1 : 1);
    lon = Number(mi[3]) * (mi[4] === 'W' ? -1 : 1);
    alt = mi[5] !== undefined ? Number(mi[5]) : null;
  }
  const c = validCoordinate(lat, lon);
  if (!c) return null;
  return { lat: c.lat, lon: c.lon, alt_m: alt !== null && Number.isFinite(alt) && Math.abs(alt) < 100_000 ? alt : null };
}

/** MediaInfo's General and first Video track → VideoInfo. */
export function interpretMediaInfo(tracks: Track[]): VideoInfo {
  const general = tracks.find((t) => t['@type'] === 'General') ?? {};
  const video = tracks.find((t) => t['@type'] === 'Video') ?? {};
  const extra = (general.extra ?? {}) as Track;
  const problems: string[] = [];
  const createdRaw = str(general.Encoded_Date) ?? str(general.Tagged_Date) ?? str(video.Encoded_Date);
  const created = mediaInfoUtc(createdRaw);
  if (createdRaw && created === null) problems.push(`creation time "${createdRaw}" is not a usable time`);
  const locRaw = str(general.Recorded_Location) ?? str(extra.com_apple_quicktime_location_ISO6709) ?? str(extra.xyz);
  const location = parseLocation(locRaw);
  if (locRaw && !location) problems.push(`recorded location "${locRaw}" is not a usable coordinate`);
  const duration = num(general.Duration) ?? num(video.Duration);
  const format = [str(general.Format), str(general.Format_Profile)].filter(Boolean).join(' / ') || null;
  return {
    format,
    created_raw: createdRaw,
    created_utc_us: created,
    recorded_date: str(general.Recorded_Date) ?? str(extra.com_apple_quicktime_creationdate),
    duration_s: duration !== null && duration >= 0 && duration < 1e7 ? duration : null,
    location: location && locRaw ? { ...location, raw: locRaw } : null,
    width: num(video.Width),
    height: num(video.Height),
    problems,
  };
}

let instance: Promise<MediaInfo<'object'>> | null = null;

/** Analyse one working copy on this thread (the worker calls this; tests without a build do too). */
export async function analyzeVideo(req: VideoRequest): Promise<VideoInfo> {
  instance ??= mediaInfoFactory({ format: 'object' });
  const mi = await instance;
  const fd = fs.openSync(req.file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let read = 0;
    const result = await mi.analyzeData(size, (chunk, offset) => {
      read += chunk;
      if (read > req.maxReadBytes) throw new Error(`MediaInfo asked for more than ${req.maxReadBytes} bytes`);
      const b = Buffer.allocUnsafe(Math.max(0, Math.min(chunk, size - offset)));
      return b.subarray(0, fs.readSync(fd, b, 0, b.length, offset));
    });
    return interpretMediaInfo((result.media?.track ?? []) as unknown as Track[]);
  } finally {
    fs.closeSync(fd);
  }
}

/** The compiled worker beside this module, else under dist/ (tests run the TypeScript sources). */
function workerScript(): string | null {
  const here = fileURLToPath(new URL('./videoWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])extractors([\\/])photos([\\/])videoWorker\.js$/, '$1dist$1src$2extractors$3photos$4videoWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

let worker: Worker | null = null;
let queue: Promise<unknown> = Promise.resolve();

function runInWorker(script: string, req: VideoRequest): Promise<VideoInfo> {
  return new Promise((resolve, reject) => {
    worker ??= new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 512 } });
    const w = worker;
    w.ref();
    const done = (err: Error | null, v?: VideoInfo) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      if (err) {
        if (worker === w) worker = null;
        void w.terminate();
        reject(err);
      } else {
        w.unref();
        resolve(v!);
      }
    };
    const onMessage = (m: { ok: boolean; value?: VideoInfo; error?: string }) => (m.ok ? done(null, m.value) : done(new Error(m.error)));
    const onError = (e: Error) => done(new Error(`the video metadata thread failed (${e.message})`));
    const onExit = () => done(new Error('the video metadata thread exited'));
    const timer = setTimeout(() => done(new Error(`video metadata not read within ${VIDEO_BUDGET.timeoutMs / 1000} s; stopped`)), VIDEO_BUDGET.timeoutMs);
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.postMessage(req);
  });
}

/** Read a video's metadata within the budget, one file at a time. Throws with a readable message. */
export function readVideoFile(file: string): Promise<VideoInfo> {
  const req: VideoRequest = { file, maxReadBytes: VIDEO_BUDGET.maxReadBytes };
  const script = workerScript();
  const run = () => (script ? runInWorker(script, req) : analyzeVideo(req));
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}
