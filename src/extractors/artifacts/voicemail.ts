// Visual voicemail: HomeDomain Library/Voicemail/voicemail.db (`voicemail` table) and the audio files beside it,
// `<ROWID>.amr`. `date` is Unix seconds, `trashed_date` seconds since 2001 (0 = not trashed), flags 75 marks a
// deleted message (iLEAPP voicemail.py; vmail-db-2-html.pl). Newer iOS adds `receiver`, `label` and a `map`
// table (label → account, the receiving SIM's ICCID). Every row is one 'received' event (with the audio file
// hashed and linked as its attachment, status 'missing' when the backup lacks it) and, when trashed, a second
// 'trashed' event at trashed_date.
import { formatDuration } from '../../formats/duration.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor } from '../types.js';
import { timeOf, usOf } from '../common/time.js';
import { linkMedia } from '../common/linkedMedia.js';
import { isoFromUs } from '../../formats/appleTime.js';

const ID = 'voicemail';
const DOMAIN = 'HomeDomain';
const DB = 'Library/Voicemail/voicemail.db';
const DELETED_FLAGS = 75;

export const voicemail: Extractor = {
  id: ID,
  title: 'Voicemail (visual voicemail messages and audio)',
  sources: [{ domain: DOMAIN, path: DB }],
  reads: [{ domain: DOMAIN, path: 'Library/Voicemail/**' }],
  after: ['contacts'],
  kinds: [
    {
      kind: 'voicemail',
      label: 'Voicemail',
      color: '#0f766e',
      view: 'table',
      dataType: 'ios:voicemail:message',
      actions: { received: 'Voicemail Received', trashed: 'Voicemail Trashed' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase(DOMAIN, DB);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'voicemail')) throw new ArtifactError(`${DB} has no voicemail table (unknown schema)`);
    const c = columnsOf(db, 'voicemail');
    const hasMap = hasTable(db, 'map') && c.has('label') && columnsOf(db, 'map').has('account');
    const cols = ['remote_uid', 'date', 'token', 'sender', 'callback_num', 'duration', 'expiration', 'trashed_date', 'flags', 'receiver', 'label']
      .map((x) => colOrNull(c, x, x, 'v.'))
      .join(', ');
    const q = `SELECT v.ROWID AS rowid, ${cols}, ${hasMap ? '(SELECT account FROM map m WHERE m.label = v.label LIMIT 1)' : 'NULL'} AS account FROM voicemail v ORDER BY v.ROWID`;
    for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const rowid = Number(r.rowid);
      const where = { fileRowId: src.fileRowId, table: 'voicemail', rowid };
      const ts = timeOf(ctx, r.date, 'unix-s', { ...where, column: 'date' });
      if (!ts) ctx.warn(`voicemail row ${rowid} has no date`, { fileRowId: src.fileRowId, table: 'voicemail', rowid });
      const trashed = timeOf(ctx, r.trashed_date, 'mac-s', { ...where, column: 'trashed_date' });
      const sender = sqlText(r.sender) || null;
      const name = ctx.contacts.nameFor(sender);
      const duration = r.duration == null ? null : Number(r.duration);
      const flags = r.flags == null ? null : Number(r.flags);
      const deleted = flags === DELETED_FLAGS || !!trashed;
      const who = sender ? (name ? `${name} (${sender})` : sender) : 'unknown caller';
      const audioPath = `Library/Voicemail/${rowid}.amr`;
      const extra = {
        remote_uid: r.remote_uid ?? null,
        callback_num: sqlText(r.callback_num),
        receiver: sqlText(r.receiver),
        account: sqlText(r.account),
        label: sqlText(r.label),
        flags,
        deleted,
        trashed_utc: isoFromUs(usOf(trashed)),
        expiration_raw: r.expiration ?? null,
        audio_file: audioPath,
      };
      const eventId = ctx.emit({
        ts,
        kind: 'voicemail',
        action: 'received',
        direction: 'incoming',
        counterpart: sender,
        counterpartName: name,
        service: 'Voicemail',
        durationS: duration,
        title: `Voicemail from ${who}${duration ? `, ${formatDuration(duration)}` : ''}${deleted ? ' (deleted)' : ''}`,
        sourceFileId: src.fileRowId,
        sourceTable: 'voicemail',
        sourceRowid: rowid,
        extra,
      });
      const audio = await linkMedia(ctx, ID, DOMAIN, audioPath);
      if (audio.status === 'missing')
        ctx.warn(`voicemail row ${rowid}: ${DOMAIN}/${audioPath} is not in this backup (recorded as missing)`, {
          fileRowId: src.fileRowId,
          table: 'voicemail',
          rowid,
          severity: 'info',
        });
      ctx.caseFile.addAttachment({
        eventId,
        extractor: ID,
        sourceFileId: src.fileRowId,
        sourceTable: 'voicemail',
        sourceRowid: rowid,
        fileId: audio.fileRowId,
        path: audioPath,
        transferName: `${rowid}.amr`,
        mimeType: 'audio/amr',
        uti: 'org.3gpp.adaptive-multi-rate-audio',
        totalBytes: audio.size,
        status: audio.status,
        sha256: audio.sha256,
      });
      if (trashed) {
        ctx.emit({
          ts: trashed,
          kind: 'voicemail',
          action: 'trashed',
          direction: 'incoming',
          counterpart: sender,
          counterpartName: name,
          service: 'Voicemail',
          durationS: duration,
          title: `Voicemail from ${who} moved to Deleted Messages`,
          sourceFileId: src.fileRowId,
          sourceTable: 'voicemail',
          sourceRowid: rowid,
          extra: { received_event_id: eventId, flags },
        });
      }
    }
  },
};
