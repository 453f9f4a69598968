// Voice Memos: CloudRecordings.db (Core Data, ZCLOUDRECORDING) and the audio files it names. Older iOS keep it in
// MediaDomain Media/Recordings/ with ZPATH an absolute device path and the title in ZCUSTOMLABEL; later versions in
// the app group AppDomainGroup-group.com.apple.VoiceMemos.shared Recordings/, ZPATH a file name beside the database,
// the title in ZENCRYPTEDTITLE (plain text despite the name), ZEVICTIONDATE set while in Recently Deleted.
// Every row is a 'recorded' event at ZDATE (duration ZDURATION, the audio file hashed and linked, status 'missing'
// when absent) plus a 'deleted' event at ZEVICTIONDATE.
import path from 'node:path';
import { formatDuration } from '../../formats/duration.js';
import { isoFromUs } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { timeOf } from '../common/time.js';
import { linkMedia, safeRelative } from '../common/linkedMedia.js';

const ID = 'voice-memos';
const LOCATIONS = [
  { domain: 'MediaDomain', db: 'Media/Recordings/CloudRecordings.db' },
  { domain: 'AppDomainGroup-group.com.apple.VoiceMemos.shared', db: 'Recordings/CloudRecordings.db' },
];
const HOME_PREFIXES = ['/private/var/mobile/', '/var/mobile/', '~/'];

/** Where ZPATH's file is in the backup: absolute device paths map to MediaDomain, bare names sit beside the database. */
export function locateRecording(zpath: string, domain: string, dbPath: string): { domain: string; relativePath: string } | { reason: string } {
  if (zpath.includes('\0')) return { reason: 'the path contains a NUL byte' };
  for (const p of HOME_PREFIXES) {
    if (zpath.startsWith(p)) {
      const rel = safeRelative(zpath.slice(p.length));
      return rel ? { domain: 'MediaDomain', relativePath: rel } : { reason: 'the path has "." or ".." segments; refused' };
    }
  }
  if (zpath.startsWith('/')) return { reason: 'an absolute path outside the device home folder' };
  const rel = safeRelative(path.posix.join(path.posix.dirname(dbPath), zpath));
  if (!rel || zpath.split('/').some((s) => s === '..' || s === '.')) return { reason: 'the path has "." or ".." segments; refused' };
  return { domain, relativePath: rel };
}

async function readStore(ctx: ExtractorContext, domain: string, dbPath: string): Promise<boolean> {
  const src = await ctx.openDatabase(domain, dbPath);
  if (!src) return false;
  const { db } = src;
  if (!hasTable(db, 'ZCLOUDRECORDING')) throw new ArtifactError(`${dbPath} has no ZCLOUDRECORDING table (unknown schema)`);
  const c = columnsOf(db, 'ZCLOUDRECORDING');
  const folders = hasTable(db, 'ZFOLDER') && c.has('ZFOLDER') && columnsOf(db, 'ZFOLDER').has('ZENCRYPTEDNAME');
  const cols = ['ZDATE', 'ZDURATION', 'ZCUSTOMLABEL', 'ZENCRYPTEDTITLE', 'ZPATH', 'ZUNIQUEID', 'ZEVICTIONDATE', 'ZFLAGS'].map((x) => colOrNull(c, x, x, 'r.')).join(', ');
  const q = `SELECT r.Z_PK AS pk, ${cols}, ${folders ? 'f.ZENCRYPTEDNAME' : 'NULL'} AS folder FROM ZCLOUDRECORDING r ${folders ? 'LEFT JOIN ZFOLDER f ON f.Z_PK = r.ZFOLDER' : ''} ORDER BY r.Z_PK`;
  for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
    const pk = Number(r.pk);
    const where = { fileRowId: src.fileRowId, table: 'ZCLOUDRECORDING', rowid: pk };
    const ts = timeOf(ctx, r.ZDATE, 'mac-s', { ...where, column: 'ZDATE' });
    if (!ts) ctx.warn(`ZCLOUDRECORDING Z_PK ${pk} has no ZDATE`, where);
    const evicted = timeOf(ctx, r.ZEVICTIONDATE, 'mac-s', { ...where, column: 'ZEVICTIONDATE' });
    const title = sqlText(r.ZENCRYPTEDTITLE) ?? sqlText(r.ZCUSTOMLABEL);
    const duration = r.ZDURATION == null ? null : Number(r.ZDURATION);
    const zpath = sqlText(r.ZPATH);
    const loc = zpath ? locateRecording(zpath, domain, dbPath) : { reason: 'no ZPATH' };
    const extra = {
      recording_title: title,
      custom_label: sqlText(r.ZCUSTOMLABEL),
      path: zpath,
      unique_id: sqlText(r.ZUNIQUEID),
      folder: sqlText(r.folder),
      recently_deleted: !!evicted,
      evicted_utc: isoFromUs(evicted?.utcUs),
      flags: r.ZFLAGS ?? null,
      path_problem: 'reason' in loc ? loc.reason : undefined,
    };
    const label = (title ?? zpath?.split('/').pop() ?? `recording ${pk}`).replace(/[\r\n\t]+/g, ' ');
    const eventId = ctx.emit({
      ts,
      kind: 'voice-memo',
      action: 'recorded',
      title: `Voice memo recorded: ${label}${duration ? `, ${formatDuration(duration)}` : ''}${evicted ? ' (in Recently Deleted)' : ''}`,
      durationS: duration,
      service: 'Voice Memos',
      sourceFileId: src.fileRowId,
      sourceTable: 'ZCLOUDRECORDING',
      sourceRowid: pk,
      extra,
    });
    let status: string,
      fileId: number | null = null,
      sha: string | null = null,
      size: number | null = null,
      relPath: string | null = null;
    if ('reason' in loc) {
      status = zpath ? 'refused-path' : 'no-path';
      if (zpath) ctx.warn(`ZCLOUDRECORDING Z_PK ${pk}: ZPATH ${JSON.stringify(zpath.slice(0, 200))} not looked up (${loc.reason})`, where);
    } else {
      relPath = loc.relativePath;
      const m = await linkMedia(ctx, ID, loc.domain, loc.relativePath);
      status = m.status;
      fileId = m.fileRowId;
      sha = m.sha256;
      size = m.size;
      if (status === 'missing')
        ctx.warn(`ZCLOUDRECORDING Z_PK ${pk}: ${loc.domain}/${loc.relativePath} is not in this backup (recorded as missing)`, { ...where, severity: 'info' });
    }
    ctx.caseFile.addAttachment({
      eventId,
      extractor: ID,
      sourceFileId: src.fileRowId,
      sourceTable: 'ZCLOUDRECORDING',
      sourceRowid: pk,
      fileId,
      path: zpath,
      transferName: zpath ? (zpath.split('/').pop() ?? null) : null,
      mimeType: zpath?.toLowerCase().endsWith('.m4a') ? 'audio/mp4' : null,
      uti: null,
      totalBytes: size,
      status,
      sha256: sha,
      extra: { relative_path: relPath },
    });
    if (evicted) {
      ctx.emit({
        ts: evicted,
        kind: 'voice-memo',
        action: 'deleted',
        title: `Voice memo moved to Recently Deleted: ${label}`,
        durationS: duration,
        service: 'Voice Memos',
        sourceFileId: src.fileRowId,
        sourceTable: 'ZCLOUDRECORDING',
        sourceRowid: pk,
        extra: { recorded_event_id: eventId },
      });
    }
  }
  return true;
}

export const voiceMemos: Extractor = {
  id: ID,
  title: 'Voice Memos (recordings and their audio)',
  sources: LOCATIONS.map((l) => ({ domain: l.domain, path: l.db })),
  reads: LOCATIONS.map((l) => ({ domain: l.domain, path: `${l.db.split('/').slice(0, -1).join('/')}/**` })),
  kinds: [
    {
      kind: 'voice-memo',
      label: 'Voice memos',
      color: '#b45309',
      view: 'table',
      dataType: 'ios:voicememos:recording',
      actions: { recorded: 'Recording Created', deleted: 'Recording Deleted' },
    },
  ],
  async run(ctx) {
    // Both places are tried: a store listed but missing in one does not hide the other.
    const failures: string[] = [];
    let read = 0;
    for (const l of LOCATIONS) {
      try {
        if (await readStore(ctx, l.domain, l.db)) read++;
      } catch (e) {
        failures.push((e as Error).message);
        ctx.warn(`${l.domain}/${l.db}: ${(e as Error).message}`, { severity: 'error' });
      }
    }
    if (read === 0 && failures.length) throw new ArtifactError(failures.join('; '));
  },
};
