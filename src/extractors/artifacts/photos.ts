// Photos and videos: Photos.sqlite (ZGENERICASSET on iOS 11–13, ZASSET on iOS 14+, chosen by the tables
// present), the asset's own file in CameraRollDomain (hashed; EXIF read from JPEG/HEIC) and the
// comparison of the two. docs/ios-formats.md §6.
//
// Events per asset row (source_table ZASSET or ZGENERICASSET, source_rowid Z_PK):
//   kind 'photo' | 'video', action 'taken' (ZDATECREATED, always emitted, carries latitude/longitude and
//   accuracy_m), 'added' (ZADDEDDATE, only when more than 60 s after ZDATECREATED), 'modified' (ZMODIFICATIONDATE), 'trashed' (ZTRASHEDDATE).
//
// extra_json of the 'taken' event (the report's EXIF/GPS table reads these keys):
//   asset:    { uuid, directory, filename, original_filename, kind ('photo'|'video'|'live'), kind_subtype,
//               subtype_label, uti, width, height, duration_s, favorite, hidden, trashed, trashed_utc,
//               added_utc, modified_utc, timezone_offset_s, timezone_name, exif_timestamp_string,
//               camera_make, camera_model, lens_model, gps_accuracy_m }
//   location_source: 'photos-db' | 'exif' | null   (where latitude/longitude come from; DB preferred)
//   db_location: { lat, lon } | null               (Photos.sqlite's own coordinates; -180.0 = none)
//   file:     { domain, path, status ('ok'|'missing'|'unreadable'|'not-in-backup'), sha256, size, file_row_id }
//   exif:     ExifInfo (src/extractors/photos/exif.ts: capture_local, offset, offset_exif, time_basis,
//               capture_utc, gps {lat, lon, alt_m, utc}, gps_utc, make, model, lens, software, width, height,
//               problems[]) or null when no file/format; exif_error: string when the file could not be parsed
//   time_zone: { basis, offset, note }             how local capture time relates to UTC for this asset
//   disagreement: { time_diff_s, distance_m, notes[] } | null   Photos.sqlite vs the file's EXIF
// The other events carry { uuid, filename } only.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { isoFromUs, macSeconds } from '../../formats/appleTime.js';
import type { ManifestEntry } from '../../backup/manifest.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { distanceM, formatOffset, impliedOffsetMinutes, readExifFile, type ExifInfo } from '../photos/exif.js';
import { makeThumbnail, type Thumbnail } from '../thumbnail.js';
import { addThumbnail } from '../../timeline/thumbnails.js';

export const PHOTOS_DOMAIN = 'CameraRollDomain';
export const PHOTOS_DB = 'Media/PhotoData/Photos.sqlite';

/** Disagreements smaller than these are rounding, not evidence. */
const TIME_TOLERANCE_S = 2;
const DISTANCE_TOLERANCE_M = 50;
const ADDED_SAME_AS_TAKEN_US = 60_000_000;

const SUBTYPES: Record<number, string> = {
  0: 'still',
  1: 'panorama',
  2: 'live photo',
  10: 'screenshot',
  100: 'video',
  101: 'streamed video',
  102: 'slow motion',
  103: 'time-lapse',
};

const ASSET_COLS = [
  'ZUUID',
  'ZDIRECTORY',
  'ZFILENAME',
  'ZKIND',
  'ZKINDSUBTYPE',
  'ZUNIFORMTYPEIDENTIFIER',
  'ZDATECREATED',
  'ZADDEDDATE',
  'ZMODIFICATIONDATE',
  'ZTRASHEDSTATE',
  'ZTRASHEDDATE',
  'ZHIDDEN',
  'ZFAVORITE',
  'ZWIDTH',
  'ZHEIGHT',
  'ZDURATION',
  'ZLATITUDE',
  'ZLONGITUDE',
];
const ADD_COLS = ['ZORIGINALFILENAME', 'ZTIMEZONEOFFSET', 'ZINFERREDTIMEZONEOFFSET', 'ZTIMEZONENAME', 'ZEXIFTIMESTAMPSTRING', 'ZGPSHORIZONTALACCURACY'];
const EXT_COLS = ['ZCAMERAMAKE', 'ZCAMERAMODEL', 'ZLENSMODEL'];

type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number.isFinite(Number(v)) ? Number(v) : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Photos.sqlite coordinates: NULL, -180.0 (the "none" sentinel), out-of-range and 0,0 mean no location. */
export function dbLocation(lat: unknown, lon: unknown): { lat: number; lon: number } | null {
  const a = num(lat),
    o = num(lon);
  if (a === null || o === null || a === -180 || o === -180) return null;
  if (Math.abs(a) > 90 || Math.abs(o) > 180 || (a === 0 && o === 0)) return null;
  return { lat: a, lon: o };
}

/** Build the one SELECT that serves every schema variant. */
function assetQuery(db: Database.Database, table: string): string {
  const a = columnsOf(db, table);
  const cols = ASSET_COLS.map((c) => colOrNull(a, c, c, 'a.'));
  let joins = '';
  if (hasTable(db, 'ZADDITIONALASSETATTRIBUTES')) {
    const b = columnsOf(db, 'ZADDITIONALASSETATTRIBUTES');
    const on = a.has('ZADDITIONALATTRIBUTES') ? 'b.Z_PK = a.ZADDITIONALATTRIBUTES' : b.has('ZASSET') ? 'b.ZASSET = a.Z_PK' : null;
    if (on) {
      joins += ` LEFT JOIN ZADDITIONALASSETATTRIBUTES b ON ${on}`;
      cols.push(...ADD_COLS.map((c) => colOrNull(b, c, c, 'b.')));
    }
  }
  if (!joins) cols.push(...ADD_COLS.map((c) => `NULL AS ${c}`));
  if (hasTable(db, 'ZEXTENDEDATTRIBUTES') && a.has('ZEXTENDEDATTRIBUTES')) {
    const e = columnsOf(db, 'ZEXTENDEDATTRIBUTES');
    joins += ' LEFT JOIN ZEXTENDEDATTRIBUTES e ON e.Z_PK = a.ZEXTENDEDATTRIBUTES';
    cols.push(...EXT_COLS.map((c) => colOrNull(e, c, c, 'e.')));
    cols.push(colOrNull(e, 'ZLATITUDE', 'EXT_LAT', 'e.'), colOrNull(e, 'ZLONGITUDE', 'EXT_LON', 'e.'));
  } else cols.push(...EXT_COLS.map((c) => `NULL AS ${c}`), 'NULL AS EXT_LAT', 'NULL AS EXT_LON');
  return `SELECT a.Z_PK AS pk, ${cols.join(', ')} FROM ${table} a${joins} WHERE a.Z_PK >= ? ORDER BY a.Z_PK`;
}

/** Where the asset's file sits in the backup (docs/ios-formats.md §6.3). */
function mediaCandidates(dir: string | null, file: string | null): string[] {
  if (!file) return [];
  const d = (dir ?? '').replace(/^\/+|\/+$/g, '');
  const out = [d ? `Media/${d}/${file}` : `Media/${file}`];
  if (d && !d.includes('/')) out.push(`Media/DCIM/${d}/${file}`);
  return out;
}

interface FileResult {
  file: { domain: string; path: string; status: 'ok' | 'missing' | 'unreadable' | 'not-in-backup'; sha256: string | null; size: number | null; file_row_id: number | null };
  exif: ExifInfo | null;
  exifError: string | null;
  /** For the report: the EXIF-embedded JPEG (or the small file itself); attached to the 'taken' event. */
  thumbnail?: Thumbnail | null;
}

class MediaReader {
  private readonly dir: string;
  notInBackup: number[] = [];
  filesRead = 0;
  constructor(private readonly ctx: ExtractorContext) {
    this.dir = fs.mkdtempSync(path.join(ctx.backup.workDir, 'photos-media-'));
  }

  async read(pk: number, dir: string | null, filename: string | null, wantExif: boolean, tzOffsetS: number | null): Promise<FileResult | null> {
    const candidates = mediaCandidates(dir, filename);
    if (!candidates.length) return null;
    let entry: ManifestEntry | undefined;
    for (const c of candidates) {
      const e = this.ctx.backup.get(PHOTOS_DOMAIN, c);
      if (e && e.flags === 1) {
        entry = e;
        break;
      }
    }
    if (!entry) {
      this.notInBackup.push(pk);
      return { file: { domain: PHOTOS_DOMAIN, path: candidates[0], status: 'not-in-backup', sha256: null, size: null, file_row_id: null }, exif: null, exifError: null };
    }
    const opened = await this.ctx.openEntry(entry, { dir: this.dir, name: `asset-${pk}` }); // copies and hashes the evidence
    if (!opened) {
      let status: 'missing' | 'unreadable' = 'unreadable';
      try {
        if (!this.ctx.backup.payloadPath(entry)) status = 'missing';
      } catch {
        /* invalid id: unreadable */
      }
      return { file: { domain: PHOTOS_DOMAIN, path: entry.relativePath, status, sha256: null, size: null, file_row_id: null }, exif: null, exifError: null };
    }
    this.filesRead++;
    const res: FileResult = {
      file: { domain: PHOTOS_DOMAIN, path: entry.relativePath, status: 'ok', sha256: opened.sha256, size: opened.size, file_row_id: opened.fileRowId },
      exif: null,
      exifError: null,
    };
    try {
      if (wantExif) {
        // Side by side: the EXIF parse waits on its worker thread while the thumbnail is read here.
        const [exif, thumb] = await Promise.all([
          readExifFile(opened.path, opened.size, tzOffsetS).catch((e: Error) => {
            res.exifError = e.message;
            return null;
          }),
          makeThumbnail(opened.path, null), // never throws; null = placeholder
        ]);
        res.exif = exif;
        res.thumbnail = thumb;
      }
    } finally {
      fs.rmSync(opened.path, { force: true }); // the hash is recorded; keep the work folder small
    }
    return res;
  }
}

function compare(
  dbUs: number | null,
  dbLoc: { lat: number; lon: number } | null,
  exif: ExifInfo,
): { time_diff_s: number | null; distance_m: number | null; notes: string[] } | null {
  const notes: string[] = [];
  let timeDiff: number | null = null;
  let dist: number | null = null;
  if (dbUs !== null && exif.capture_utc_us !== null) {
    timeDiff = Math.round((exif.capture_utc_us - dbUs) / 1000) / 1000;
    if (Math.abs(timeDiff) > TIME_TOLERANCE_S) notes.push(`capture time differs by ${timeDiff} s (EXIF ${exif.capture_utc}, ${exif.time_basis}; Photos.sqlite ${isoFromUs(dbUs)})`);
  } else if (dbUs !== null && exif.capture_local !== null && exif.time_basis === 'local-unknown-zone') {
    const localMs = Date.parse(exif.capture_local + 'Z');
    if (impliedOffsetMinutes(localMs, dbUs / 1000) === null) {
      notes.push(`EXIF local time ${exif.capture_local} is no plausible zone offset away from Photos.sqlite's ${isoFromUs(dbUs)}`);
    }
  }
  if (dbLoc && exif.gps) {
    dist = Math.round(distanceM(dbLoc.lat, dbLoc.lon, exif.gps.lat, exif.gps.lon) * 10) / 10;
    if (dist > DISTANCE_TOLERANCE_M) notes.push(`location differs by ${dist} m (EXIF ${exif.gps.lat}, ${exif.gps.lon}; Photos.sqlite ${dbLoc.lat}, ${dbLoc.lon})`);
  } else if (!dbLoc && exif.gps) notes.push(`Photos.sqlite has no location but the file's EXIF has ${exif.gps.lat}, ${exif.gps.lon}`);
  else if (dbLoc && !exif.gps && !exif.problems.length) notes.push(`Photos.sqlite has a location (${dbLoc.lat}, ${dbLoc.lon}) but the file's EXIF has none`);
  return notes.length ? { time_diff_s: timeDiff, distance_m: dist, notes } : null;
}

/** How local time relates to UTC for this asset, in words the report can show. */
function timeZoneReasoning(tzOffsetS: number | null, tzName: string | null, exif: ExifInfo | null, dbUs: number | null) {
  if (exif && exif.time_basis === 'exif-offset') return { basis: 'exif-offset', offset: exif.offset, note: `EXIF OffsetTimeOriginal ${exif.offset_exif}` };
  if (exif && exif.time_basis === 'gps-time') return { basis: 'gps-time', offset: exif.offset, note: `no EXIF offset; derived from the GPS UTC time stamp ${exif.gps_utc}` };
  if (tzOffsetS !== null)
    return { basis: 'photos-db-timezone', offset: formatOffset(Math.round(tzOffsetS / 60)), note: `Photos.sqlite ZTIMEZONEOFFSET ${tzOffsetS} s${tzName ? ` (${tzName})` : ''}` };
  if (exif?.capture_local && dbUs !== null) {
    const implied = impliedOffsetMinutes(Date.parse(exif.capture_local + 'Z'), dbUs / 1000);
    return {
      basis: 'local-unknown-zone',
      offset: null,
      note: `EXIF time is local, zone unknown${implied !== null ? `; it sits ${formatOffset(implied)} from Photos.sqlite's UTC time` : ''}`,
    };
  }
  if (exif?.capture_local) return { basis: 'local-unknown-zone', offset: null, note: 'EXIF time is local, zone unknown' };
  return null;
}

export async function extractPhotosDb(ctx: ExtractorContext, domain = PHOTOS_DOMAIN, relativePath = PHOTOS_DB): Promise<void> {
  const src = await ctx.openDatabase(domain, relativePath);
  if (!src) return;
  const { db } = src;
  const table = hasTable(db, 'ZASSET') ? 'ZASSET' : hasTable(db, 'ZGENERICASSET') ? 'ZGENERICASSET' : null;
  if (!table) throw new ArtifactError(`${relativePath} has neither ZASSET nor ZGENERICASSET (unknown schema)`);
  const stmt = db.prepare(assetQuery(db, table));
  let total: number | undefined;
  try {
    total = Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: bigint }).n);
  } catch {
    total = undefined;
  }
  const media = new MediaReader(ctx);
  let done = 0;
  let last: number | null = null;
  let start = Number.MIN_SAFE_INTEGER;
  let jump = 1;
  let failures = 0;
  let gap: { after: number | null; message: string; attempts: number } | null = null;
  const reportGap = (before: number | null) => {
    if (!gap) return;
    ctx.warn(
      `${relativePath}: ${table} rows after Z_PK ${gap.after ?? '(start)'}${before !== null ? ` and before Z_PK ${before}` : ''} could not be read (${gap.message}; ${gap.attempts} attempt(s)); the other assets were read`,
      { fileRowId: src.fileRowId, severity: 'error', table },
    );
    gap = null;
  };
  // A damaged page stops one scan, not the extraction: resume after the last good Z_PK, jumping further
  // each time a resume fails at once. Only reading the evidence is guarded here; our own errors propagate.
  for (;;) {
    const it = (stmt.iterate(start) as IterableIterator<Row>)[Symbol.iterator]();
    let ended = false;
    let progressed = false;
    for (;;) {
      let next: IteratorResult<Row>;
      try {
        next = it.next();
      } catch (e) {
        try {
          it.return?.();
        } catch {
          /* already closed */
        }
        failures++;
        if (!gap) gap = { after: last, message: (e as Error).message, attempts: 0 };
        gap.attempts++;
        if (progressed) jump = 2;
        else jump *= 2;
        start = (last ?? 0) + jump;
        break;
      }
      if (next.done) {
        ended = true;
        break;
      }
      progressed = true;
      last = Number(next.value.pk);
      reportGap(last);
      await emitAsset(ctx, src.fileRowId, table, next.value, media);
      if (++done % 5000 === 0) ctx.progress(done, total);
    }
    if (ended) break;
    if (failures >= 60) break;
  }
  reportGap(null);
  ctx.progress(done, total);
  if (media.notInBackup.length) {
    const list = media.notInBackup.slice(0, 20).join(', ');
    ctx.warn(`${media.notInBackup.length} asset(s) have no file in the backup (Z_PK ${list}${media.notInBackup.length > 20 ? ', …' : ''}); marked file.status "not-in-backup"`, {
      fileRowId: src.fileRowId,
      severity: 'warning',
      table,
    });
  }
}

async function emitAsset(ctx: ExtractorContext, fileRowId: number, table: string, r: Row, media: MediaReader): Promise<void> {
  const pk = Number(r.pk);
  const kindNum = num(r.ZKIND);
  const subtype = num(r.ZKINDSUBTYPE);
  const isVideo = kindNum === 1;
  const kind = isVideo ? 'video' : 'photo';
  const assetKind = isVideo ? 'video' : subtype === 2 ? 'live' : kindNum === 0 ? 'photo' : `kind ${kindNum ?? 'unknown'}`;
  const filename = text(r.ZFILENAME);
  const original = text(r.ZORIGINALFILENAME);
  const created = macSeconds(r.ZDATECREATED);
  const added = macSeconds(r.ZADDEDDATE);
  const modified = macSeconds(r.ZMODIFICATIONDATE);
  const trashedDate = macSeconds(r.ZTRASHEDDATE);
  for (const [col, t] of [
    ['ZDATECREATED', created],
    ['ZADDEDDATE', added],
    ['ZMODIFICATIONDATE', modified],
    ['ZTRASHEDDATE', trashedDate],
  ] as const) {
    if (t?.invalid) ctx.warn(`${table} Z_PK ${pk}: ${col} ${t.invalid}; kept without a time (raw value in ts_raw)`, { fileRowId, table, rowid: pk });
  }
  const trashed = (num(r.ZTRASHEDSTATE) ?? 0) !== 0;
  const hidden = (num(r.ZHIDDEN) ?? 0) !== 0;
  const favorite = (num(r.ZFAVORITE) ?? 0) !== 0;
  const tzOffsetS = num(r.ZTIMEZONEOFFSET) ?? num(r.ZINFERREDTIMEZONEOFFSET);
  const tzName = text(r.ZTIMEZONENAME);
  const duration = num(r.ZDURATION);
  const accuracy = num(r.ZGPSHORIZONTALACCURACY);
  const dbLoc = dbLocation(r.ZLATITUDE, r.ZLONGITUDE) ?? dbLocation(r.EXT_LAT, r.EXT_LON);
  const uuid = text(r.ZUUID);

  const f = await media.read(pk, text(r.ZDIRECTORY), filename, !isVideo, tzOffsetS);
  const exif = f?.exif ?? null;
  if (f?.exifError) ctx.warn(`asset Z_PK ${pk} (${f.file.domain}/${f.file.path}): ${f.exifError}; Photos.sqlite values kept`, { fileRowId: f.file.file_row_id, table, rowid: pk });
  if (exif?.problems.length)
    ctx.warn(`asset Z_PK ${pk} (${f!.file.path}): ${exif.problems.join('; ')}; Photos.sqlite values kept`, { fileRowId: f!.file.file_row_id, table, rowid: pk });

  const disagreement = exif ? compare(created?.utcUs ?? null, dbLoc, exif) : null;
  if (disagreement)
    ctx.warn(`asset Z_PK ${pk} (${filename ?? '?'}): Photos.sqlite and EXIF disagree: ${disagreement.notes.join('; ')}`, { fileRowId, table, rowid: pk, severity: 'info' });
  const loc = dbLoc ?? (exif?.gps ? { lat: exif.gps.lat, lon: exif.gps.lon } : null);

  // Without ZDATECREATED, the file's EXIF time stands in when its zone is known (ts_epoch 'exif-local').
  const exifTs = exif?.capture_utc_us != null ? { utcUs: exif.capture_utc_us, raw: `${exif.capture_local}${exif.offset ?? ''}`, epoch: 'exif-local' as const } : null;
  if (!created)
    ctx.warn(`asset Z_PK ${pk} has no usable ZDATECREATED (${String(r.ZDATECREATED)})${exifTs ? '; the EXIF capture time is used' : ''}`, { fileRowId, table, rowid: pk });
  else if (created.invalid && exifTs) ctx.warn(`asset Z_PK ${pk}: the EXIF capture time stands in for the invalid ZDATECREATED`, { fileRowId, table, rowid: pk, severity: 'info' });
  const name = original && original !== filename ? `${original} (stored as ${filename ?? '?'})` : (filename ?? original ?? `asset ${pk}`);
  const label = isVideo ? 'Video' : assetKind === 'live' ? 'Live Photo' : subtype === 10 ? 'Screenshot' : 'Photo';
  const flags = [favorite && 'favourite', hidden && 'hidden', trashed && 'in Recently Deleted'].filter(Boolean);
  const dims = num(r.ZWIDTH) && num(r.ZHEIGHT) ? `, ${num(r.ZWIDTH)}×${num(r.ZHEIGHT)}` : '';
  const dur = isVideo && duration ? `, ${Math.round(duration * 10) / 10} s` : '';

  const takenId = ctx.emit({
    ts: created?.invalid ? (exifTs ?? created) : (created ?? exifTs),
    kind,
    action: 'taken',
    title: `${label} ${isVideo ? 'recorded' : 'taken'}: ${name}${dims}${dur}${flags.length ? ` [${flags.join(', ')}]` : ''}`,
    durationS: isVideo ? duration : null,
    latitude: loc?.lat ?? null,
    longitude: loc?.lon ?? null,
    accuracyM: loc && dbLoc && accuracy !== null && accuracy > 0 ? accuracy : null,
    sourceFileId: fileRowId,
    sourceTable: table,
    sourceRowid: pk,
    extra: {
      asset: {
        uuid,
        directory: text(r.ZDIRECTORY),
        filename,
        original_filename: original,
        kind: assetKind,
        kind_subtype: subtype,
        subtype_label: subtype !== null ? (SUBTYPES[subtype] ?? null) : null,
        uti: text(r.ZUNIFORMTYPEIDENTIFIER),
        width: num(r.ZWIDTH),
        height: num(r.ZHEIGHT),
        duration_s: duration,
        favorite,
        hidden,
        trashed,
        trashed_utc: isoFromUs(trashedDate?.utcUs),
        added_utc: isoFromUs(added?.utcUs),
        modified_utc: isoFromUs(modified?.utcUs),
        timezone_offset_s: tzOffsetS,
        timezone_name: tzName,
        exif_timestamp_string: text(r.ZEXIFTIMESTAMPSTRING),
        camera_make: text(r.ZCAMERAMAKE),
        camera_model: text(r.ZCAMERAMODEL),
        lens_model: text(r.ZLENSMODEL),
        gps_accuracy_m: accuracy,
      },
      location_source: dbLoc ? 'photos-db' : loc ? 'exif' : null,
      db_location: dbLoc,
      file: f?.file ?? null,
      exif,
      exif_error: f?.exifError ?? null,
      time_zone: timeZoneReasoning(tzOffsetS, tzName, exif, created?.utcUs ?? null),
      disagreement,
    },
  });
  if (f?.thumbnail) {
    try {
      addThumbnail(ctx.caseFile, { eventId: takenId, ...f.thumbnail });
    } catch (e) {
      ctx.warn(`asset Z_PK ${pk} (${f.file.path}): thumbnail not stored (${(e as Error).message})`, { fileRowId: f.file.file_row_id, table, rowid: pk, severity: 'info' });
    }
  }
  const small = { uuid, filename };
  const what = `${label}: ${name}`;
  // A camera photo is added to the library the moment it is taken: an 'added' event then only repeats
  // 'taken' (the time stays in asset.added_utc). Imports, saves and downloads are added later and do get one.
  if (added && (created?.utcUs == null || added.utcUs === null || Math.abs(added.utcUs - created.utcUs) > ADDED_SAME_AS_TAKEN_US))
    ctx.emit({ ts: added, kind, action: 'added', title: `${what} added to the library`, sourceFileId: fileRowId, sourceTable: table, sourceRowid: pk, extra: small });
  if (modified) ctx.emit({ ts: modified, kind, action: 'modified', title: `${what} modified`, sourceFileId: fileRowId, sourceTable: table, sourceRowid: pk, extra: small });
  if (trashedDate)
    ctx.emit({
      ts: trashedDate,
      kind,
      action: 'trashed',
      title: `${what} moved to Recently Deleted${trashed ? '' : ' (since restored)'}`,
      sourceFileId: fileRowId,
      sourceTable: table,
      sourceRowid: pk,
      extra: small,
    });
}

export const photos: Extractor = {
  id: 'photos',
  title: 'Photos and videos (Photos.sqlite, EXIF)',
  sources: [{ domain: PHOTOS_DOMAIN, path: PHOTOS_DB }],
  reads: [
    { domain: PHOTOS_DOMAIN, path: 'Media/DCIM/**' },
    { domain: PHOTOS_DOMAIN, path: 'Media/PhotoData/CPLAssets/**' },
  ],
  kinds: [
    {
      kind: 'photo',
      label: 'Photos',
      color: '#c77a1c',
      view: 'gallery',
      dataType: 'ios:photos:asset',
      actions: { taken: 'Photo Taken', added: 'Photo Added', modified: 'Photo Modified', trashed: 'Photo Trashed' },
    },
    {
      kind: 'video',
      label: 'Videos',
      color: '#b5486b',
      view: 'gallery',
      dataType: 'ios:photos:asset',
      actions: { taken: 'Video Recorded', added: 'Video Added', modified: 'Video Modified', trashed: 'Video Trashed' },
    },
  ],
  async run(ctx) {
    await extractPhotosDb(ctx);
  },
};
