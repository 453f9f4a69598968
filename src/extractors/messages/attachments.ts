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
import { columnsOf, hasTable, sqlText, type ExtractorContext } from '../types.js';
import { locateAttachment } from './attachmentPath.js';
import { mimeFromName } from './vocab.js';

type Warn = (message: string, rowid: number | null, severity?: 'info' | 'warning' | 'error', table?: string | null) => void;

const str = sqlText;
/** Missing attachment files named one warning each; past this, one warning counts the rest (the files rows keep every one). */
const NAMED_MISSING = 50;
const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The attachment columns read, in this order after ROWID (absent ones read as NULL). */
const ATTACHMENT_COLUMNS = [
  'guid',
  'created_date',
  'filename',
  'uti',
  'mime_type',
  'transfer_name',
  'total_bytes',
  'is_outgoing',
  'transfer_state',
  'is_sticker',
  'hide_attachment',
] as const;
/** One attachment row as read: ROWID, then ATTACHMENT_COLUMNS (integers as BigInt: created_date may be nanoseconds). */
type AttachmentRow = unknown[];
const A = Object.fromEntries(ATTACHMENT_COLUMNS.map((c, i) => [c, i + 1])) as Record<(typeof ATTACHMENT_COLUMNS)[number], number>;

export class AttachmentRecorder {
  /** ROWID and ATTACHMENT_COLUMNS of one attachment (the fallback when the join table has no message_id index). */
  private readonly stmt: Database.Statement | null = null;
  /** `a.ROWID, a.<ATTACHMENT_COLUMNS>` (NULLs when the table is absent), for the joined page query. */
  private readonly selectList: string;
  private pageStmt: Database.Statement | null = null;
  /** attachment ROWID → files row, so an attachment linked twice is read once. */
  private readonly fileRows = new Map<number, number>();
  /** attachment ROWID → its thumbnail row, copied when the same attachment row is recorded again. */
  private readonly thumbnails = new Map<number, number>();
  /** Attachment path → its 'missing' files row: recording the same missing path again would rewrite the same values. */
  private readonly missingRows = new Map<string, number>();
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
    const present = hasTable(db, 'attachment');
    const ac = present ? columnsOf(db, 'attachment') : new Set<string>();
    const cols = (prefix: string) => ATTACHMENT_COLUMNS.map((c) => (ac.has(c) ? `${prefix}${c}` : 'NULL')).join(', ');
    this.selectList = present ? `a.ROWID, ${cols('a.')}` : `NULL, ${cols('')}`;
    // Integers stay BigInt (the working copy's default): created_date in nanoseconds exceeds 2^53.
    if (present)
      this.stmt = db
        .prepare(`SELECT ROWID, ${cols('')} FROM attachment WHERE ROWID = ?`)
        .raw(true)
        .safeIntegers(true);
  }

  /** Record attachment `attRowid` of message `messageRowid` (event `eventId`; null for an orphan). */
  async record(attRowid: number, eventId: number | null, messageRowid: number | null): Promise<void> {
    const a = this.stmt?.get(attRowid) as AttachmentRow | undefined;
    await this.recordRow(attRowid, a, eventId, messageRowid);
  }

  /**
   * Record the attachments of the messages with ROWID in (lo, hi], read with their attachment rows in one query
   * (message_attachment_join indexed on message_id); `eventOf` gives each message's main event.
   */
  async recordMessages(lo: number | bigint, hi: number | bigint, eventOf: Map<number, number>): Promise<void> {
    this.pageStmt ??= this.db
      .prepare(
        `SELECT j.message_id, j.attachment_id, ${this.selectList} FROM message_attachment_join j
        ${this.stmt ? 'LEFT JOIN attachment a ON a.ROWID = j.attachment_id' : ''}
        WHERE j.message_id > ? AND j.message_id <= ? AND j.attachment_id IS NOT NULL ORDER BY j.message_id, j.attachment_id`,
      )
      .raw(true)
      .safeIntegers(true);
    for (const r of this.pageStmt.all(lo, hi) as unknown[][]) {
      const rowid = Number(r[0]);
      // Every message row of the page has its event; a join row naming a ROWID without one names a message the
      // table no longer holds, and its attachment is recorded once, by orphans(), as the by-ROWID path does.
      const eventId = eventOf.get(rowid);
      if (eventId === undefined) continue;
      await this.recordRow(Number(r[1]), r[2] === null ? undefined : r.slice(2), eventId, rowid);
    }
  }

  /** Attachment rows that no existing message links to: still evidence, recorded without an event. */
  async orphans(): Promise<void> {
    if (!this.stmt) return;
    const hasJoin = hasTable(this.db, 'message_attachment_join');
    const linked = 'SELECT j.attachment_id FROM message_attachment_join j JOIN message m ON m.ROWID = j.message_id WHERE j.attachment_id IS NOT NULL';
    const rows = this.db
      .prepare(`SELECT ${this.selectList} FROM attachment a ${hasJoin ? `WHERE a.ROWID NOT IN (${linked})` : ''} ORDER BY a.ROWID`)
      .raw(true)
      .safeIntegers(true)
      .all() as AttachmentRow[];
    if (rows.length)
      this.warn(`${rows.length} attachment row(s) belong to no message in the message table (deleted messages?): recorded without an event`, null, 'info', 'attachment');
    for (const a of rows) await this.recordRow(Number(a[0]), a, null, null);
  }

  /** Record one attachment row `a` (undefined: the join names a ROWID the attachment table does not hold). */
  private async recordRow(attRowid: number, a: AttachmentRow | undefined, eventId: number | null, messageRowid: number | null): Promise<void> {
    const { ctx } = this;
    if (!a) {
      this.warn(`message ROWID ${messageRowid} links attachment ROWID ${attRowid}, which is not in the attachment table`, messageRowid, 'warning', 'message_attachment_join');
      return;
    }
    const filename = str(a[A.filename]);
    const transferName = str(a[A.transfer_name]) ?? (filename ? path.posix.basename(filename) : null);
    const loc = locateAttachment(filename);
    let status: string;
    let fileRowId: number | null = null;
    let sha256: string | null = null;
    let size: number | null = null;
    let thumb: Thumbnail | null = null;
    const transferState = a[A.transfer_state];
    const isOutgoing = a[A.is_outgoing];
    const extra: Record<string, unknown> = {
      guid: str(a[A.guid]),
      message_rowid: messageRowid,
      created: isoFromUs(macAbsoluteAuto(a[A.created_date])?.utcUs),
      transfer_state: transferState == null ? null : Number(transferState),
      is_outgoing: isOutgoing == null ? null : Number(isOutgoing),
    };
    if (int(a[A.is_sticker])) extra.is_sticker = 1;
    if (int(a[A.hide_attachment])) extra.hide_attachment = 1;
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
        const key = `${loc.domain}\0${loc.relativePath}`;
        fileRowId = this.missingRows.get(key) ?? null;
        if (fileRowId === null) {
          fileRowId = ctx.caseFile.recordFile({
            domain: loc.domain,
            relativePath: loc.relativePath,
            fileId: fileIdFor(loc.domain, loc.relativePath),
            status: 'missing',
            readBy: this.extractor,
            note: 'attachment file not listed in Manifest.db',
          });
          this.missingRows.set(key, fileRowId);
        }
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
          const imageMime = imageMimeOf(str(a[A.mime_type]), transferName ?? filename);
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
    const totalBytes = a[A.total_bytes] == null ? null : Number(a[A.total_bytes]);
    if (size !== null && totalBytes !== null && totalBytes > 0 && size !== totalBytes) extra.size_on_disk = size;
    let mime = str(a[A.mime_type]);
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
      uti: str(a[A.uti]),
      totalBytes,
      status,
      sha256,
      extraJson: JSON.stringify(extra), // strings and numbers only
    });
    const prior = thumb ? undefined : this.thumbnails.get(attRowid);
    try {
      if (thumb) this.thumbnails.set(attRowid, addThumbnail(ctx.caseFile, { attachmentId, ...thumb }));
      else if (prior !== undefined) ctx.caseFile.copyThumbnail(prior, attachmentId);
    } catch (e) {
      this.warn(`attachment ROWID ${attRowid}: thumbnail not stored (${(e as Error).message})`, attRowid, 'info', 'attachment');
    }
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
