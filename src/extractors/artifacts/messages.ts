// Messages: sms.db (SMS, iMessage, RCS) — docs/ios-formats.md §3. One schema-agnostic pass: every query is built
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
import { MESSAGE_EVENT_COLUMNS } from '../../timeline/caseFile.js';
import type Database from 'better-sqlite3';
import { macAbsoluteAuto, type Timestamp } from '../../formats/appleTime.js';
import { readBody } from '../messages/body.js';
import { BulkMainEvents, sqlMacUs, sqlPlausibleMac, NS_THRESHOLD, SRC_SCHEMA, CLASSIFIED_INT, CLASSIFIED_TEXT, CLASSIFIED_BLOB } from '../messages/bulk.js';
import type { Direction } from '../../timeline/caseFile.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { isIos5Sms, readIos5Messages } from '../messages/ios5.js';
import { Conversations, messageTitle } from '../messages/conversations.js';
import { classifyMessage, type MessageDetail } from '../messages/classify.js';
import { AttachmentRecorder } from '../messages/attachments.js';

const ID = 'messages';
const SMS_DB = 'Library/SMS/sms.db';

/** Growable pair of sorted number columns (message id → value), searched by bisection. */
class SortedPairs {
  keys: Float64Array;
  vals: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.keys = new Float64Array(Math.max(16, capacity));
    this.vals = new Float64Array(Math.max(16, capacity));
  }
  push(k: number, v: number): void {
    if (this.length === this.keys.length) {
      const nk = new Float64Array(this.keys.length * 2);
      nk.set(this.keys);
      this.keys = nk;
      const nv = new Float64Array(this.vals.length * 2);
      nv.set(this.vals);
      this.vals = nv;
    }
    this.keys[this.length] = k;
    this.vals[this.length++] = v;
  }
  /** Index of the first entry with key >= k. */
  lowerBound(k: number): number {
    let lo = 0,
      hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < k) lo = mid + 1;
      else hi = mid;
    }
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
  const st = db
    .prepare(`SELECT message_id, ${other} FROM ${table} WHERE message_id IS NOT NULL AND ${other} IS NOT NULL ORDER BY message_id, ${other}`)
    .raw(true)
    .safeIntegers(false);
  for (const r of st.iterate() as Iterable<[number, number]>) pairs.push(Number(r[0]), Number(r[1]));
  return pairs;
}

/** Switches for tests and the bench: the row-by-row paths are the fallback when the working copy cannot be attached;
 *  classifyInSql false sends every rare row (summary info, item types, balloons) row by row, as before. */
export const messagesTuning = { sqlMinorEvents: true, sqlBulk: true, pageRows: 4000, classifyInSql: true };
/** How the last run's message rows were written (for tests and the bench). */
export const messagesStats = { bulkRows: 0, rowByRowRows: 0 };

interface MinorBase {
  rowid: number;
  guid: string | null;
  mainId: number;
  title: string;
  direction: Direction;
  counterpart: string | null;
  counterpartName: string | null;
  threadId: number;
  service: string | null;
}
interface PendingMinor {
  base: MinorBase;
  ts: Timestamp;
  action: string;
  label: string;
  more?: Record<string, unknown>;
}

/** group_concat of ids → sorted numbers (null when none). */
function idList(v: unknown): number[] | null {
  if (v === null || v === undefined) return null;
  const s = String(v);
  if (!s.includes(',')) return [Number(s)];
  return s
    .split(',')
    .map(Number)
    .sort((a, b) => a - b);
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

/** The columns every message row is read with (the hot query), by name. */
interface HotRow {
  rowid: number;
  guid: string | null;
  text: unknown;
  attributedBody: unknown;
  handleId: number;
  service: string | null;
  /** µs since 1970 when SQLite could convert the date (a plain positive integer), and the raw value as text. */
  dateUs: number | null;
  dateRaw: string | null;
  fromMe: boolean;
  account: string | null;
  callerId: string | null;
  /** The row needs its full columns (tapback, edit, group event, odd types…). */
  rare: boolean;
  /** chat ROWIDs from chat_message_join (group_concat), when the join is indexed. */
  chats: unknown;
}

/** The hot query's column order, in one place: hotSql() selects exactly these. */
function hotRow(r: unknown[]): HotRow {
  return {
    rowid: Number(r[0]),
    guid: str(r[1]),
    text: r[2],
    attributedBody: r[3],
    handleId: int(r[4]),
    service: str(r[5]),
    dateUs: r[6] as number | null,
    dateRaw: r[7] as string | null,
    fromMe: int(r[8]) === 1,
    account: str(r[9]),
    callerId: str(r[10]),
    rare: !!r[11],
    chats: r[12],
  };
}

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
  reads: [{ domain: 'MediaDomain', path: 'Library/SMS/Attachments/**' }],
  after: ['contacts'],
  kinds: [
    {
      kind: 'message',
      label: 'Messages',
      color: '#2f6fb3',
      view: 'conversation',
      dataType: 'ios:messages:message',
      actions: {
        sent: 'Message Sent',
        received: 'Message Received',
        read: 'Message Read',
        delivered: 'Message Delivered',
        edited: 'Message Edited',
        unsent: 'Message Unsent',
        reaction: 'Reaction',
        'reaction-removed': 'Reaction Removed',
        played: 'Message Played',
        deleted: 'Message Deleted',
        'earlier-version': 'Earlier Message Version Recovered',
        'records-missing': 'Messages Missing',
      },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase('HomeDomain', SMS_DB);
    if (!src) return;
    // iOS 5: SMS and iMessage rows in one table, two clocks; read on their own (messages/ios5.ts).
    if (hasTable(src.db, 'message') && isIos5Sms(columnsOf(src.db, 'message'))) {
      readIos5Messages(ctx, src);
      return;
    }
    await new MessageReader(ctx, src).run();
  },
};

class MessageReader {
  private readonly db: Database.Database;
  private readonly fileRowId: number;
  private readonly conversations: Conversations;
  private readonly attachments: AttachmentRecorder;
  /** message ROWID → id of its first (main) event. */
  private readonly firstEvent = new SortedPairs(1 << 14);
  /** Links to messages not yet seen (a tapback stored before the message it reacts to). */
  private readonly deferred: { eventId: number; key: string; targetRowid: number }[] = [];
  private recentlyDeleted = new Set<number>();
  private readonly pendingMinors: PendingMinor[] = [];
  private attached = false;
  private bulk: BulkMainEvents | null = null;
  private stmtGuid: Database.Statement | null = null;
  private stmtDetail: Database.Statement | null = null;

  constructor(
    private readonly ctx: ExtractorContext,
    private readonly src: OpenedDatabase,
  ) {
    this.db = src.db;
    this.fileRowId = src.fileRowId;
    const warn = this.warn.bind(this);
    this.conversations = new Conversations(ctx, this.db, ID, this.fileRowId, warn);
    this.attachments = new AttachmentRecorder(ctx, this.db, ID, this.fileRowId, warn);
  }

  private warn(message: string, rowid: number | null, severity: 'info' | 'warning' | 'error' = 'warning', table: string | null = 'message'): void {
    this.ctx.warn(message, { fileRowId: this.fileRowId, table, rowid, severity });
  }

  async run(): Promise<void> {
    const { db } = this;
    if (!hasTable(db, 'message')) throw new ArtifactError(`${SMS_DB} has no message table (unknown schema)`);
    const mc = columnsOf(db, 'message');
    for (const need of ['guid']) if (!mc.has(need)) throw new ArtifactError(`${SMS_DB}: message table has no ${need} column (unknown schema)`);
    this.conversations.load(SMS_DB);
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
    await this.readMessages(mc);
    this.resolveDeferred();
    await this.attachments.orphans();
    this.attachments.summarizeMissing();
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
    // `hard`: the part of that flag the bulk path cannot take (links, edits, unsends, plays, odd times); the
    // rest (item types, summary info, balloons… messages/bulk.ts CLASSIFIED_*) it classifies through SQL functions.
    const rare: string[] = [];
    const hard: string[] = [];
    const classified = new Set<string>([...CLASSIFIED_INT, ...CLASSIFIED_TEXT, CLASSIFIED_BLOB]);
    const flag = (c: string, sql: string) => {
      rare.push(sql);
      if (!classified.has(c)) hard.push(sql);
    };
    const nz = (c: string) => {
      if (mc.has(c)) flag(c, `COALESCE(${c}, 0) != 0`);
    };
    const nn = (c: string) => {
      if (mc.has(c)) flag(c, `${c} IS NOT NULL`);
    };
    [
      'item_type',
      'associated_message_type',
      'date_played',
      'date_edited',
      'date_retracted',
      'date_recovered',
      'other_handle',
      'is_audio_message',
      'error',
      'group_action_type',
      'share_status',
    ].forEach(nz);
    ['associated_message_guid', 'message_summary_info', 'balloon_bundle_id', 'subject', 'group_title', 'expressive_send_style_id', 'thread_originator_guid'].forEach(nn);
    // Times that are not a non-negative integer (a REAL, text, a negative value) take the careful path too.
    // So do integer times past 2100 (a doctored or corrupt value): the careful path warns and keeps the row without a time.
    for (const c of ['date', 'date_read', 'date_delivered']) if (mc.has(c)) flag(c, `(${c} IS NOT NULL AND (typeof(${c}) != 'integer' OR ${c} < 0 OR NOT ${sqlPlausibleMac(c)}))`);
    const rareSql = rare.length ? rare.join(' OR ') : '0';
    const hardSql = hard.length ? hard.join(' OR ') : '0';
    // Integer times are converted by SQLite exactly as macAbsoluteAuto does (per value: >= 1e11 is ns), so the
    // hot rows need no BigInt: µs since 1970 fit a double, and the raw value comes as text.
    const hotSql = (schema: string, rest: string) => `SELECT ROWID, ${col('guid')}, ${col('text')}, ${col('attributedBody')}, ${col('handle_id')}, ${col('service')},
      ${mc.has('date') ? `${sqlMacUs('date')}, CASE WHEN typeof(date) = 'integer' AND date > 0 THEN CAST(date AS TEXT) END` : 'NULL, NULL'},
      ${col('is_from_me')}, ${col('account')}, ${col('destination_caller_id')}, ${rareSql},
      ${chatIndexed ? `(SELECT group_concat(chat_id) FROM ${schema}chat_message_join WHERE message_id = message.ROWID)` : 'NULL'}
      FROM ${schema}message WHERE ROWID > ? AND ROWID <= ?${rest} ORDER BY ROWID`;
    const detailCols = [
      'date',
      'date_read',
      'date_delivered',
      'item_type',
      'other_handle',
      'group_title',
      'group_action_type',
      'share_status',
      'share_direction',
      'associated_message_guid',
      'associated_message_type',
      'associated_message_emoji',
      'associated_message_range_location',
      'associated_message_range_length',
      'balloon_bundle_id',
      'expressive_send_style_id',
      'thread_originator_guid',
      'thread_originator_part',
      'subject',
      'date_played',
      'date_edited',
      'date_retracted',
      'date_recovered',
      'message_summary_info',
      'is_audio_message',
      'is_played',
      'error',
      'part_count',
    ]
      .map((c) => colOrNull(mc, c))
      .join(', ');
    this.stmtDetail = db.prepare(`SELECT ${detailCols} FROM message WHERE ROWID = ?`).safeIntegers(true);

    const chatJoin = chatIndexed ? null : new JoinCursor(loadJoin(db, 'chat_message_join', 'chat_id'));
    const attJoin = attIndexed ? null : new JoinCursor(loadJoin(db, 'message_attachment_join', 'attachment_id'));
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
      this.bulk = minors && chatIndexed && !bigRowids && mc.has('date') && messagesTuning.sqlBulk ? this.bulkPath(mc, messagesTuning.classifyInSql ? hardSql : rareSql) : null;
      const bulkQuery = !!this.bulk;
      const hot = bulkQuery
        ? cf.db
            .prepare(hotSql(`${SRC_SCHEMA}.`, ' AND ROWID NOT IN (SELECT source_rowid FROM main.events WHERE id >= ? AND source_rowid IS NOT NULL)'))
            .raw(true)
            .safeIntegers(false)
        : db.prepare(hotSql('', '')).raw(true).safeIntegers(bigRowids);
      let last: number | bigint = -(1n << 63n);
      messagesStats.bulkRows = 0;
      messagesStats.rowByRowRows = 0;
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
          const row = hotRow(r);
          this.message(row, chatJoin ? chatJoin.take(row.rowid) : idList(row.chats), !minors);
        }
        // This page's main events, in ROWID order: the only events written since firstId.
        const page = mainEventsSince.all(firstId) as [number, number][];
        for (const [rowid, id] of page) this.firstEvent.push(rowid, id);
        if (attIndexed) await this.attachments.recordMessages(last, end, new Map(page));
        else if (attJoin) {
          for (const [rowid, id] of page) for (const att of attJoin.take(rowid) ?? []) await this.attachments.record(att, id, rowid);
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
        messagesStats.bulkRows += taken;
        messagesStats.rowByRowRows += rows.length;
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
  private bulkPath(mc: Set<string>, hard: string): BulkMainEvents | null {
    const recoverable = hasTable(this.db, 'chat_recoverable_message_join') && columnsOf(this.db, 'chat_recoverable_message_join').has('message_id');
    try {
      return new BulkMainEvents(this.ctx.caseFile, mc, hard, recoverable, this.fileRowId, this.conversations.handles);
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
      return cf.prepareEventsFrom(
        MESSAGE_EVENT_COLUMNS,
        `SELECT us, raw, epoch, 'message', action, title, NULL, direction, counterpart, counterpart_name, thread_id, service, source_file_id, 'message', source_rowid, '${ID}', extra
        FROM (${parts.join(' UNION ALL ')})`,
      );
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
      ts: p.ts,
      kind: 'message',
      action: p.action,
      title: `${p.label}: ${b.title}`,
      body: null,
      direction: b.direction,
      counterpart: b.counterpart,
      counterpartName: b.counterpartName,
      threadId: b.threadId,
      service: b.service,
      sourceFileId: this.fileRowId,
      sourceTable: 'message',
      sourceRowid: b.rowid,
      extraJson: `{"guid":${JSON.stringify(b.guid)},"of_event_id":${b.mainId}${p.more ? `,${JSON.stringify(p.more).slice(1)}` : '}'}`,
    });
  }

  /** Emit the main event of one message row (others are queued); returns the main event's id. */
  private message(row: HotRow, chatIds: number[] | null, jsMinors: boolean): number {
    const { ctx } = this;
    const { rowid, guid, fromMe, handleId } = row;
    const direction: Direction = fromMe ? 'outgoing' : 'incoming';
    const detail = row.rare || jsMinors ? (this.stmtDetail!.get(rowid) as MessageDetail | undefined) : undefined;
    const extra: Record<string, unknown> = { guid, is_from_me: fromMe ? 1 : 0, handle_id: handleId };

    // Thread and counterpart. A conversation resolved without any warning is handed to the bulk path for the
    // rows still to come.
    const conv = this.conversations.resolve(rowid, chatIds, handleId, direction, row.service, extra);
    const { chat, handle, threadId, service, counterpart, counterpartName, who } = conv;
    if (this.bulk && conv.clean) {
      this.bulk.learn(chatIds![0]!, handleId, fromMe, row.service, {
        threadId,
        title: messageTitle(service, fromMe, who),
        counterpart,
        counterpartName,
        service,
        who,
        chat,
        handle,
      });
    }
    if (row.account) extra.account = row.account;
    if (row.callerId) extra.destination_caller_id = row.callerId;
    if (this.recentlyDeleted.has(rowid)) extra.recently_deleted = true;

    // Body: `text` when present, else the attributedBody. Both are compared when both exist.
    const body = this.body(row.text, row.attributedBody, rowid, extra);

    // The message time: converted by SQLite for plain integer values, by macAbsoluteAuto for anything else.
    const ts: Timestamp | null = detail
      ? this.time(detail.date, rowid, 'date')
      : row.dateUs !== null
        ? { utcUs: row.dateUs, raw: row.dateRaw!, epoch: row.dateRaw!.length >= 12 ? 'mac-ns' : 'mac-s' }
        : null;
    if (!ts) this.warn(`message ROWID ${rowid} has no usable date (${String(detail ? detail.date : row.dateRaw)}); kept without a time`, rowid, 'warning');

    // What the row is.
    const what = classifyMessage(detail, { fromMe, service: service ?? 'Message', who, chat, handle, handles: this.conversations.handles }, rowid, extra);
    for (const n of what.notes) this.warn(n, rowid, 'info');
    const { action, summary, links } = what;
    let title = what.title;

    // Edits and unsends.
    const edited = detail ? this.time(detail.date_edited, rowid, 'date_edited') : null;
    let retracted = detail ? this.time(detail.date_retracted, rowid, 'date_retracted') : null;
    const unsentParts = summary?.unsentParts ?? [];
    const history = summary?.editHistory ?? [];
    const unsent = !!retracted || unsentParts.length > 0;
    if (unsent && !retracted) retracted = edited;
    const wasEdited = !!edited && (history.length > 0 || !unsent);
    if (wasEdited) extra.edited = true;
    if (unsent) {
      extra.unsent = true;
      if (unsentParts.length) extra.unsent_parts = unsentParts;
    }
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
      if (target === undefined) {
        extra[l.key.replace('_event_id', '_missing')] = true;
        continue;
      }
      const t = Number(target);
      const ev = this.firstEvent.get(t);
      extra[l.key.replace('_event_id', '_rowid')] = t;
      if (ev !== undefined) extra[l.key] = ev;
      else (later ??= []).push({ key: l.key, targetRowid: t });
    }

    const mainId = ctx.emit({
      ts,
      kind: 'message',
      action,
      title,
      body,
      direction,
      counterpart,
      counterpartName,
      threadId,
      service,
      sourceFileId: this.fileRowId,
      sourceTable: 'message',
      sourceRowid: rowid,
      extraJson: JSON.stringify(extra),
    });
    if (later) for (const l of later) this.deferred.push({ eventId: mainId, key: l.key, targetRowid: l.targetRowid });

    // The other times this row records, each its own event (written after the page's delivered/read ones).
    // Only rows fetched in full can have them (edits, unsends, plays… are all flagged as rare).
    if (!detail) return mainId;
    const base: MinorBase = { rowid, guid, mainId, title, direction, counterpart, counterpartName, threadId, service };
    const queue = (t: Timestamp | null, act: string, label: string, more?: Record<string, unknown>) => {
      if (t) this.pendingMinors.push({ base, ts: t, action: act, label, more });
    };
    // Delivered / read: SQLite writes the plain-integer ones; JS the rest (REAL values), or all when not attached.
    const dl = detail.date_delivered,
      rd = detail.date_read;
    const tDl = this.time(dl, rowid, 'date_delivered'),
      tRd = this.time(rd, rowid, 'date_read');
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
      this.warn(
        body === null
          ? `message ROWID ${rowid}: attributedBody could not be decoded (${problem.detail}) and text is empty; the raw bytes are kept as hex`
          : `message ROWID ${rowid}: attributedBody could not be decoded (${problem.detail}); the text column is used`,
        rowid,
        body === null ? 'warning' : 'info',
      );
    } else if (problem) this.warn(`message ROWID ${rowid}: attributedBody holds a ${problem.detail}, not a blob`, rowid, 'info');
    return body;
  }

  private time(v: unknown, rowid: number, column: string): Timestamp | null {
    if (v === null || v === undefined || v === 0n || v === 0) return null;
    const t = macAbsoluteAuto(v);
    if (!t && badTime(v)) this.warn(`message ROWID ${rowid}: ${column} holds an invalid time (${String(v).slice(0, 40)}); ignored`, rowid, 'warning');
    else if (t?.invalid) this.warn(`message ROWID ${rowid}: ${column} ${t.invalid}; kept without a time`, rowid, 'warning');
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
}
