// Messages: sms.db (SMS, iMessage, RCS) — IOS_FORMATS.md §3. One schema-agnostic pass: every query is built
// from the columns the database actually has, so the same code reads a 2015 chat.db (dates in seconds, no
// tapback columns), iOS 14 and iOS 17/18 (text only in attributedBody, edits, unsends, emoji tapbacks).
//
// Every `message` row becomes one main event (sent / received / reaction / group-event / …) with
// source_table 'message' and its ROWID, followed by one event for each other time the row records
// (delivered, read, played, edited, unsent), all sharing the thread, direction and counterpart.
//
// Speed: the table is read in ROWID pages. Ordinary rows of a page are written by SQLite itself in one
// INSERT … SELECT (messages/bulk.ts); the rest are read as raw (array) rows with only the columns every row
// needs, and the rare rows that carry more (tapbacks, edits, group events, app balloons…) are flagged by SQL
// and fetched again in full. Delivered/read events are written by SQLite from the page's main events.
// Nothing holds the message table in memory; per message we keep 16 bytes (ROWID → first event id).
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { macAbsoluteAuto, isoFromUs, type Timestamp } from '../../formats/appleTime.js';
import { readBody, hexOf } from '../messages/body.js';
import { BulkMainEvents, sqlMacUs, NS_THRESHOLD, SRC_SCHEMA } from '../messages/bulk.js';
import { fileIdFor } from '../../backup/backup.js';
import type { Direction } from '../../timeline/caseFile.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { tapbackOf, parseAssociatedGuid, itemAction, GROUP_STYLE, mimeFromName } from '../messages/vocab.js';
import { locateAttachment } from '../messages/attachmentPath.js';
import { parseMessageSummary, type MessageSummary } from '../messages/summary.js';
import { imageMimeOf, makeThumbnail, type Thumbnail } from '../thumbnail.js';
import { addThumbnail } from '../../timeline/thumbnails.js';

const ID = 'messages';
const SMS_DB = 'Library/SMS/sms.db';

interface HandleInfo { rowid: number; id: string; service: string | null; name: string | null; label: string }
interface ChatInfo {
  rowid: number; threadId: number; identifier: string | null; displayName: string | null; service: string | null;
  isGroup: boolean; members: HandleInfo[]; label: string; memberHandles: string | null; memberNames: string | null;
}

/** Growable pair of sorted number columns (message id → value), searched by bisection. */
class SortedPairs {
  keys: Float64Array;
  vals: Float64Array;
  length = 0;
  constructor(capacity = 1024) { this.keys = new Float64Array(Math.max(16, capacity)); this.vals = new Float64Array(Math.max(16, capacity)); }
  push(k: number, v: number): void {
    if (this.length === this.keys.length) {
      const nk = new Float64Array(this.keys.length * 2); nk.set(this.keys); this.keys = nk;
      const nv = new Float64Array(this.vals.length * 2); nv.set(this.vals); this.vals = nv;
    }
    this.keys[this.length] = k; this.vals[this.length++] = v;
  }
  /** Index of the first entry with key >= k. */
  lowerBound(k: number): number {
    let lo = 0, hi = this.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (this.keys[mid] < k) lo = mid + 1; else hi = mid; }
    return lo;
  }
  get(k: number): number | undefined {
    const i = this.lowerBound(k);
    return i < this.length && this.keys[i] === k ? this.vals[i] : undefined;
  }
}

/** A join table (message_id, other_id) loaded once, sorted by message id, walked forward with a cursor. */
class JoinCursor {
  private pos = 0;
  constructor(private pairs: SortedPairs) {}
  /** The other ids joined to `messageId`; message ids must be asked in ascending order. */
  take(messageId: number): number[] | null {
    const p = this.pairs;
    while (this.pos < p.length && p.keys[this.pos] < messageId) this.pos++;
    if (this.pos >= p.length || p.keys[this.pos] !== messageId) return null;
    const out: number[] = [];
    while (this.pos < p.length && p.keys[this.pos] === messageId) out.push(p.vals[this.pos++]);
    return out;
  }
}

function loadJoin(db: Database.Database, table: string, other: string): SortedPairs {
  if (!hasTable(db, table)) return new SortedPairs();
  const cols = columnsOf(db, table);
  if (!cols.has('message_id') || !cols.has(other)) return new SortedPairs();
  const n = Number((db.prepare(`SELECT count(*) FROM ${table}`).pluck().safeIntegers(false).get() as number) ?? 0);
  const pairs = new SortedPairs(n);
  const st = db.prepare(`SELECT message_id, ${other} FROM ${table} WHERE message_id IS NOT NULL AND ${other} IS NOT NULL ORDER BY message_id, ${other}`).raw(true).safeIntegers(false);
  for (const r of st.iterate() as Iterable<[number, number]>) pairs.push(Number(r[0]), Number(r[1]));
  return pairs;
}


/** Switches for tests: the row-by-row paths are the fallback when the working copy cannot be attached. */
export const messagesTuning = { sqlMinorEvents: true, sqlBulk: true, pageRows: 4000 };
/** How the last run's message rows were written (for tests and the bench). */
export const messagesStats = { bulkRows: 0, rowByRowRows: 0 };

interface MinorBase { rowid: number; guid: string | null; mainId: number; title: string; direction: Direction; counterpart: string | null; counterpartName: string | null; threadId: number; service: string | null }
interface PendingMinor { base: MinorBase; ts: Timestamp; action: string; label: string; more?: Record<string, unknown> }

/** group_concat of ids → sorted numbers (null when none). */
function idList(v: unknown): number[] | null {
  if (v === null || v === undefined) return null;
  const s = String(v);
  if (!s.includes(',')) return [Number(s)];
  return s.split(',').map(Number).sort((a, b) => a - b);
}

/** Whether some index on `table` starts with `column` (so a per-row lookup is a seek, not a scan). */
function indexedOn(db: Database.Database, table: string, column: string): boolean {
  for (const name of db.prepare('SELECT name FROM pragma_index_list(?)').pluck().all(table) as string[]) {
    if (db.prepare('SELECT name FROM pragma_index_info(?) WHERE seqno = 0').pluck().get(name) === column) return true;
  }
  return false;
}

const str = sqlText;
const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** Titles are one line: names and group titles from the evidence may hold line breaks. */
const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');
function handleLabel(id: string, name: string | null): string { return oneLine(name ? `${name} (${id})` : id); }

/** Only the time is kept when a raw value is plainly broken (negative, NaN): the caller warns. */
function badTime(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'bigint') return v < 0n;
  if (typeof v === 'number') return !Number.isFinite(v) || v < 0;
  return true; // text or blob in a date column
}


export const messages: Extractor = {
  id: ID,
  title: 'Messages (SMS, iMessage, RCS)',
  sources: [{ domain: 'HomeDomain', path: SMS_DB }],
  after: ['contacts'],
  kinds: [{ kind: 'message', label: 'Messages', color: '#2f6fb3', view: 'conversation', dataType: 'ios:messages:message',
    actions: { sent: 'Message Sent', received: 'Message Received', read: 'Message Read', delivered: 'Message Delivered', edited: 'Message Edited',
      unsent: 'Message Unsent', reaction: 'Reaction', 'reaction-removed': 'Reaction Removed', played: 'Message Played' } }],
  async run(ctx) {
    const src = await ctx.openDatabase('HomeDomain', SMS_DB);
    if (!src) return;
    await new MessageReader(ctx, src).run();
  },
};

class MessageReader {
  private readonly db: Database.Database;
  private readonly fileRowId: number;
  private readonly handles = new Map<number, HandleInfo>();
  private readonly chats = new Map<number, ChatInfo>();
  private readonly syntheticThreads = new Map<string, number>();
  /** message ROWID → id of its first (main) event. */
  private readonly firstEvent = new SortedPairs(1 << 14);
  /** Links to messages not yet seen (a tapback stored before the message it reacts to). */
  private readonly deferred: { eventId: number; key: string; targetRowid: number }[] = [];
  private readonly attachmentCache = new Map<number, number>();
  /** attachment ROWID → its thumbnail row, copied when the same attachment row is recorded again. */
  private readonly thumbnailCache = new Map<number, number>();
  private recentlyDeleted = new Set<number>();
  private readonly pendingMinors: PendingMinor[] = [];
  private attached = false;
  private bulk: BulkMainEvents | null = null;
  private stmtGuid: Database.Statement | null = null;
  private stmtAttachment: Database.Statement | null = null;
  private stmtDetail: Database.Statement | null = null;

  constructor(private readonly ctx: ExtractorContext, private readonly src: OpenedDatabase) {
    this.db = src.db;
    this.fileRowId = src.fileRowId;
  }

  private warn(message: string, rowid: number | null, severity: 'info' | 'warning' | 'error' = 'warning', table: string | null = 'message'): void {
    this.ctx.warn(message, { fileRowId: this.fileRowId, table, rowid, severity });
  }

  async run(): Promise<void> {
    const { db } = this;
    if (!hasTable(db, 'message')) throw new ArtifactError(`${SMS_DB} has no message table (unknown schema)`);
    const mc = columnsOf(db, 'message');
    for (const need of ['guid']) if (!mc.has(need)) throw new ArtifactError(`${SMS_DB}: message table has no ${need} column (unknown schema)`);
    this.loadHandles();
    this.loadChats();
    if (hasTable(db, 'chat_recoverable_message_join') && columnsOf(db, 'chat_recoverable_message_join').has('message_id')) {
      this.recentlyDeleted = new Set((db.prepare('SELECT message_id FROM chat_recoverable_message_join').pluck().safeIntegers(false).all() as number[]).map(Number));
    }
    if (mc.has('guid')) {
      // Tapbacks and replies name their target by GUID. Every real sms.db has guid UNIQUE (an index); a file
      // without one gets a TEMP lookup table (connection-private, the working copy is not written).
      if (!indexedOn(db, 'message', 'guid')) {
        db.exec('CREATE TEMP TABLE guid_rowid AS SELECT guid, ROWID AS rid FROM message WHERE guid IS NOT NULL; CREATE INDEX temp.guid_rowid_guid ON guid_rowid(guid);');
        this.stmtGuid = db.prepare('SELECT rid FROM temp.guid_rowid WHERE guid = ? LIMIT 1').pluck().safeIntegers(false);
      } else this.stmtGuid = db.prepare('SELECT ROWID FROM message WHERE guid = ? LIMIT 1').pluck().safeIntegers(false);
    }
    if (hasTable(db, 'attachment')) {
      const ac = columnsOf(db, 'attachment');
      const cols = ['guid', 'created_date', 'start_date', 'filename', 'uti', 'mime_type', 'transfer_name', 'total_bytes', 'is_outgoing', 'transfer_state', 'is_sticker', 'hide_attachment', 'original_guid']
        .map((c) => colOrNull(ac, c)).join(', ');
      this.stmtAttachment = db.prepare(`SELECT ROWID AS rowid, ${cols} FROM attachment WHERE ROWID = ?`);
    }
    await this.readMessages(mc);
    this.resolveDeferred();
    await this.orphanAttachments();
  }

  // ---- handles, chats, threads -------------------------------------------------------------------------

  private loadHandles(): void {
    if (!hasTable(this.db, 'handle')) { this.warn(`${SMS_DB} has no handle table: senders and recipients cannot be named`, null, 'warning', 'handle'); return; }
    const hc = columnsOf(this.db, 'handle');
    const q = `SELECT ROWID AS rowid, ${colOrNull(hc, 'id')}, ${colOrNull(hc, 'service')}, ${colOrNull(hc, 'uncanonicalized_id')} FROM handle`;
    for (const r of this.db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const id = str(r.id) ?? str(r.uncanonicalized_id) ?? '';
      const name = this.ctx.contacts.nameFor(id);
      this.handles.set(Number(r.rowid), { rowid: Number(r.rowid), id, service: str(r.service), name, label: handleLabel(id || `handle ${r.rowid}`, name) });
    }
  }

  private loadChats(): void {
    const { db, ctx } = this;
    if (!hasTable(db, 'chat')) return;
    const cc = columnsOf(db, 'chat');
    const members = new Map<number, HandleInfo[]>();
    if (hasTable(db, 'chat_handle_join')) {
      for (const [chatId, handleId] of db.prepare('SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id').raw(true).safeIntegers(false).iterate() as Iterable<[number, number]>) {
        const h = this.handles.get(Number(handleId));
        if (!h) { this.warn(`chat ROWID ${chatId} lists handle ROWID ${handleId} as a member, but the handle table has no such row`, Number(chatId), 'warning', 'chat_handle_join'); continue; }
        const list = members.get(Number(chatId)) ?? [];
        list.push(h);
        members.set(Number(chatId), list);
      }
    }
    const cols = ['guid', 'style', 'chat_identifier', 'service_name', 'room_name', 'display_name', 'account_login', 'group_id', 'is_archived', 'last_addressed_handle']
      .map((c) => colOrNull(cc, c)).join(', ');
    for (const r of db.prepare(`SELECT ROWID AS rowid, ${cols} FROM chat ORDER BY ROWID`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const rowid = Number(r.rowid);
      const list = members.get(rowid) ?? [];
      const identifier = str(r.chat_identifier);
      const displayName = str(r.display_name) || null;
      const style = r.style == null ? null : Number(r.style);
      const isGroup = style === GROUP_STYLE || !!str(r.room_name) || list.length > 1;
      const service = str(r.service_name);
      const threadId = ctx.caseFile.addThread({
        extractor: ID, sourceFileId: this.fileRowId, sourceTable: 'chat', sourceRowid: rowid, identifier, displayName, service, isGroup,
        extra: {
          guid: str(r.guid), style, room_name: str(r.room_name), account_login: str(r.account_login), group_id: str(r.group_id),
          is_archived: r.is_archived == null ? null : Number(r.is_archived), last_addressed_handle: str(r.last_addressed_handle), members: list.length,
        },
      });
      for (const h of list) ctx.caseFile.addParticipant(threadId, h.id, h.name);
      const names = list.map((h) => h.name ?? h.id);
      const label = isGroup
        ? oneLine(displayName ? `group “${displayName}”` : `group (${names.join(', ') || identifier || `chat ${rowid}`})`)
        : list[0]?.label ?? identifier ?? `chat ${rowid}`;
      this.chats.set(rowid, {
        rowid, threadId, identifier, displayName, service, isGroup, members: list, label,
        memberHandles: list.length ? list.map((h) => h.id).join(', ') : null,
        memberNames: displayName ?? (list.some((h) => h.name) ? names.join(', ') : null),
      });
    }
  }

  /** A thread for messages whose chat is unknown, one per counterpart, so each still sits in a conversation. */
  private syntheticThread(handle: HandleInfo | undefined, handleId: number, service: string | null, reason: string): number {
    const key = handle ? `h:${handle.rowid}` : handleId ? `missing:${handleId}` : 'none';
    let id = this.syntheticThreads.get(key);
    if (id === undefined) {
      id = this.ctx.caseFile.addThread({
        extractor: ID, sourceFileId: this.fileRowId, sourceTable: 'handle', sourceRowid: handle ? handle.rowid : null,
        identifier: handle?.id ?? (handleId ? `handle ${handleId} (missing)` : 'unknown'), displayName: null, service: service ?? handle?.service ?? null, isGroup: false,
        extra: { synthetic: true, reason },
      });
      if (handle) this.ctx.caseFile.addParticipant(id, handle.id, handle.name);
      this.syntheticThreads.set(key, id);
    }
    return id;
  }

  // ---- the message table -------------------------------------------------------------------------------

  private async readMessages(mc: Set<string>): Promise<void> {
    const { db, ctx } = this;
    const col = (c: string) => (mc.has(c) ? c : 'NULL');
    // A message's chats: a subquery per row when chat_message_join is indexed on message_id (every real
    // sms.db), else the join table is loaded once, sorted, and walked alongside. Attachments likewise, per page.
    const indexedJoin = (table: string, other: string) => hasTable(db, table) && indexedOn(db, table, 'message_id') && columnsOf(db, table).has(other);
    const chatIndexed = indexedJoin('chat_message_join', 'chat_id');
    const attIndexed = indexedJoin('message_attachment_join', 'attachment_id');
    // Rows that need more than the hot columns: anything unusual is flagged here and fetched in full.
    const rare: string[] = [];
    const nz = (c: string) => { if (mc.has(c)) rare.push(`COALESCE(${c}, 0) != 0`); };
    const nn = (c: string) => { if (mc.has(c)) rare.push(`${c} IS NOT NULL`); };
    ['item_type', 'associated_message_type', 'date_played', 'date_edited', 'date_retracted', 'date_recovered', 'other_handle', 'is_audio_message', 'error',
      'group_action_type', 'share_status'].forEach(nz);
    ['associated_message_guid', 'message_summary_info', 'balloon_bundle_id', 'subject', 'group_title', 'expressive_send_style_id', 'thread_originator_guid'].forEach(nn);
    // Times that are not a non-negative integer (a REAL, text, a negative value) take the careful path too.
    for (const c of ['date', 'date_read', 'date_delivered']) if (mc.has(c)) rare.push(`(${c} IS NOT NULL AND (typeof(${c}) != 'integer' OR ${c} < 0))`);
    const rareSql = rare.length ? rare.join(' OR ') : '0';
    // Integer times are converted by SQLite exactly as macAbsoluteAuto does (per value: >= 1e11 is ns), so the
    // hot rows need no BigInt: µs since 1970 fit a double, and the raw value comes as text.
    const hotSql = (schema: string, rest: string) => `SELECT ROWID, ${col('guid')}, ${col('text')}, ${col('attributedBody')}, ${col('handle_id')}, ${col('service')},
      ${mc.has('date') ? `${sqlMacUs('date')}, CASE WHEN typeof(date) = 'integer' AND date > 0 THEN CAST(date AS TEXT) END` : 'NULL, NULL'},
      ${col('is_from_me')}, ${col('account')}, ${col('destination_caller_id')}, ${rareSql},
      ${chatIndexed ? `(SELECT group_concat(chat_id) FROM ${schema}chat_message_join WHERE message_id = message.ROWID)` : 'NULL'}
      FROM ${schema}message WHERE ROWID > ? AND ROWID <= ?${rest} ORDER BY ROWID`;
    const detailCols = ['date', 'date_read', 'date_delivered', 'item_type', 'other_handle', 'group_title', 'group_action_type', 'share_status', 'share_direction',
      'associated_message_guid', 'associated_message_type', 'associated_message_emoji', 'associated_message_range_location', 'associated_message_range_length',
      'balloon_bundle_id', 'expressive_send_style_id', 'thread_originator_guid', 'thread_originator_part', 'subject', 'date_played', 'date_edited', 'date_retracted',
      'date_recovered', 'message_summary_info', 'is_audio_message', 'is_played', 'error', 'part_count'].map((c) => colOrNull(mc, c)).join(', ');
    this.stmtDetail = db.prepare(`SELECT ${detailCols} FROM message WHERE ROWID = ?`).safeIntegers(true);

    const chatJoin = chatIndexed ? null : new JoinCursor(loadJoin(db, 'chat_message_join', 'chat_id'));
    const attJoin = attIndexed ? null : new JoinCursor(loadJoin(db, 'message_attachment_join', 'attachment_id'));
    const attRange = attIndexed ? db.prepare('SELECT message_id, attachment_id FROM message_attachment_join WHERE message_id > ? AND message_id <= ? AND attachment_id IS NOT NULL ORDER BY message_id, attachment_id').raw(true).safeIntegers(false) : null;
    const total = Number(db.prepare('SELECT count(*) FROM message').pluck().safeIntegers(false).get());
    const pageEnd = db.prepare(`SELECT max(ROWID) FROM (SELECT ROWID FROM message WHERE ROWID > ? ORDER BY ROWID LIMIT ${messagesTuning.pageRows})`).pluck();
    const cf = ctx.caseFile;
    const mainEventsSince = cf.db.prepare('SELECT source_rowid, id FROM main.events WHERE id >= ? ORDER BY source_rowid').raw(true).safeIntegers(false);
    const minors = this.sqlMinors(mc);
    try {
      let done = 0;
      // ROWIDs beyond 2^53 (only in a doctored file) would not survive as numbers: page with exact BigInts then.
      const [lo, hi] = db.prepare('SELECT min(ROWID), max(ROWID) FROM message').raw(true).safeIntegers(true).get() as [bigint | null, bigint | null];
      const bigRowids = (hi !== null && hi > BigInt(Number.MAX_SAFE_INTEGER)) || (lo !== null && lo < -BigInt(Number.MAX_SAFE_INTEGER));
      pageEnd.safeIntegers(bigRowids);
      if (bigRowids) this.warn(`${SMS_DB}: message ROWIDs reach ${hi} — beyond exact JavaScript numbers; ROWIDs in event links may be rounded`, null, 'warning');
      // Ordinary rows are written by SQLite (messages/bulk.ts) when the copy is attached; the row-by-row path
      // then reads only the rows the bulk statement left.
      this.bulk = minors && chatIndexed && !bigRowids && mc.has('date') && messagesTuning.sqlBulk ? this.bulkPath(mc, rareSql) : null;
      const bulkQuery = !!this.bulk;
      const hot = bulkQuery
        ? cf.db.prepare(hotSql(`${SRC_SCHEMA}.`, ' AND ROWID NOT IN (SELECT source_rowid FROM main.events WHERE id >= ? AND source_rowid IS NOT NULL)')).raw(true).safeIntegers(false)
        : db.prepare(hotSql('', '')).raw(true).safeIntegers(bigRowids);
      let last: number | bigint = -(1n << 63n);
      messagesStats.bulkRows = 0; messagesStats.rowByRowRows = 0;
      for (;;) {
        const end = pageEnd.get(last) as number | bigint | null;
        if (end === null) break;
        const firstId = cf.nextEventId();
        let taken = 0;
        if (this.bulk) {
          try {
            taken = this.bulk.run(last, end);
            ctx.countEvents(taken);
          } catch (e) {
            // SQLite undid the statement: these rows and all later ones go row by row.
            this.warn(`message rows after ROWID ${last} are read one by one (the bulk statement failed: ${(e as Error).message})`, null, 'info', null);
            this.bulk = null;
          }
        }
        let rows = (bulkQuery ? hot.all(last, end, firstId) : hot.all(last, end)) as unknown[][];
        if (bigRowids) rows = rows.map((r) => r.map((v, i) => (i > 0 && typeof v === 'bigint' ? Number(v) : v)));
        for (const r of rows) {
          const rowid = Number(r[0]);
          this.message(r, rowid, chatJoin ? chatJoin.take(rowid) : idList(r[12]), !minors);
        }
        // This page's main events, in ROWID order: the only events written since firstId.
        const page = mainEventsSince.all(firstId) as [number, number][];
        for (const [rowid, id] of page) this.firstEvent.push(rowid, id);
        if (attRange) {
          const eventOf = new Map(page);
          for (const [rowid, att] of attRange.all(last, end) as [number, number][]) await this.attachment(att, eventOf.get(rowid) ?? null, rowid);
        } else if (attJoin) {
          for (const [rowid, id] of page) for (const att of attJoin.take(rowid) ?? []) await this.attachment(att, id, rowid);
        }
        // Delivered / read events of this page, written by SQLite from the main events just inserted (they are
        // the only events from firstId on); then the rarer ones the JS side collected.
        if (minors && page.length) {
          let lastId = firstId;
          for (const [, id] of page) if (id > lastId) lastId = id;
          ctx.countEvents(Number(minors.run(firstId, lastId, firstId, lastId).changes));
        }
        for (const p of this.pendingMinors) this.emitMinor(p);
        this.pendingMinors.length = 0;
        done += taken + rows.length;
        messagesStats.bulkRows += taken; messagesStats.rowByRowRows += rows.length;
        ctx.progress(done, total);
        last = end;
      }
      // Every row must have become an event; say so loudly if the pages and the table ever disagree.
      if (done !== total) this.warn(`${SMS_DB}: ${total} message rows counted but ${done} read; some rows may be missing from the timeline`, null, 'error');
    } finally {
      if (minors) this.detachSource();
    }
  }

  /** The bulk statement, or null (and the row-by-row path for every row) when SQLite refuses it. */
  private bulkPath(mc: Set<string>, rare: string): BulkMainEvents | null {
    const recoverable = hasTable(this.db, 'chat_recoverable_message_join') && columnsOf(this.db, 'chat_recoverable_message_join').has('message_id');
    try {
      return new BulkMainEvents(this.ctx.caseFile, mc, rare, recoverable, this.fileRowId);
    } catch (e) {
      this.warn(`message rows are read one by one (the bulk statement was refused: ${(e as Error).message})`, null, 'info', null);
      return null;
    }
  }

  /**
   * Attach the working copy of sms.db to the case file so delivered/read events are written by one
   * INSERT … SELECT per page instead of one JS insert each (they are half of all events). Null (and the JS
   * path) when the copy cannot be attached.
   */
  private sqlMinors(mc: Set<string>): Database.Statement | null {
    if (!messagesTuning.sqlMinorEvents || !mc.has('guid')) return null;
    const parts: string[] = [];
    const part = (c: string, k: number, action: string, title: string) => {
      if (!mc.has(c)) return;
      parts.push(`SELECT e.id AS of_id, ${k} AS k, ${sqlMacUs(`m.${c}`)} AS us, CAST(m.${c} AS TEXT) AS raw,
        CASE WHEN m.${c} >= ${NS_THRESHOLD} THEN 'mac-ns' ELSE 'mac-s' END AS epoch, '${action}' AS action, ${title} || e.title AS title,
        e.direction, e.counterpart, e.counterpart_name, e.thread_id, e.service, e.source_file_id, e.source_rowid,
        '{"guid":' || json_quote(m.guid) || ',"of_event_id":' || e.id || '}' AS extra
        FROM main.events e JOIN ${SRC_SCHEMA}.message m ON m.ROWID = e.source_rowid
        WHERE e.id BETWEEN ? AND ? AND typeof(m.${c}) = 'integer' AND m.${c} > 0`);
    };
    part('date_delivered', 1, 'delivered', "'Delivered: '");
    part('date_read', 2, 'read', "CASE WHEN e.direction = 'outgoing' THEN 'Read by recipient: ' ELSE 'Read: ' END");
    if (parts.length !== 2) return null;
    const cf = this.ctx.caseFile;
    try {
      cf.attachSource(this.src.path, SRC_SCHEMA);
      this.attached = true;
      return cf.prepareEventsFrom(['ts_utc_us', 'ts_raw', 'ts_epoch', 'kind', 'action', 'title', 'body', 'direction', 'counterpart', 'counterpart_name', 'thread_id', 'service',
        'source_file_id', 'source_table', 'source_rowid', 'extractor', 'extra_json'],
      `SELECT us, raw, epoch, 'message', action, title, NULL, direction, counterpart, counterpart_name, thread_id, service, source_file_id, 'message', source_rowid, '${ID}', extra
        FROM (${parts.join(' UNION ALL ')})`);
    } catch (e) {
      this.warn(`delivered/read events are written one by one (the working copy could not be attached: ${(e as Error).message})`, null, 'info', null);
      this.detachSource();
      return null;
    }
  }

  private detachSource(): void {
    if (!this.attached) return;
    this.ctx.caseFile.detachSource(SRC_SCHEMA);
    this.attached = false;
  }

  private emitMinor(p: PendingMinor): void {
    const b = p.base;
    this.ctx.emit({
      ts: p.ts, kind: 'message', action: p.action, title: `${p.label}: ${b.title}`, body: null, direction: b.direction, counterpart: b.counterpart,
      counterpartName: b.counterpartName, threadId: b.threadId, service: b.service, sourceFileId: this.fileRowId, sourceTable: 'message', sourceRowid: b.rowid,
      extraJson: `{"guid":${JSON.stringify(b.guid)},"of_event_id":${b.mainId}${p.more ? `,${JSON.stringify(p.more).slice(1)}` : '}'}`,
    });
  }

  /** Emit the main event of one message row (others are queued); returns the main event's id. */
  private message(r: unknown[], rowid: number, chatIds: number[] | null, jsMinors: boolean): number {
    const { ctx } = this;
    const guid = str(r[1]);
    const fromMe = int(r[8]) === 1;
    const direction: Direction = fromMe ? 'outgoing' : 'incoming';
    const handleId = int(r[4]);
    const handle = handleId ? this.handles.get(handleId) : undefined;
    const detail = r[11] || jsMinors ? (this.stmtDetail!.get(rowid) as Record<string, unknown> | undefined) : undefined;
    const extra: Record<string, unknown> = { guid, is_from_me: fromMe ? 1 : 0, handle_id: handleId };

    // Thread and counterpart.
    let chat: ChatInfo | undefined;
    if (chatIds) {
      for (const id of chatIds) {
        const c = this.chats.get(id);
        if (c) { chat ??= c; } else this.warn(`message ROWID ${rowid} belongs to chat ROWID ${id}, which is not in the chat table`, rowid);
      }
      extra.chat_id = chatIds.length === 1 ? chatIds[0] : chatIds;
    }
    if (handleId && !handle) {
      extra.handle_missing = true;
      this.warn(`message ROWID ${rowid} refers to handle ROWID ${handleId}, which is not in the handle table: sender/recipient unknown`, rowid);
    }
    const service = str(r[5]) || chat?.service || handle?.service || null;
    let threadId: number;
    if (chat) threadId = chat.threadId;
    else {
      const reason = chatIds ? 'the chat row is missing' : 'no chat_message_join row';
      if (!chatIds) this.warn(`message ROWID ${rowid} is in no chat (no chat_message_join row): filed under a conversation with its handle`, rowid, 'info');
      threadId = this.syntheticThread(handle, handleId, service, reason);
    }
    let counterpart: string | null;
    let counterpartName: string | null;
    let who: string;
    if (chat?.isGroup) {
      if (!fromMe) {
        counterpart = handle?.id ?? null; counterpartName = handle?.name ?? null;
        who = `${handle ? handle.label : handleId ? `unknown sender (handle ${handleId} missing)` : 'unknown sender'} in ${chat.label}`;
      } else {
        counterpart = chat.memberHandles ?? chat.identifier; counterpartName = chat.memberNames;
        who = chat.label;
      }
    } else {
      const h = handle ?? (chat && chat.members.length === 1 ? chat.members[0] : undefined);
      counterpart = h?.id ?? chat?.identifier ?? null;
      counterpartName = h ? h.name : counterpart ? ctx.contacts.nameFor(counterpart) : null;
      who = h?.label ?? (counterpart ? handleLabel(counterpart, counterpartName) : handleId ? `unknown (handle ${handleId} missing)` : 'unknown');
    }
    // A conversation resolved without any warning is handed to the bulk path for the rows still to come.
    if (this.bulk && chat && chatIds?.length === 1 && (!handleId || handle)) {
      this.bulk.learn(chatIds[0], handleId, fromMe, str(r[5]), { threadId, title: `${service ?? 'Message'} ${fromMe ? 'to' : 'from'} ${who}`, counterpart, counterpartName, service });
    }
    const account = str(r[9]);
    const callerId = str(r[10]);
    if (account) extra.account = account;
    if (callerId) extra.destination_caller_id = callerId;
    if (this.recentlyDeleted.has(rowid)) extra.recently_deleted = true;

    // Body: `text` when present, else the attributedBody. Both are compared when both exist.
    const body = this.body(r[2], r[3], rowid, extra);

    // The message time: converted by SQLite for plain integer values, by macAbsoluteAuto for anything else.
    const ts: Timestamp | null = detail ? this.time(detail.date, rowid, 'date')
      : r[6] !== null ? { utcUs: r[6] as number, raw: r[7] as string, epoch: (r[7] as string).length >= 12 ? 'mac-ns' : 'mac-s' } : null;
    if (!ts) this.warn(`message ROWID ${rowid} has no usable date (${String(detail ? detail.date : r[7])}); kept without a time`, rowid, 'warning');
    const svc = service ?? 'Message';

    // What the row is.
    let action = fromMe ? 'sent' : 'received';
    let title = `${svc} ${fromMe ? 'to' : 'from'} ${who}`;
    let summary: MessageSummary | null = null;
    const links: { key: string; guid: string }[] = [];
    if (detail) {
      const itemType = int(detail.item_type);
      const assocType = int(detail.associated_message_type);
      const assocGuid = str(detail.associated_message_guid);
      const tap = tapbackOf(assocType);
      const ia = itemAction(itemType);
      if (itemType) extra.item_type = itemType;
      if (assocType) extra.associated_message_type = assocType;
      if (assocGuid) {
        const a = parseAssociatedGuid(assocGuid);
        extra.associated_guid = a.guid;
        if (a.part !== null) extra.associated_part = a.part;
        links.push({ key: tap ? 'reacted_to_event_id' : 'associated_event_id', guid: a.guid });
      }
      if (tap) {
        action = tap.added ? 'reaction' : 'reaction-removed';
        const emoji = str(detail.associated_message_emoji);
        extra.reaction = tap.name;
        if (emoji) extra.emoji = emoji;
        const verb = tap.kind === 6 && emoji ? `reacted ${oneLine(emoji)} to` : tap.verb;
        title = tap.added ? `${svc} reaction ${fromMe ? 'to' : 'from'} ${who}: ${fromMe ? 'you ' : ''}${verb} a message`
          : `${svc} reaction removed ${fromMe ? 'to' : 'from'} ${who}: ${fromMe ? 'you ' : ''}no longer ${verb} a message`;
      } else if (ia) {
        action = ia;
        const other = int(detail.other_handle);
        const otherH = other ? this.handles.get(other) : undefined;
        if (other) extra.other_handle = otherH ? otherH.id : other;
        const groupTitle = str(detail.group_title);
        if (groupTitle !== null) extra.group_title = groupTitle;
        if (detail.group_action_type != null && int(detail.group_action_type)) extra.group_action_type = int(detail.group_action_type);
        const actor = fromMe ? 'you' : handle?.label ?? 'someone';
        if (ia === 'location-sharing') {
          const stopped = int(detail.share_status) === 1;
          extra.share_status = int(detail.share_status); extra.share_direction = int(detail.share_direction);
          title = `${svc} location sharing ${stopped ? 'stopped' : 'started'} (${chat?.label ?? who})`;
        } else if (itemType === 2) title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} renamed the group${groupTitle ? ` to “${oneLine(groupTitle)}”` : ''}`;
        else if (itemType === 1) title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} ${int(detail.group_action_type) === 1 ? 'removed' : 'added'} ${otherH?.label ?? (other ? `handle ${other}` : 'a member')}`;
        else if (itemType === 3) title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} changed the group (action ${int(detail.group_action_type)})`;
        else title = `${svc} ${ia.replace(/-/g, ' ')} (${fromMe ? 'you' : who}, item type ${itemType})`;
      }
      const balloon = str(detail.balloon_bundle_id);
      if (balloon) extra.balloon_bundle_id = balloon;
      const effect = str(detail.expressive_send_style_id);
      if (effect) extra.expressive_send_style_id = effect;
      const subject = str(detail.subject);
      if (subject !== null) extra.subject = subject;
      const replyTo = str(detail.thread_originator_guid);
      if (replyTo) { extra.reply_to_guid = replyTo; links.push({ key: 'reply_to_event_id', guid: replyTo }); }
      if (int(detail.is_audio_message)) extra.is_audio_message = 1;
      if (int(detail.error)) extra.error = int(detail.error);
      const blob = detail.message_summary_info;
      if (Buffer.isBuffer(blob) && blob.length) {
        try {
          summary = parseMessageSummary(blob);
          if (summary.sentByApp) extra.sent_by_app = summary.sentByApp;
        } catch (e) {
          extra.message_summary_info_error = (e as Error).message;
          extra.message_summary_info_hex = hexOf(blob);
          this.warn(`message ROWID ${rowid}: message_summary_info could not be read (${(e as Error).message}); kept as hex`, rowid, 'info');
        }
      }
    }

    // Edits and unsends.
    const edited = detail ? this.time(detail.date_edited, rowid, 'date_edited') : null;
    let retracted = detail ? this.time(detail.date_retracted, rowid, 'date_retracted') : null;
    const unsentParts = summary?.unsentParts ?? [];
    const history = summary?.editHistory ?? [];
    const unsent = !!retracted || unsentParts.length > 0;
    if (unsent && !retracted) retracted = edited;
    const wasEdited = !!edited && (history.length > 0 || !unsent);
    if (wasEdited) extra.edited = true;
    if (unsent) { extra.unsent = true; if (unsentParts.length) extra.unsent_parts = unsentParts; }
    if (history.length) {
      extra.edit_history = history;
      const firstVersion = history.find((h) => h.version === 0 && h.part === (summary!.editedParts[0] ?? 0));
      if (firstVersion && firstVersion.text !== null) extra.original_text = firstVersion.text;
    }
    if (unsent && body === null) title = `${title} (unsent)`;
    else if (wasEdited) title = `${title} (edited)`;

    // Links to other messages: resolved now when the target was already read, else after the pass.
    let later: { key: string; targetRowid: number }[] | null = null;
    for (const l of links) {
      const target = this.stmtGuid?.get(l.guid) as number | undefined;
      if (target === undefined) { extra[l.key.replace('_event_id', '_missing')] = true; continue; }
      const t = Number(target);
      const ev = this.firstEvent.get(t);
      extra[l.key.replace('_event_id', '_rowid')] = t;
      if (ev !== undefined) extra[l.key] = ev;
      else (later ??= []).push({ key: l.key, targetRowid: t });
    }

    const mainId = ctx.emit({
      ts, kind: 'message', action, title, body, direction, counterpart, counterpartName, threadId, service,
      sourceFileId: this.fileRowId, sourceTable: 'message', sourceRowid: rowid, extraJson: JSON.stringify(extra),
    });
    if (later) for (const l of later) this.deferred.push({ eventId: mainId, key: l.key, targetRowid: l.targetRowid });

    // The other times this row records, each its own event (written after the page's delivered/read ones).
    // Only rows fetched in full can have them (edits, unsends, plays… are all flagged as rare).
    if (!detail) return mainId;
    const base: MinorBase = { rowid, guid, mainId, title, direction, counterpart, counterpartName, threadId, service };
    const queue = (t: Timestamp | null, act: string, label: string, more?: Record<string, unknown>) => { if (t) this.pendingMinors.push({ base, ts: t, action: act, label, more }); };
    // Delivered / read: SQLite writes the plain-integer ones; JS the rest (REAL values), or all when not attached.
    const dl = detail.date_delivered, rd = detail.date_read;
    const tDl = this.time(dl, rowid, 'date_delivered'), tRd = this.time(rd, rowid, 'date_read');
    if (jsMinors || typeof dl !== 'bigint') queue(tDl, 'delivered', 'Delivered');
    if (jsMinors || typeof rd !== 'bigint') queue(tRd, 'read', fromMe ? 'Read by recipient' : 'Read');
    queue(this.time(detail.date_played, rowid, 'date_played'), 'played', 'Played');
    if (wasEdited) queue(edited, 'edited', 'Edited', history.length ? { versions: history.length, current_text: body } : undefined);
    if (unsent) queue(retracted, 'unsent', 'Unsent', unsentParts.length ? { unsent_parts: unsentParts } : undefined);
    queue(this.time(detail.date_recovered, rowid, 'date_recovered'), 'recovered', 'Recovered from Recently Deleted');
    return mainId;
  }

  /** The message text (messages/body.ts); fields go into `extra`, problems become warnings. */
  private body(textValue: unknown, blobValue: unknown, rowid: number, extra: Record<string, unknown>): string | null {
    const { body, fields, problem } = readBody(textValue, blobValue);
    Object.assign(extra, fields);
    if (problem?.kind === 'undecodable') {
      this.warn(body === null
        ? `message ROWID ${rowid}: attributedBody could not be decoded (${problem.detail}) and text is empty; the raw bytes are kept as hex`
        : `message ROWID ${rowid}: attributedBody could not be decoded (${problem.detail}); the text column is used`, rowid, body === null ? 'warning' : 'info');
    } else if (problem) this.warn(`message ROWID ${rowid}: attributedBody holds a ${problem.detail}, not a blob`, rowid, 'info');
    return body;
  }

  private time(v: unknown, rowid: number, column: string): Timestamp | null {
    if (v === null || v === undefined || v === 0n || v === 0) return null;
    const t = macAbsoluteAuto(v);
    if (!t && badTime(v)) this.warn(`message ROWID ${rowid}: ${column} holds an invalid time (${String(v).slice(0, 40)}); ignored`, rowid, 'warning');
    return t;
  }

  // ---- links between messages (tapbacks, replies) ------------------------------------------------------

  /** Links whose target message came later in ROWID order: written once every message has its event. */
  private resolveDeferred(): void {
    for (const d of this.deferred) {
      const ev = this.firstEvent.get(d.targetRowid);
      if (ev !== undefined) this.ctx.caseFile.linkEvent(d.eventId, d.key, ev);
    }
  }

  // ---- attachments -------------------------------------------------------------------------------------

  private async attachment(attRowid: number, eventId: number | null, messageRowid: number | null): Promise<void> {
    const { ctx } = this;
    const a = this.stmtAttachment?.get(attRowid) as Record<string, unknown> | undefined;
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
      guid: str(a.guid), message_rowid: messageRowid, created: isoFromUs(macAbsoluteAuto(a.created_date)?.utcUs),
      transfer_state: a.transfer_state == null ? null : Number(a.transfer_state), is_outgoing: a.is_outgoing == null ? null : Number(a.is_outgoing),
    };
    if (int(a.is_sticker)) extra.is_sticker = 1;
    if (int(a.hide_attachment)) extra.hide_attachment = 1;
    if (!loc.ok) {
      status = filename ? 'outside-attachments' : 'no-path';
      extra.reason = loc.reason;
      this.warn(`attachment ROWID ${attRowid}${messageRowid !== null ? ` (message ROWID ${messageRowid})` : ''}: ${loc.reason}${filename ? ` — ${JSON.stringify(filename.slice(0, 300))}` : ''}; not looked up in the backup`,
        attRowid, loc.hostile ? 'warning' : 'info', 'attachment');
    } else {
      extra.domain = loc.domain;
      extra.relative_path = loc.relativePath;
      const cached = this.attachmentCache.get(attRowid);
      const entry = ctx.backup.get(loc.domain, loc.relativePath);
      if (cached !== undefined) {
        const f = ctx.caseFile.fileRow(cached)!;
        fileRowId = f.id; status = f.status; sha256 = f.sha256; size = f.size;
      } else if (!entry) {
        status = 'missing';
        fileRowId = ctx.caseFile.recordFile({ domain: loc.domain, relativePath: loc.relativePath, fileId: fileIdFor(loc.domain, loc.relativePath), status: 'missing', readBy: ID, note: 'attachment file not listed in Manifest.db' });
        this.warn(`attachment ROWID ${attRowid}: ${loc.domain}/${loc.relativePath} is not in this backup (recorded as missing)`, attRowid, 'info', 'attachment');
      } else if (entry.flags !== 1) {
        status = entry.flags === 2 ? 'directory' : 'not-a-file';
        fileRowId = ctx.caseFile.recordFile({ domain: loc.domain, relativePath: loc.relativePath, fileId: entry.fileID, flags: entry.flags, status: 'listed-only', readBy: ID, note: entry.flags === 2 ? 'a folder (bundle attachment)' : 'not a regular file' });
      } else {
        const opened = await ctx.openEntry(entry);
        if (opened) {
          fileRowId = opened.fileRowId; sha256 = opened.sha256; size = opened.size; status = 'ok';
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
      if (fileRowId !== null) this.attachmentCache.set(attRowid, fileRowId);
    }
    const totalBytes = a.total_bytes == null ? null : Number(a.total_bytes);
    if (size !== null && totalBytes !== null && totalBytes > 0 && size !== totalBytes) extra.size_on_disk = size;
    let mime = str(a.mime_type);
    if (!mime) { mime = mimeFromName(transferName ?? filename); if (mime) extra.mime_type_from = 'extension'; }
    const attachmentId = ctx.caseFile.addAttachment({
      eventId, extractor: ID, sourceFileId: this.fileRowId, sourceTable: 'attachment', sourceRowid: attRowid, fileId: fileRowId,
      path: filename, transferName, mimeType: mime, uti: str(a.uti), totalBytes, status, sha256, extra,
    });
    const prior = thumb ? undefined : this.thumbnailCache.get(attRowid);
    try {
      if (thumb) this.thumbnailCache.set(attRowid, addThumbnail(ctx.caseFile, { attachmentId, ...thumb }));
      else if (prior !== undefined) {
        ctx.caseFile.copyThumbnail(prior, attachmentId);
      }
    } catch (e) {
      this.warn(`attachment ROWID ${attRowid}: thumbnail not stored (${(e as Error).message})`, attRowid, 'info', 'attachment');
    }
  }

  /** Attachment rows that no existing message links to: still evidence, recorded without an event. */
  private async orphanAttachments(): Promise<void> {
    if (!this.stmtAttachment) return;
    const hasJoin = hasTable(this.db, 'message_attachment_join');
    const linked = 'SELECT j.attachment_id FROM message_attachment_join j JOIN message m ON m.ROWID = j.message_id WHERE j.attachment_id IS NOT NULL';
    const ids = this.db.prepare(`SELECT ROWID FROM attachment ${hasJoin ? `WHERE ROWID NOT IN (${linked})` : ''} ORDER BY ROWID`)
      .pluck().safeIntegers(false).all() as number[];
    if (ids.length) this.warn(`${ids.length} attachment row(s) belong to no message in the message table (deleted messages?): recorded without an event`, null, 'info', 'attachment');
    for (const id of ids) await this.attachment(Number(id), null, null);
  }
}
