// Notes: AppDomainGroup-group.com.apple.notes / NoteStore.sqlite (iOS 9+, Core Data). Notes, folders and accounts
// all live in ZICCLOUDSYNCINGOBJECT; a note's body is ZICNOTEDATA.ZDATA, a gzipped protobuf whose text is at field
// path 2 (Document) → 3 (Note) → 2 (note_text) (apple_cloud_notes_parser proto/notestore.proto). Which columns hold
// the account and the creation date changed across iOS versions; they are chosen by the columns present, the way
// apple_cloud_notes_parser's AppleNoteStore does (ZACCOUNT6 → ZACCOUNT7 and ZCREATIONDATE3; ZACCOUNT5 → ZACCOUNT4 and
// ZCREATIONDATE3; ZACCOUNT4 → ZACCOUNT3; else ZACCOUNT2; ZCREATIONDATE1 before iOS 15).
//
// Every note row is a 'created' event (body = the note's text) and, when it differs, a 'modified' event.
// Password-protected notes (ZISPASSWORDPROTECTED = 1) are flagged `locked` and carry no text: their ZDATA is
// AES-GCM ciphertext (PBKDF2-SHA256 → AES key wrap → AES-GCM; apple_cloud_notes_parser AppleNote.rb/AppleDecrypter.rb)
// and is not decrypted. The title (ZTITLE1) is kept in plaintext by Notes and shown; the event says the body is
// encrypted (extra.body_state) and lists the crypto material present (salt, iterations, wrapped key, IV, tag, hint:
// what an examiner needs to try a known password elsewhere), never an empty body passed off as the text. A body that cannot be decompressed or decoded keeps the event, with a warning. Attachments
// (rows whose ZNOTE names the note, their media row's file name) are listed.
import zlib from 'node:zlib';
import protobuf from 'protobufjs';
import type Database from 'better-sqlite3';
import { columnsOf, hasTable, sqlText, ArtifactError, type Extractor } from '../types.js';
import { quoteIdent } from '../../sqlite.js';
import { timeOf } from '../common/time.js';

const ID = 'notes';
const DOMAIN = 'AppDomainGroup-group.com.apple.notes';
const DB = 'NoteStore.sqlite';
/** A note body larger than this once decompressed is not read (a hostile gzip cannot exhaust memory). */
export const MAX_NOTE_BYTES = 32 * 1024 * 1024;

// The part of notestore.proto the timeline needs; protobufjs skips every other field.
const NoteStoreProto = protobuf.Root.fromJSON({
  nested: {
    AttachmentInfo: { fields: { attachment_identifier: { type: 'string', id: 1 }, type_uti: { type: 'string', id: 2 } } },
    AttributeRun: { fields: { length: { type: 'int32', id: 1 }, attachment_info: { type: 'AttachmentInfo', id: 12 } } },
    Note: { fields: { note_text: { type: 'string', id: 2 }, attribute_run: { rule: 'repeated', type: 'AttributeRun', id: 5 } } },
    Document: { fields: { version: { type: 'int32', id: 2 }, note: { type: 'Note', id: 3 } } },
    NoteStoreProto: { fields: { document: { type: 'Document', id: 2 } } },
  },
}).lookupType('NoteStoreProto');

export interface NoteBody {
  text: string | null;
  attachments: { id: string | null; uti: string | null }[];
}

/**
 * ZICNOTEDATA.ZDATA → the note's text and the attachments its runs name. Throws with a readable message when the
 * blob is not gzip, is truncated, decompresses past MAX_NOTE_BYTES, or is not a NoteStoreProto.
 */
export function decodeNoteBody(zdata: Buffer): NoteBody {
  const raw = zdata.length >= 2 && zdata[0] === 0x1f && zdata[1] === 0x8b ? zlib.gunzipSync(zdata, { maxOutputLength: MAX_NOTE_BYTES }) : zdata;
  const msg = NoteStoreProto.decode(raw) as unknown as {
    document?: { note?: { note_text?: string; attribute_run?: { attachment_info?: { attachment_identifier?: string; type_uti?: string } }[] } };
  };
  const note = msg.document?.note;
  if (!note) throw new Error('no Document → Note (fields 2 → 3) in the protobuf');
  const attachments = (note.attribute_run ?? [])
    .filter((r) => r.attachment_info)
    .map((r) => ({ id: r.attachment_info!.attachment_identifier ?? null, uti: r.attachment_info!.type_uti ?? null }));
  return { text: note.note_text ?? null, attachments };
}

function firstPresent(cols: Set<string>, names: string[]): string | null {
  for (const n of names) if (cols.has(n)) return n;
  return null;
}

const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');

export const notes: Extractor = {
  id: ID,
  title: 'Notes (NoteStore.sqlite: text, folders, accounts, locked notes, attachments)',
  sources: [{ domain: DOMAIN, path: DB }],
  kinds: [{ kind: 'note', label: 'Notes', color: '#ca8a04', view: 'table', dataType: 'ios:notes:note', actions: { created: 'Note Created', modified: 'Note Modified' } }],
  async run(ctx) {
    const src = await ctx.openDatabase(DOMAIN, DB);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'ZICCLOUDSYNCINGOBJECT') || !hasTable(db, 'ZICNOTEDATA')) {
      throw new ArtifactError(`${DB} has no ZICCLOUDSYNCINGOBJECT/ZICNOTEDATA tables (a pre-iOS 9 notes store or an unknown schema)`);
    }
    const c = columnsOf(db, 'ZICCLOUDSYNCINGOBJECT');
    const nd = columnsOf(db, 'ZICNOTEDATA');
    const accountCol = c.has('ZACCOUNT6') ? 'ZACCOUNT7' : c.has('ZACCOUNT5') ? 'ZACCOUNT4' : c.has('ZACCOUNT4') ? 'ZACCOUNT3' : 'ZACCOUNT2';
    const createdCol = c.has('ZACCOUNT5') && c.has('ZCREATIONDATE3') ? 'ZCREATIONDATE3' : firstPresent(c, ['ZCREATIONDATE1', 'ZCREATIONDATE', 'ZCREATIONDATE3']);
    const col = (name: string | null, alias: string, prefix = 'o.') => (name && c.has(name) ? `${prefix}${name} AS ${alias}` : `NULL AS ${alias}`);

    // Folders and accounts by Z_PK.
    const names = new Map<number, { title: string | null; name: string | null; identifier: string | null }>();
    const ncols = [col('ZTITLE2', 'title', ''), col('ZNAME', 'name', ''), col('ZIDENTIFIER', 'identifier', '')].join(', ');
    const whereNamed = [c.has('ZTITLE2') ? 'ZTITLE2 IS NOT NULL' : null, c.has('ZNAME') ? 'ZNAME IS NOT NULL' : null].filter(Boolean).join(' OR ') || '0';
    for (const r of db.prepare(`SELECT Z_PK AS pk, ${ncols} FROM ZICCLOUDSYNCINGOBJECT WHERE ${whereNamed}`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      names.set(Number(r.pk), { title: sqlText(r.title), name: sqlText(r.name), identifier: sqlText(r.identifier) });
    }

    // Attachments by note (rows whose ZNOTE names the note; ZMEDIA → the media row with ZFILENAME).
    const attachmentsByNote = new Map<number, Record<string, unknown>[]>();
    if (c.has('ZNOTE')) {
      const acols = [
        col('ZTYPEUTI', 'uti'),
        col('ZIDENTIFIER', 'identifier'),
        col('ZTITLE', 'title'),
        col('ZFILESIZE', 'size'),
        c.has('ZMEDIA') && c.has('ZFILENAME') ? 'm.ZFILENAME AS filename' : 'NULL AS filename',
        c.has('ZMEDIA') ? 'm.ZIDENTIFIER AS media_identifier' : 'NULL AS media_identifier',
      ].join(', ');
      const join = c.has('ZMEDIA') ? 'LEFT JOIN ZICCLOUDSYNCINGOBJECT m ON m.Z_PK = o.ZMEDIA' : '';
      for (const r of db
        .prepare(`SELECT o.Z_PK AS pk, o.ZNOTE AS note, ${acols} FROM ZICCLOUDSYNCINGOBJECT o ${join} WHERE o.ZNOTE IS NOT NULL ORDER BY o.Z_PK`)
        .safeIntegers(false)
        .iterate() as Iterable<Record<string, unknown>>) {
        const list = attachmentsByNote.get(Number(r.note)) ?? [];
        list.push(r);
        attachmentsByNote.set(Number(r.note), list);
      }
    }

    // iOS 11 has no ZFOLDER: a note's folder is in the Core Data join Z_<n>NOTES (Z_<n>FOLDERS, Z_<m>NOTES)
    // (apple_cloud_notes_parser: Z_11NOTES.Z_11FOLDERS, Z_11NOTES.Z_8NOTES).
    const folderOfNote = new Map<number, number>();
    if (!c.has('ZFOLDER')) {
      for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'Z_[0-9]*NOTES'").pluck().all() as string[]) {
        const jc = [...columnsOf(db, t)];
        const f = jc.find((x) => /^Z_\d+FOLDERS$/.test(x)),
          n = jc.find((x) => /^Z_\d+NOTES$/.test(x));
        if (!f || !n) continue;
        for (const [fo, no] of db
          .prepare(`SELECT ${quoteIdent(f)}, ${quoteIdent(n)} FROM ${quoteIdent(t)}`)
          .raw(true)
          .safeIntegers(false)
          .iterate() as Iterable<[number, number]>) {
          if (!folderOfNote.has(Number(no))) folderOfNote.set(Number(no), Number(fo));
        }
        break;
      }
    }

    // The notes: every object row with a ZICNOTEDATA row or a ZNOTEDATA link.
    const sel = [
      col('ZTITLE1', 'title'),
      col('ZSNIPPET', 'snippet'),
      col('ZFOLDER', 'folder'),
      col(accountCol, 'account'),
      col(createdCol, 'created'),
      col('ZMODIFICATIONDATE1', 'modified'),
      col('ZISPASSWORDPROTECTED', 'locked'),
      col('ZMARKEDFORDELETION', 'deleted'),
      col('ZISPINNED', 'pinned'),
      col('ZIDENTIFIER', 'identifier'),
      col('ZCRYPTOITERATIONCOUNT', 'c_iter'),
      col('ZCRYPTOSALT', 'c_salt'),
      col('ZCRYPTOWRAPPEDKEY', 'c_wrapped'),
      col('ZCRYPTOVERIFIER', 'c_verifier'),
      col('ZPASSWORDHINT', 'c_hint'),
      col('ZCRYPTOINITIALIZATIONVECTOR', 'c_iv_obj'),
      col('ZCRYPTOTAG', 'c_tag_obj'),
      col('ZENCRYPTEDVALUESJSON', 'c_values'),
      nd.has('ZCRYPTOINITIALIZATIONVECTOR') ? 'd.ZCRYPTOINITIALIZATIONVECTOR AS c_iv' : 'NULL AS c_iv',
      nd.has('ZCRYPTOTAG') ? 'd.ZCRYPTOTAG AS c_tag' : 'NULL AS c_tag',
      'd.Z_PK AS data_pk',
      nd.has('ZDATA') ? 'd.ZDATA AS zdata' : 'NULL AS zdata',
    ].join(', ');
    const linkNoteData = c.has('ZNOTEDATA') ? 'OR o.ZNOTEDATA IS NOT NULL' : '';
    const dataJoin = nd.has('ZNOTE') ? 'd.ZNOTE = o.Z_PK' : c.has('ZNOTEDATA') ? 'd.Z_PK = o.ZNOTEDATA' : '0';
    const q = `SELECT o.Z_PK AS pk, ${sel} FROM ZICCLOUDSYNCINGOBJECT o LEFT JOIN ZICNOTEDATA d ON ${dataJoin}
      WHERE d.Z_PK IS NOT NULL ${linkNoteData} ORDER BY o.Z_PK`;
    const seenData = new Set<number>();
    let done = 0;
    for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const pk = Number(r.pk);
      if (r.data_pk != null) seenData.add(Number(r.data_pk));
      const where = { fileRowId: src.fileRowId, table: 'ZICCLOUDSYNCINGOBJECT', rowid: pk };
      const created = timeOf(ctx, r.created, 'mac-s', { ...where, column: createdCol ?? 'creation date' });
      const modified = timeOf(ctx, r.modified, 'mac-s', { ...where, column: 'ZMODIFICATIONDATE1' });
      const locked = Number(r.locked ?? 0) === 1;
      const title = sqlText(r.title);
      const folderPk = r.folder != null ? Number(r.folder) : (folderOfNote.get(pk) ?? null);
      const folder = folderPk === null ? null : (names.get(folderPk) ?? null);
      const account = r.account == null ? null : (names.get(Number(r.account)) ?? null);
      const extra: Record<string, unknown> = {
        note_title: title,
        snippet: locked ? null : sqlText(r.snippet),
        folder: folder?.title ?? null,
        account: account?.name ?? null,
        account_identifier: account?.identifier ?? null,
        identifier: sqlText(r.identifier),
        locked,
        deleted: Number(r.deleted ?? 0) === 1,
        pinned: Number(r.pinned ?? 0) === 1,
        note_data_pk: r.data_pk ?? null,
        account_column: accountCol,
        created_column: createdCol,
      };
      if (folderPk !== null && !folder) extra.folder_pk = folderPk;
      let body: string | null = null;
      if (locked) {
        const enc = lockedNoteCrypto(r);
        extra.body_state = 'encrypted';
        extra.encryption = enc;
        extra.note = 'password-protected: the body is encrypted and was not decrypted';
        if (title === null) extra.title_state = 'no plaintext title (ZTITLE1 is empty)';
        if (enc.missing.length) ctx.warn(`locked note Z_PK ${pk}: no ${enc.missing.join(', ')}; the body could not be decrypted even with the password`, where);
        if (Buffer.isBuffer(r.zdata) && r.zdata.length >= 2 && r.zdata[0] === 0x1f && r.zdata[1] === 0x8b)
          ctx.warn(`locked note Z_PK ${pk}: ZISPASSWORDPROTECTED = 1 but ZDATA starts like plain gzip; it was not read (flag and body disagree)`, where);
      } else if (Buffer.isBuffer(r.zdata) && r.zdata.length) {
        try {
          const decoded = decodeNoteBody(r.zdata);
          body = decoded.text;
          if (decoded.attachments.length) extra.embedded = decoded.attachments;
          if (body === null) ctx.warn(`note Z_PK ${pk}: the protobuf holds no note text (field 2 → 3 → 2)`, { ...where, severity: 'info' });
        } catch (e) {
          extra.body_error = (e as Error).message;
          extra.zdata_bytes = r.zdata.length;
          ctx.warn(`note Z_PK ${pk}: ZICNOTEDATA.ZDATA could not be decoded (${(e as Error).message}); the event keeps the title only`, where);
        }
      } else if (r.zdata != null && !Buffer.isBuffer(r.zdata)) {
        extra.body_error = `ZDATA holds ${typeof r.zdata}, not a blob`;
        ctx.warn(`note Z_PK ${pk}: ZICNOTEDATA.ZDATA holds ${typeof r.zdata}, not a blob`, where);
      }
      const attachments = attachmentsByNote.get(pk) ?? [];
      if (attachments.length)
        extra.attachments = attachments.map((a) => ({ uti: sqlText(a.uti), identifier: sqlText(a.identifier), filename: sqlText(a.filename), title: sqlText(a.title) }));
      const label = oneLine(title ?? (body ? body.split('\n')[0].slice(0, 80) : locked ? '(title not stored in plaintext)' : '(untitled)'));
      const where2 = folder?.title ? ` in “${oneLine(folder.title)}”` : '';
      const eventId = ctx.emit({
        ts: created,
        kind: 'note',
        action: 'created',
        title: `${locked ? 'Locked note' : 'Note'} created: ${label}${where2}`,
        body,
        service: account?.name ?? 'Notes',
        sourceFileId: src.fileRowId,
        sourceTable: 'ZICCLOUDSYNCINGOBJECT',
        sourceRowid: pk,
        extraJson: JSON.stringify(extra),
      });
      for (const a of attachments) {
        ctx.caseFile.addAttachment({
          eventId,
          extractor: ID,
          sourceFileId: src.fileRowId,
          sourceTable: 'ZICCLOUDSYNCINGOBJECT',
          sourceRowid: Number(a.pk),
          fileId: null,
          path: sqlText(a.filename),
          transferName: sqlText(a.filename) ?? sqlText(a.title),
          mimeType: null,
          uti: sqlText(a.uti),
          totalBytes: a.size == null ? null : Number(a.size),
          status: 'listed',
          sha256: null,
          extra: { identifier: sqlText(a.identifier), media_identifier: sqlText(a.media_identifier) },
        });
      }
      if (modified && modified.utcUs !== created?.utcUs) {
        ctx.emit({
          ts: modified,
          kind: 'note',
          action: 'modified',
          title: `${locked ? 'Locked note' : 'Note'} modified: ${label}${where2}`,
          service: account?.name ?? 'Notes',
          sourceFileId: src.fileRowId,
          sourceTable: 'ZICCLOUDSYNCINGOBJECT',
          sourceRowid: pk,
          extra: { created_event_id: eventId, locked },
        });
      }
      if (++done % 2000 === 0) ctx.progress(done);
    }
    orphanNoteData(db, seenData, (pk, bytes) => {
      ctx.emit({
        ts: null,
        kind: 'note',
        action: 'created',
        title: `Note body without a note row (ZICNOTEDATA Z_PK ${pk})`,
        body: bytes ? tryText(bytes) : null,
        sourceFileId: src.fileRowId,
        sourceTable: 'ZICNOTEDATA',
        sourceRowid: pk,
        extra: { orphan: true },
      });
      ctx.warn(`ZICNOTEDATA Z_PK ${pk} belongs to no note row: kept as an event without a time`, { fileRowId: src.fileRowId, table: 'ZICNOTEDATA', rowid: pk });
    });
  },
};

const blobBytes = (v: unknown): number | null => (Buffer.isBuffer(v) ? v.length : null);

/** What a locked note row holds of its encryption (sizes, not the bytes), and which parts are missing. */
function lockedNoteCrypto(r: Record<string, unknown>) {
  const iv = r.c_iv ?? r.c_iv_obj; // ZICNOTEDATA's, else the object row's (both tables carry the columns)
  const tag = r.c_tag ?? r.c_tag_obj;
  const e = {
    iterations: r.c_iter == null ? null : Number(r.c_iter),
    salt_bytes: blobBytes(r.c_salt),
    wrapped_key_bytes: blobBytes(r.c_wrapped),
    verifier_bytes: blobBytes(r.c_verifier),
    iv_bytes: blobBytes(iv),
    tag_bytes: blobBytes(tag),
    encrypted_bytes: blobBytes(r.zdata),
    // Newer stores keep a locked note's title and snippet encrypted here too (apple_cloud_notes_parser reads it).
    encrypted_values_bytes: blobBytes(r.c_values),
    password_hint: sqlText(r.c_hint),
    missing: [] as string[],
  };
  if (!e.salt_bytes) e.missing.push('salt (ZCRYPTOSALT)');
  if (!e.wrapped_key_bytes && !e.verifier_bytes) e.missing.push('wrapped key (ZCRYPTOWRAPPEDKEY/ZCRYPTOVERIFIER)');
  if (!e.iv_bytes) e.missing.push('IV (ZCRYPTOINITIALIZATIONVECTOR)');
  if (!e.tag_bytes) e.missing.push('GCM tag (ZCRYPTOTAG)');
  if (!e.encrypted_bytes) e.missing.push('ciphertext (ZDATA)');
  return e;
}

function tryText(b: Buffer): string | null {
  try {
    return decodeNoteBody(b).text;
  } catch {
    return null;
  }
}

function orphanNoteData(db: Database.Database, seen: Set<number>, each: (pk: number, zdata: Buffer | null) => void): void {
  const hasData = columnsOf(db, 'ZICNOTEDATA').has('ZDATA');
  const one = hasData ? db.prepare('SELECT ZDATA FROM ZICNOTEDATA WHERE Z_PK = ?').pluck() : null;
  const pks = db.prepare('SELECT Z_PK FROM ZICNOTEDATA ORDER BY Z_PK').pluck().safeIntegers(false).all() as number[];
  for (const pk of pks) {
    if (seen.has(Number(pk))) continue;
    const z = one?.get(pk);
    each(Number(pk), Buffer.isBuffer(z) ? z : null);
  }
}
