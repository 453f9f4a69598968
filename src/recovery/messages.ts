// Messages- and calls-specific deletion evidence, as pure functions the extractors call on their opened working copy:
// iOS 16+ "Recently Deleted", the deleted-GUID tables, ROWID / Z_PK gaps, and the mapping of a recovered `message` or
// `ZCALLRECORD` record to the fields an event needs.
import type Database from 'better-sqlite3';
import { hasTable, columnsOf, quoteIdent } from '../sqlite.js';
import { macAbsoluteAuto, macSeconds, type Timestamp } from '../formats/appleTime.js';
import { decodeAttributedBody } from '../formats/typedstream.js';
import type { RecoveredRecord } from './types.js';
import type { SqlValue } from '../formats/sqliteFile.js';

type Raw = number | bigint | null;

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  return Number.isFinite(n) ? n : null;
}
function raw(v: unknown): Raw {
  return typeof v === 'number' || typeof v === 'bigint' ? v : null;
}

// ------------------------------------------------------------------------------------------------ Recently Deleted

export interface RecentlyDeletedPart {
  partIndex: number | null;
  deleteDate: Raw;
  partText: Buffer | null;
}
export interface RecentlyDeletedMessage {
  chatId: number | null;
  messageId: number;
  /** Mac absolute time as stored (nanoseconds on iOS 16+). */
  deleteDate: Raw;
  /** From chat_recoverable_message_join (the whole message) or only from recoverable_message_part (some parts). */
  from: 'chat_recoverable_message_join' | 'recoverable_message_part';
  parts: RecentlyDeletedPart[];
  /** The message row itself is still in `message` (it stays there until Recently Deleted is purged). */
  messagePresent: boolean;
}

/**
 * iOS 16+ "Recently Deleted": `chat_recoverable_message_join (chat_id, message_id, delete_date, ck_sync_state)` lists
 * whole messages moved out of their chat; `recoverable_message_part (chat_id, message_id, part_index, delete_date,
 * part_text, ck_sync_state)` keeps deleted parts. Column sets are read with PRAGMA table_info, so older or newer
 * variants work. Returns [] when neither table exists.
 */
export function recentlyDeleted(db: Database.Database): RecentlyDeletedMessage[] {
  const out = new Map<string, RecentlyDeletedMessage>();
  // One lookup per listed message, not a set of every ROWID (a million of them on a grown phone).
  const lookup = hasTable(db, 'message') ? db.prepare('SELECT 1 FROM message WHERE ROWID = ?').pluck() : null;
  const present = { has: (id: number) => !!lookup?.get(id) };
  if (hasTable(db, 'chat_recoverable_message_join')) {
    const cols = columnsOf(db, 'chat_recoverable_message_join');
    const sel = ['chat_id', 'message_id', 'delete_date'].map((c) => (cols.has(c) ? quoteIdent(c) : `NULL AS ${c}`)).join(', ');
    for (const r of db.prepare(`SELECT ${sel} FROM chat_recoverable_message_join ORDER BY message_id`).all() as Record<string, unknown>[]) {
      const id = num(r.message_id);
      if (id === null) continue;
      out.set(`${num(r.chat_id)}:${id}`, {
        chatId: num(r.chat_id),
        messageId: id,
        deleteDate: raw(r.delete_date),
        from: 'chat_recoverable_message_join',
        parts: [],
        messagePresent: present.has(id),
      });
    }
  }
  if (hasTable(db, 'recoverable_message_part')) {
    const cols = columnsOf(db, 'recoverable_message_part');
    const sel = ['chat_id', 'message_id', 'part_index', 'delete_date', 'part_text'].map((c) => (cols.has(c) ? quoteIdent(c) : `NULL AS ${c}`)).join(', ');
    for (const r of db.prepare(`SELECT ${sel} FROM recoverable_message_part ORDER BY message_id, part_index`).all() as Record<string, unknown>[]) {
      const id = num(r.message_id);
      if (id === null) continue;
      const key = `${num(r.chat_id)}:${id}`;
      let m = out.get(key);
      if (!m)
        out.set(key, (m = { chatId: num(r.chat_id), messageId: id, deleteDate: raw(r.delete_date), from: 'recoverable_message_part', parts: [], messagePresent: present.has(id) }));
      const t = r.part_text;
      m.parts.push({ partIndex: num(r.part_index), deleteDate: raw(r.delete_date), partText: Buffer.isBuffer(t) ? t : typeof t === 'string' ? Buffer.from(t, 'utf8') : null });
    }
  }
  return [...out.values()];
}

// ------------------------------------------------------------------------------------------------ deleted GUIDs

export type DeletedGuidTable = 'deleted_messages' | 'sync_deleted_messages' | 'sync_deleted_chats' | 'sync_deleted_attachments';
export interface DeletedGuid {
  table: DeletedGuidTable;
  rowid: number;
  guid: string | null;
  recordId: string | null;
  timestamp: Raw;
}

/** Rows of the GUID tables Messages keeps for deleted messages, chats and attachments (whichever exist). */
export function deletedGuids(db: Database.Database): DeletedGuid[] {
  const out: DeletedGuid[] = [];
  for (const table of ['deleted_messages', 'sync_deleted_messages', 'sync_deleted_chats', 'sync_deleted_attachments'] as DeletedGuidTable[]) {
    if (!hasTable(db, table)) continue;
    const cols = columnsOf(db, table);
    const sel = ['guid', 'recordID', 'timestamp'].map((c) => (cols.has(c) ? quoteIdent(c) : `NULL AS ${c}`)).join(', ');
    for (const r of db.prepare(`SELECT ROWID AS rowid_, ${sel} FROM ${quoteIdent(table)} ORDER BY ROWID`).all() as Record<string, unknown>[]) {
      out.push({
        table,
        rowid: num(r.rowid_)!,
        guid: r.guid == null ? null : String(r.guid),
        recordId: r.recordID == null ? null : String(r.recordID),
        timestamp: raw(r.timestamp),
      });
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ gaps

export interface RowidGap {
  table: string;
  /** First and last missing id. */
  from: number;
  to: number;
  count: number;
  /** The live rows around the gap (null at the start or the end) and their times as stored. */
  before: { rowid: number; time: Raw } | null;
  after: { rowid: number; time: Raw } | null;
  /** Recovered records of this table whose rowid falls inside the gap. */
  recovered: number;
}

/**
 * Gaps in a sequence of live ids (sorted ascending) up to `max` (sqlite_sequence / Z_MAX; null = the highest live id).
 * Ids start at 1. One gap record per run of missing ids.
 */
export function findRowidGaps(table: string, live: Iterable<{ rowid: number; time: Raw }>, max: number | null, recovered: (number | bigint | null)[] = []): RowidGap[] {
  const rec = recovered
    .filter((x): x is number | bigint => x !== null)
    .map(Number)
    .sort((a, b) => a - b);
  const countIn = (a: number, b: number) => {
    let n = 0;
    for (const r of rec) if (r >= a && r <= b) n++;
    return n;
  };
  const gaps: RowidGap[] = [];
  let prev: { rowid: number; time: Raw } | null = null;
  for (const row of live) {
    const from = prev ? prev.rowid + 1 : 1;
    if (row.rowid > from) gaps.push({ table, from, to: row.rowid - 1, count: row.rowid - from, before: prev, after: row, recovered: countIn(from, row.rowid - 1) });
    prev = row;
  }
  const top = max ?? prev?.rowid ?? 0;
  const from = prev ? prev.rowid + 1 : 1;
  if (top >= from) gaps.push({ table, from, to: top, count: top - from + 1, before: prev, after: null, recovered: countIn(from, top) });
  return gaps;
}

export interface GapReport {
  table: string;
  maxId: number | null;
  maxFrom: 'sqlite_sequence' | 'Z_PRIMARYKEY' | 'live';
  liveCount: number;
  missing: number;
  gaps: RowidGap[];
}

/**
 * The live ids and times of a table, streamed (a million rows held as objects took 500 MB), with how many there
 * were and the last one once walked.
 */
function liveIds(db: Database.Database, sql: string): Iterable<{ rowid: number; time: Raw }> & { count: number; last: { rowid: number; time: Raw } | null } {
  const out = {
    count: 0,
    last: null as { rowid: number; time: Raw } | null,
    *[Symbol.iterator]() {
      for (const x of db.prepare(sql).raw().iterate() as Iterable<unknown[]>) {
        const row = { rowid: num(x[0])!, time: raw(x[1]) };
        out.count++;
        out.last = row;
        yield row;
      }
    },
  };
  return out;
}

/** message ROWIDs against sqlite_sequence. `recovered` marks how many missing ids came back from recovery. */
export function messageRowidGaps(db: Database.Database, recovered: RecoveredRecord[] = []): GapReport | null {
  if (!hasTable(db, 'message')) return null;
  const live = liveIds(db, 'SELECT ROWID AS r, date AS t FROM message ORDER BY ROWID');
  let max: number | null = null;
  if (hasTable(db, 'sqlite_sequence')) max = num((db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'message'").raw().get() as unknown[] | undefined)?.[0]);
  const gaps = findRowidGaps(
    'message',
    live,
    max,
    recovered.filter((r) => r.table === 'message' && r.olderVersionOf === undefined).map((r) => r.rowid),
  );
  return {
    table: 'message',
    maxId: max ?? live.last?.rowid ?? null,
    maxFrom: max !== null ? 'sqlite_sequence' : 'live',
    liveCount: live.count,
    missing: gaps.reduce((a, g) => a + g.count, 0),
    gaps,
  };
}

/** CallHistory ZCALLRECORD Z_PKs against Z_PRIMARYKEY.Z_MAX (entity 'CallRecord'). */
export function callRowidGaps(db: Database.Database, recovered: RecoveredRecord[] = []): GapReport | null {
  if (!hasTable(db, 'ZCALLRECORD')) return null;
  const live = liveIds(db, 'SELECT Z_PK AS r, ZDATE AS t FROM ZCALLRECORD ORDER BY Z_PK');
  let max: number | null = null;
  if (hasTable(db, 'Z_PRIMARYKEY')) max = num((db.prepare("SELECT Z_MAX FROM Z_PRIMARYKEY WHERE Z_NAME = 'CallRecord'").raw().get() as unknown[] | undefined)?.[0]);
  const gaps = findRowidGaps(
    'ZCALLRECORD',
    live,
    max,
    recovered.filter((r) => r.table === 'ZCALLRECORD' && r.olderVersionOf === undefined).map((r) => r.rowid),
  );
  return {
    table: 'ZCALLRECORD',
    maxId: max ?? live.last?.rowid ?? null,
    maxFrom: max !== null ? 'Z_PRIMARYKEY' : 'live',
    liveCount: live.count,
    missing: gaps.reduce((a, g) => a + g.count, 0),
    gaps,
  };
}

// ------------------------------------------------------------------------------------------------ event fields

export interface RecoveredEventFields {
  kind: 'message' | 'call';
  sourceTable: string;
  sourceRowid: number | bigint | null;
  /** The time as stored and its epoch; `time.utcUs` is ready for events.ts_utc_us. */
  tsRaw: Raw;
  time: Timestamp | null;
  text: string | null;
  /** message.handle_id (join to handle.ROWID), or null. */
  handleId: number | null;
  /** The call's address (ZADDRESS, a blob holding UTF-8), or null. */
  counterpart: string | null;
  direction: 'incoming' | 'outgoing' | null;
  durationS: number | null;
  service: string | null;
  guid: string | null;
  /** Other columns worth keeping in extra_json. */
  extra: Record<string, string | number | boolean | null>;
}

function byName(rec: Pick<RecoveredRecord, 'columns' | 'values'>): (c: string) => SqlValue | undefined {
  const idx = new Map(rec.columns.map((c, i) => [c.toLowerCase(), i]));
  return (c) => {
    const i = idx.get(c.toLowerCase());
    return i === undefined ? undefined : rec.values[i];
  };
}

function textOf(v: SqlValue | undefined): string | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** The event fields of a recovered `message` or `ZCALLRECORD` record; null for other tables. */
export function recoveredToEventFields(rec: Pick<RecoveredRecord, 'table' | 'rowid' | 'columns' | 'values'>): RecoveredEventFields | null {
  const get = byName(rec);
  if (rec.table === 'message') {
    const date = get('date');
    let text = textOf(get('text'));
    let decodedFrom: string | null = null;
    const body = get('attributedBody');
    if (text === null && Buffer.isBuffer(body) && body.length > 0) {
      try {
        text = decodeAttributedBody(body).text || null;
        decodedFrom = 'attributedBody';
      } catch {
        /* undecodable: leave null */
      }
    }
    const fromMe = num(get('is_from_me'));
    return {
      kind: 'message',
      sourceTable: 'message',
      sourceRowid: rec.rowid,
      tsRaw: raw(date),
      time: macAbsoluteAuto(date),
      text,
      handleId: num(get('handle_id')),
      counterpart: null,
      direction: fromMe === null ? null : fromMe ? 'outgoing' : 'incoming',
      durationS: null,
      service: textOf(get('service')),
      guid: textOf(get('guid')),
      extra: { item_type: num(get('item_type')), is_read: num(get('is_read')), date_read: textOf(get('date_read') as SqlValue), text_from: decodedFrom },
    };
  }
  if (rec.table === 'ZCALLRECORD') {
    const date = get('ZDATE');
    const originated = num(get('ZORIGINATED'));
    return {
      kind: 'call',
      sourceTable: 'ZCALLRECORD',
      sourceRowid: rec.rowid,
      tsRaw: raw(date),
      time: macSeconds(date),
      text: null,
      handleId: null,
      counterpart: textOf(get('ZADDRESS')),
      direction: originated === null ? null : originated ? 'outgoing' : 'incoming',
      durationS: num(get('ZDURATION')),
      service: textOf(get('ZSERVICE_PROVIDER')),
      guid: textOf(get('ZUNIQUE_ID')),
      extra: { call_type: num(get('ZCALLTYPE')), answered: num(get('ZANSWERED')), name: textOf(get('ZNAME')), location: textOf(get('ZLOCATION')) },
    };
  }
  return null;
}
