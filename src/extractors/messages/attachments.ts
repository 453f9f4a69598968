// Message attachments: each `attachment` row is recorded with the file it names (hashed when the backup
// holds it, 'missing' when not, refused when its path leaves the attachments folder) and a thumbnail for
// images. Attachment rows no message links to are recorded too (deleted messages leave them behind).
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { isoFromUs, macAbsoluteAuto } from '../../formats/appleTime.js';
import { fileIdFor } from '../../backup/backup.js';
import { addThumbnail } from '../../timeline/thumbnails.js';
import { imageMimeOf, makeThumbnail, type Thumbnail } from '../thumbnail.js';
import { colOrNull, columnsOf, hasTable, sqlText, type ExtractorContext } from '../types.js';
import { locateAttachment } from './attachmentPath.js';
import { mimeFromName } from './vocab.js';

type Warn = (message: string, rowid: number | null, severity?: 'info' | 'warning' | 'error', table?: string | null) => void;

const str = sqlText;
/** Missing attachment files named one warning each; past this, one warning counts the rest (the files rows keep every one). */
const NAMED_MISSING = 50;
const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export class AttachmentRecorder {
  private readonly stmt: Database.Statement | null = null;
  /** attachment ROWID → files row, so an attachment linked twice is read once. */
  private readonly fileRows = new Map<number, number>();
  /** attachment ROWID → its thumbnail row, copied when the same attachment row is recorded again. */
  private readonly thumbnails = new Map<number, number>();
  /** Attachment files the backup does not hold (each is a files row with status 'missing'). */
  private missing = 0;
  /** Attachment rows whose path names no file in the backup's attachment domains (not hostile). */
  private unlocated = 0;

  constructor(
    private readonly ctx: ExtractorContext,
    private readonly db: Database.Database,
    private readonly extractor: string,
    private readonly fileRowId: number,
    private readonly warn: Warn,
  ) {
    if (hasTable(db, 'attachment')) {
      const ac = columnsOf(db, 'attachment');
      const cols = [
        'guid',
        'created_date',
        'start_date',
        'filename',
        'uti',
        'mime_type',
        'transfer_name',
        'total_bytes',
        'is_outgoing',
        'transfer_state',
        'is_sticker',
        'hide_attachment',
        'original_guid',
      ]
        .map((c) => colOrNull(ac, c))
        .join(', ');
      this.stmt = db.prepare(`SELECT ROWID AS rowid, ${cols} FROM attachment WHERE ROWID = ?`);
    }
  }

  /** Record attachment `attRowid` of message `messageRowid` (event `eventId`; null for an orphan). */
  async record(attRowid: number, eventId: number | null, messageRowid: number | null): Promise<void> {
    const { ctx } = this;
    const a = this.stmt?.get(attRowid) as Record<string, unknown> | undefined;
    if (!a) {
      this.warn(`message ROWID ${messageRowid} links attachment ROWID ${attRowid}, which is not in the attachment table`, messageRowid, 'warning', 'message_attachment_join');
      return;
    }
    const filename = str(a.filename);
    const transferName = str(a.transfer_name) ?? (filename ? path.posix.basename(filename) : null);
    const loc = locateAttachment(filename);
    let status: string;
    let fileRowId: number | null = null;
    let sha256: string | null = null;
    let size: number | null = null;
    let thumb: Thumbnail | null = null;
    const extra: Record<string, unknown> = {
      guid: str(a.guid),
      message_rowid: messageRowid,
      created: isoFromUs(macAbsoluteAuto(a.created_date)?.utcUs),
      transfer_state: a.transfer_state == null ? null : Number(a.transfer_state),
      is_outgoing: a.is_outgoing == null ? null : Number(a.is_outgoing),
    };
    if (int(a.is_sticker)) extra.is_sticker = 1;
    if (int(a.hide_attachment)) extra.hide_attachment = 1;
    if (!loc.ok) {
      status = filename ? 'outside-attachments' : 'no-path';
      extra.reason = loc.reason;
      // A hostile path is always named; ordinary unreadable paths past the first NAMED_MISSING are counted.
      if (loc.hostile || ++this.unlocated <= NAMED_MISSING)
        this.warn(
          `attachment ROWID ${attRowid}${messageRowid !== null ? ` (message ROWID ${messageRowid})` : ''}: ${loc.reason}${filename ? ` — ${JSON.stringify(filename.slice(0, 300))}` : ''}; not looked up in the backup`,
          attRowid,
          loc.hostile ? 'warning' : 'info',
          'attachment',
        );
    } else {
      extra.domain = loc.domain;
      extra.relative_path = loc.relativePath;
      const cached = this.fileRows.get(attRowid);
      const entry = ctx.backup.get(loc.domain, loc.relativePath);
      if (cached !== undefined) {
        const f = ctx.caseFile.fileRow(cached)!;
        fileRowId = f.id;
        status = f.status;
        sha256 = f.sha256;
        size = f.size;
      } else if (!entry) {
        status = 'missing';
        fileRowId = ctx.caseFile.recordFile({
          domain: loc.domain,
          relativePath: loc.relativePath,
          fileId: fileIdFor(loc.domain, loc.relativePath),
          status: 'missing',
          readBy: this.extractor,
          note: 'attachment file not listed in Manifest.db',
        });
        if (++this.missing <= NAMED_MISSING)
          this.warn(`attachment ROWID ${attRowid}: ${loc.domain}/${loc.relativePath} is not in this backup (recorded as missing)`, attRowid, 'info', 'attachment');
      } else if (entry.flags !== 1) {
        status = entry.flags === 2 ? 'directory' : 'not-a-file';
        fileRowId = ctx.caseFile.recordFile({
          domain: loc.domain,
          relativePath: loc.relativePath,
          fileId: entry.fileID,
          flags: entry.flags,
          status: 'listed-only',
          readBy: this.extractor,
          note: entry.flags === 2 ? 'a folder (bundle attachment)' : 'not a regular file',
        });
      } else {
        const opened = await ctx.openEntry(entry);
        if (opened) {
          fileRowId = opened.fileRowId;
          sha256 = opened.sha256;
          size = opened.size;
          status = 'ok';
          // Images only (by MIME type or extension), before the copy goes: null means the report's placeholder.
          const imageMime = imageMimeOf(str(a.mime_type), transferName ?? filename);
          if (imageMime) thumb = await makeThumbnail(opened.path, imageMime);
          // The hash is what we need; do not keep a second copy of every photo in the work folder.
          const dir = path.dirname(opened.path);
          if (dir.startsWith(ctx.backup.workDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
        } else {
          const f = ctx.caseFile.findFile(loc.domain, loc.relativePath);
          fileRowId = f ? Number(f.id) : null;
          status = f?.status ?? 'unreadable';
        }
      }
      if (fileRowId !== null) this.fileRows.set(attRowid, fileRowId);
    }
    const totalBytes = a.total_bytes == null ? null : Number(a.total_bytes);
    if (size !== null && totalBytes !== null && totalBytes > 0 && size !== totalBytes) extra.size_on_disk = size;
    let mime = str(a.mime_type);
    if (!mime) {
      mime = mimeFromName(transferName ?? filename);
      if (mime) extra.mime_type_from = 'extension';
    }
    const attachmentId = ctx.caseFile.addAttachment({
      eventId,
      extractor: this.extractor,
      sourceFileId: this.fileRowId,
      sourceTable: 'attachment',
      sourceRowid: attRowid,
      fileId: fileRowId,
      path: filename,
      transferName,
      mimeType: mime,
      uti: str(a.uti),
      totalBytes,
      status,
      sha256,
      extra,
    });
    const prior = thumb ? undefined : this.thumbnails.get(attRowid);
    try {
      if (thumb) this.thumbnails.set(attRowid, addThumbnail(ctx.caseFile, { attachmentId, ...thumb }));
      else if (prior !== undefined) ctx.caseFile.copyThumbnail(prior, attachmentId);
    } catch (e) {
      this.warn(`attachment ROWID ${attRowid}: thumbnail not stored (${(e as Error).message})`, attRowid, 'info', 'attachment');
    }
  }

  /** Attachment rows that no existing message links to: still evidence, recorded without an event. */
  async orphans(): Promise<void> {
    if (!this.stmt) return;
    const hasJoin = hasTable(this.db, 'message_attachment_join');
    const linked = 'SELECT j.attachment_id FROM message_attachment_join j JOIN message m ON m.ROWID = j.message_id WHERE j.attachment_id IS NOT NULL';
    const ids = this.db
      .prepare(`SELECT ROWID FROM attachment ${hasJoin ? `WHERE ROWID NOT IN (${linked})` : ''} ORDER BY ROWID`)
      .pluck()
      .safeIntegers(false)
      .all() as number[];
    if (ids.length)
      this.warn(`${ids.length} attachment row(s) belong to no message in the message table (deleted messages?): recorded without an event`, null, 'info', 'attachment');
    for (const id of ids) await this.record(Number(id), null, null);
  }

  /** One warning for the missing files past the first NAMED_MISSING (on a backup without attachments, 141,510 rows of the same words). */
  summarizeMissing(): void {
    if (this.unlocated > NAMED_MISSING)
      this.warn(
        `${this.unlocated.toLocaleString('en-US')} attachment rows name no file this backup can hold (no path, or a path outside the attachment folders); the first ${NAMED_MISSING} are named in their own warnings, and every one is recorded with its reason`,
        null,
        'info',
        'attachment',
      );
    if (this.missing > NAMED_MISSING)
      this.warn(
        `${this.missing.toLocaleString('en-US')} attachment files are not in this backup; the first ${NAMED_MISSING} are named in their own warnings, and every one is a files row with status 'missing'`,
        null,
        'info',
        'attachment',
      );
  }
}
