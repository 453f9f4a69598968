// Orphan media: every image and video file in the camera roll (CameraRollDomain Media/DCIM/**) and in the
// message attachments folder (MediaDomain Library/SMS/Attachments/**) that no database row points to becomes a
// photo or video event of its own. Runs after photos and messages, whose rows decide what is linked:
//   - a camera-roll file is linked when a Photos.sqlite asset names it (the photos extractor's 'taken' event,
//     extra_json.file.domain/path), or when it is the video half of a Live Photo whose image is linked
//     (IMG_0001.MOV beside a linked IMG_0001.HEIC: Photos.sqlite names only the image);
//   - an attachments file is linked when an `attachments` row (any message's, or an attachment row no message
//     links to) has it as its file.
// Linked files stay with their rows, as before; nothing is emitted twice.
//
// Events: kind 'photo' | 'video' (the photos extractor's kinds, so the gallery shows them), action 'taken',
// source_file_id = the media file's own `files` row (hashed by the evidence pass and again when read here).
// extra_json:
//   orphan:      { reason, domain, path }   reason: "no Photos.sqlite row" | "no message points to it"
//                (+ " (Photos.sqlite not in this backup)" / " (… could not be read)" when the database was absent or failed)
//   file:        { domain, path, status, sha256, size, file_row_id }
//   exif:        ExifInfo (src/extractors/photos/exif.ts) for images; exif_error when unreadable
//   video:       VideoInfo (src/extractors/photos/video.ts) for videos; video_error when unreadable
//   time_source: 'exif' | 'exif-assumed-zone' | 'quicktime' | 'file-mtime' | null   where ts comes from
//   time_zone:   { basis, offset, note }   how the local EXIF time was placed in UTC (basis 'assumed-case-zone'
//                names the case zone that was assumed when the file carries no offset and no GPS time)
//   location_source: 'exif' | 'quicktime' | null
// The export's `orphan` field carries orphan.reason; the report's gallery badges these cards "orphan".
import fs from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import type { ManifestEntry } from '../../backup/manifest.js';
import { unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import { addThumbnail } from '../../timeline/thumbnails.js';
import { formatOffset, readExifFile, type ExifInfo } from '../photos/exif.js';
import { readVideoFile, type VideoInfo } from '../photos/video.js';
import { makeThumbnail } from '../thumbnail.js';
import type { Extractor, ExtractorContext } from '../types.js';

export const CAMERA_ROLL = { domain: 'CameraRollDomain', glob: 'Media/DCIM/**' };
export const SMS_ATTACHMENTS = { domain: 'MediaDomain', glob: 'Library/SMS/Attachments/**' };
export const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'heic', 'heif', 'png', 'gif', 'tif', 'tiff', 'webp', 'dng']);
export const VIDEO_EXTENSIONS = new Set(['mov', 'mp4', 'm4v', '3gp']);

export const ORPHAN_REASON = { photos: 'no Photos.sqlite row', messages: 'no message points to it' } as const;

const ext = (p: string) => path.posix.extname(p).slice(1).toLowerCase();
const key = (domain: string, p: string) => `${domain}\u0000${p}`;
const stem = (p: string) => p.slice(0, p.length - path.posix.extname(p).length);

/** Every (domain, path) a photos asset or a message attachment row of this device points to (a case may hold several). */
function linkedFiles(ctx: ExtractorContext): Set<string> {
  const db = ctx.caseFile.db;
  const device = ctx.caseFile.deviceId;
  const out = new Set<string>();
  const photos = db
    .prepare(
      `SELECT json_extract(extra_json, '$.file.domain') AS d, json_extract(extra_json, '$.file.path') AS p FROM events
       WHERE extractor = 'photos' AND action = 'taken' AND device_id IS ? AND json_valid(extra_json)`,
    )
    .all(device) as { d: string | null; p: string | null }[];
  for (const r of photos) if (r.d && r.p) out.add(key(r.d, r.p));
  const atts = db.prepare('SELECT f.domain AS d, f.relative_path AS p FROM attachments a JOIN files f ON f.id = a.file_id WHERE a.device_id IS ?').all(device) as {
    d: string | null;
    p: string | null;
  }[];
  for (const r of atts) if (r.d && r.p) out.add(key(r.d, r.p));
  return out;
}

/** What the reason adds when the database that would point to a file was absent or unreadable in this run. */
function databaseNote(ctx: ExtractorContext, id: string, db: string): string {
  const r = ctx.caseFile.db.prepare('SELECT status FROM extractor_runs WHERE extractor = ? AND device_id IS ? ORDER BY id DESC LIMIT 1').get(id, ctx.caseFile.deviceId) as
    | { status: string }
    | undefined;
  if (!r || r.status === 'not-present') return ` (${db} not in this backup)`;
  if (r.status === 'failed') return ` (${db} could not be read)`;
  return '';
}

/** EXIF local time without a zone: placed in the case zone, and the event says so. */
function exifTime(exif: ExifInfo, tz: string): { ts: Timestamp; source: string; zone: { basis: string; offset: string | null; note: string } } | null {
  if (exif.capture_utc_us !== null) {
    const note = exif.time_basis === 'exif-offset' ? `EXIF OffsetTimeOriginal ${exif.offset_exif}` : `no EXIF offset; derived from the GPS UTC time stamp ${exif.gps_utc}`;
    return {
      ts: { utcUs: exif.capture_utc_us, raw: `${exif.capture_local}${exif.offset ?? ''}`, epoch: 'exif-local' },
      source: 'exif',
      zone: { basis: exif.time_basis, offset: exif.offset, note },
    };
  }
  if (!exif.capture_local) return null;
  const dt = DateTime.fromISO(exif.capture_local, { zone: tz });
  if (!dt.isValid) return null;
  const offset = formatOffset(dt.offset);
  return {
    ts: { utcUs: dt.toMillis() * 1000, raw: exif.capture_local, epoch: 'exif-local' },
    source: 'exif-assumed-zone',
    zone: {
      basis: 'assumed-case-zone',
      offset,
      note: `EXIF DateTimeOriginal has no zone (no OffsetTimeOriginal, no GPS time) and no database row gives one: the case zone ${tz} (${offset}) was assumed`,
    },
  };
}

async function emitOrphan(ctx: ExtractorContext, entry: ManifestEntry, reason: string, workDir: string, n: number): Promise<void> {
  const isVideo = VIDEO_EXTENSIONS.has(ext(entry.relativePath));
  const kind = isVideo ? 'video' : 'photo';
  const name = path.posix.basename(entry.relativePath);
  const where = `${entry.domain}/${entry.relativePath}`;
  const opened = await ctx.openEntry(entry, { dir: workDir, name: `orphan-${n}` }); // copies and hashes the evidence
  const row = opened ? null : ctx.caseFile.findFile(entry.domain, entry.relativePath);
  const file = {
    domain: entry.domain,
    path: entry.relativePath,
    status: opened ? 'ok' : (row?.status ?? 'unreadable'),
    sha256: opened?.sha256 ?? null,
    size: opened?.size ?? null,
    file_row_id: opened?.fileRowId ?? (row ? Number(row.id) : null),
  };
  let exif: ExifInfo | null = null;
  let video: VideoInfo | null = null;
  let error: string | null = null;
  let thumb = null;
  if (opened) {
    const failed = (e: Error) => {
      error = e.message;
      return null;
    };
    try {
      if (isVideo) video = await readVideoFile(opened.path).catch(failed);
      else [exif, thumb] = await Promise.all([readExifFile(opened.path, opened.size, null).catch(failed), makeThumbnail(opened.path, null)]);
    } finally {
      fs.rmSync(opened.path, { force: true }); // the hash is recorded; keep the work folder small
    }
  }
  const problems = [...(exif?.problems ?? []), ...(video?.problems ?? [])];
  if (error || problems.length) ctx.warn(`orphan ${kind} ${where}: ${[error, ...problems].filter(Boolean).join('; ')}`, { fileRowId: file.file_row_id, severity: 'info' });

  let ts: Timestamp | null = null;
  let timeSource: string | null = null;
  let zone: { basis: string; offset: string | null; note: string } | null = null;
  const fromExif = exif ? exifTime(exif, ctx.tz) : null;
  if (fromExif) ({ ts, source: timeSource, zone } = fromExif);
  else if (video?.created_utc_us != null) {
    ts = { utcUs: video.created_utc_us, raw: video.created_raw!, epoch: 'quicktime-utc' };
    timeSource = 'quicktime';
    zone = { basis: 'utc', offset: '+00:00', note: 'QuickTime movie header creation time is UTC' };
  } else {
    // No time inside the file: the backup's record of its last modification, said as such.
    const mtime = unixSeconds(ctx.backup.decode(entry)?.lastModified ?? null);
    if (mtime && !mtime.invalid) {
      ts = mtime;
      timeSource = 'file-mtime';
    }
  }
  const loc = exif?.gps ? { lat: exif.gps.lat, lon: exif.gps.lon, src: 'exif' } : video?.location ? { lat: video.location.lat, lon: video.location.lon, src: 'quicktime' } : null;
  const dur = video?.duration_s != null ? `, ${Math.round(video.duration_s * 10) / 10} s` : '';
  const id = ctx.emit({
    ts,
    kind,
    action: 'taken',
    title: `Orphan ${kind}: ${name}${dur} (${reason})${timeSource === 'file-mtime' ? ' — time is the file modification time' : ''}`,
    durationS: video?.duration_s ?? null,
    latitude: loc?.lat ?? null,
    longitude: loc?.lon ?? null,
    sourceFileId: file.file_row_id,
    sourceTable: null,
    sourceRowid: null,
    extra: {
      orphan: { reason, domain: entry.domain, path: entry.relativePath },
      file,
      ...(isVideo ? { video, video_error: error } : { exif, exif_error: error }),
      time_source: timeSource,
      time_zone: zone,
      location_source: loc?.src ?? null,
    },
  });
  if (thumb) {
    try {
      addThumbnail(ctx.caseFile, { eventId: id, ...thumb });
    } catch (e) {
      ctx.warn(`orphan ${kind} ${where}: thumbnail not stored (${(e as Error).message})`, { fileRowId: file.file_row_id, severity: 'info' });
    }
  }
}

export const orphanMedia: Extractor = {
  id: 'orphan-media',
  title: 'Orphan media (camera roll and attachment files no database row points to)',
  sources: [
    { domain: CAMERA_ROLL.domain, path: CAMERA_ROLL.glob },
    { domain: SMS_ATTACHMENTS.domain, path: SMS_ATTACHMENTS.glob },
  ],
  after: ['photos', 'messages'],
  // The photos extractor's kinds: orphans are photos and videos too, badged by extra_json.orphan.
  kinds: [],
  async run(ctx) {
    const linked = linkedFiles(ctx);
    const media = (e: ManifestEntry) => IMAGE_EXTENSIONS.has(ext(e.relativePath)) || VIDEO_EXTENSIONS.has(ext(e.relativePath));
    const todo: { entry: ManifestEntry; reason: string }[] = [];
    const photosNote = databaseNote(ctx, 'photos', 'Photos.sqlite');
    const smsNote = databaseNote(ctx, 'messages', 'sms.db');
    const roll = ctx.backup.find(CAMERA_ROLL.domain, CAMERA_ROLL.glob).filter(media);
    const linkedStems = new Set(roll.filter((e) => linked.has(key(e.domain, e.relativePath)) && IMAGE_EXTENSIONS.has(ext(e.relativePath))).map((e) => stem(e.relativePath)));
    let liveHalves = 0;
    for (const e of roll) {
      if (linked.has(key(e.domain, e.relativePath))) continue;
      if (VIDEO_EXTENSIONS.has(ext(e.relativePath)) && linkedStems.has(stem(e.relativePath))) {
        liveHalves++;
        continue;
      }
      todo.push({ entry: e, reason: ORPHAN_REASON.photos + photosNote });
    }
    const attachments = ctx.backup.find(SMS_ATTACHMENTS.domain, SMS_ATTACHMENTS.glob).filter(media);
    for (const e of attachments) if (!linked.has(key(e.domain, e.relativePath))) todo.push({ entry: e, reason: ORPHAN_REASON.messages + smsNote });
    ctx.examined(roll.length + attachments.length - todo.length); // linked files: looked at, not read again
    if (liveHalves)
      ctx.warn(`${liveHalves} camera-roll video(s) are the moving half of a Live Photo whose image Photos.sqlite names; kept with that asset, not listed as orphans`, {
        severity: 'info',
      });
    if (!todo.length) return;
    const dir = fs.mkdtempSync(path.join(ctx.backup.workDir, 'orphan-media-'));
    try {
      let done = 0;
      for (const t of todo) {
        await emitOrphan(ctx, t.entry, t.reason, dir, done);
        ctx.progress(++done, todo.length);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
