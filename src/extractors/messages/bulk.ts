// The main events of ordinary message rows, written by SQLite itself: one INSERT … SELECT per page from the
// working copy of sms.db (attached to the case file) instead of reading each row into JavaScript and
// writing it back. It takes only rows that need nothing the row-by-row path would add or warn about:
// no rare column set (tapbacks, edits, group events… see the `rare` flag in messages.ts), a plain integer
// date, ordinary column types, one chat, not in Recently Deleted, and a conversation the row-by-row path has
// already worked out (thread, counterpart, contact name, title), kept in a TEMP table by
// (chat, handle, direction, service). The body comes from `text`, or from readBody() (body.ts) through a
// SQL function when there is an attributedBody; a body that cannot be decoded leaves the row to the
// row-by-row path, which warns. Every other row is left for that path: both write the same event
// (test: "the bulk path and the row-by-row path write the same events").
import { MESSAGE_EVENT_COLUMNS } from '../../timeline/caseFile.js';
import type Database from 'better-sqlite3';
import type { CaseFile } from '../../timeline/caseFile.js';
import { MAC_EPOCH_OFFSET_S, MAX_PLAUSIBLE_US } from '../../formats/appleTime.js';
import { readBody } from './body.js';
import { classifyMessage, type MessageDetail } from './classify.js';
import type { ChatInfo, HandleInfo } from './conversations.js';

/** Dates at or above this are nanoseconds since 2001 (docs/ios-formats.md §3), below it seconds. */
export const NS_THRESHOLD = 100_000_000_000;
/** Schema name of the attached working copy of sms.db. */
export const SRC_SCHEMA = 'sms_src';

/** SQLite's version of macAbsoluteAuto for an integer column: µs since 1970, NULL for 0/NULL/negative/non-integer. */
export function sqlMacUs(c: string): string {
  return `CASE WHEN typeof(${c}) = 'integer' AND ${c} > 0 THEN (CASE WHEN ${c} >= ${NS_THRESHOLD} THEN ${c} / 1000 + ${MAC_EPOCH_OFFSET_S * 1_000_000}
    ELSE (${c} + ${MAC_EPOCH_OFFSET_S}) * 1000000 END) END`;
}

/** Whether the integer column converts to a plausible instant (1970–2100): the rest are read row by row, which warns. */
export function sqlPlausibleMac(c: string): string {
  return `ifnull((${sqlMacUs(c)}) < ${MAX_PLAUSIBLE_US}, 1)`;
}

/** What the row-by-row path worked out for one conversation and direction. */
export interface Conversation {
  threadId: number;
  title: string;
  counterpart: string | null;
  counterpartName: string | null;
  service: string | null;
  /** What classifyMessage needs to name group events and location sharing in this conversation. */
  who: string;
  chat: ChatInfo | undefined;
  handle: HandleInfo | undefined;
}

/**
 * Columns that make a row "rare" but that classifyMessage turns into an action, a title and extra fields
 * without reading anything else: such rows stay on the bulk path, classified by a SQL function. The other rare
 * columns (links to other messages, edits, unsends, plays, recovery) still send a row to the row-by-row path.
 * Integer columns first, then text, then the summary blob: each must hold its own type to stay in bulk.
 */
export const CLASSIFIED_INT = ['item_type', 'other_handle', 'group_action_type', 'share_status', 'share_direction', 'is_audio_message', 'error'];
export const CLASSIFIED_TEXT = ['balloon_bundle_id', 'expressive_send_style_id', 'subject', 'group_title'];
export const CLASSIFIED_BLOB = 'message_summary_info';

const FN_BODY_OK = 'ios_timeline_message_body_ok';
const FN_BODY = 'ios_timeline_message_body';
const FN_BODY_FIELDS = 'ios_timeline_message_body_fields';
const FN_CLASS_OK = 'ios_timeline_message_class_ok';
const FN_CLASS_ACTION = 'ios_timeline_message_class_action';
const FN_CLASS_TITLE = 'ios_timeline_message_class_title';
const FN_CLASS_FIELDS = 'ios_timeline_message_class_fields';

export class BulkMainEvents {
  private readonly insert: Database.Statement;
  private readonly addConversation: Database.Statement;
  private readonly known = new Map<string, Conversation>();
  /** The body of the row SQLite is on: decoded once in WHERE, read twice by the result columns. */
  private current: { rowid: number; body: string | null; fields: string } | null = null;
  /** The classification of the row SQLite is on (rows with a classified column only), likewise. */
  private currentClass: { rowid: number; action: string; title: string; fields: string } | null = null;

  /**
   * `mc`: the message table's columns; `hard`: the SQL flag of rows needing the row-by-row path (rare rows
   * minus the classified columns); `recoverable`: whether chat_recoverable_message_join can be read;
   * `handles`: sms.db handles by ROWID (group events name the member added or removed).
   */
  constructor(cf: CaseFile, mc: Set<string>, hard: string, recoverable: boolean, fileRowId: number, handles: Map<number, HandleInfo>) {
    // The TEMP table and the body functions live on the case file's connection, never in its schema.
    const db = cf.db;
    const m = (c: string) => (mc.has(c) ? `m.${c}` : 'NULL');
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS message_conversations (c_chat TEXT NOT NULL, c_handle INTEGER NOT NULL, c_from_me INTEGER NOT NULL, c_service TEXT NOT NULL,
      c_thread INTEGER, c_title TEXT, c_counterpart TEXT, c_name TEXT, c_svc TEXT, PRIMARY KEY (c_chat, c_handle, c_from_me, c_service)); DELETE FROM temp.message_conversations;`);
    this.addConversation = db.prepare('INSERT OR IGNORE INTO temp.message_conversations VALUES (?,?,?,?,?,?,?,?,?)');
    db.function(FN_BODY_OK, { deterministic: false }, (rowid, text, blob) => {
      const r = readBody(text, blob);
      if (r.problem) return 0;
      const fields = JSON.stringify(r.fields);
      this.current = { rowid: Number(rowid), body: r.body, fields: fields === '{}' ? '' : `,${fields.slice(1, -1)}` };
      return 1;
    });
    const cached = (rowid: unknown) => {
      // SQLite evaluates a row's WHERE before its result columns; anything else is a bug, not a guess.
      if (!this.current || this.current.rowid !== Number(rowid)) throw new Error(`bulk message body out of step at ROWID ${String(rowid)}`);
      return this.current;
    };
    db.function(FN_BODY, { deterministic: false }, (rowid) => cached(rowid).body);
    db.function(FN_BODY_FIELDS, { deterministic: false }, (rowid) => cached(rowid).fields);

    // Rows with a classified column: classifyMessage, the row-by-row path's own function, names them. A row it
    // would warn about, link to another message, or mark as edited/unsent is left to the row-by-row path.
    const classCols = [...CLASSIFIED_INT, ...CLASSIFIED_TEXT, CLASSIFIED_BLOB].filter((c) => mc.has(c));
    db.function(FN_CLASS_OK, { deterministic: false, varargs: true }, (rowid, chat, handle, fromMe, service, ...values) => {
      const conv = this.known.get(`${String(chat)}\u0000${String(handle)}\u0000${String(fromMe)}\u0000${String(service)}`);
      if (!conv) return 0;
      const detail: MessageDetail = {};
      classCols.forEach((c, i) => {
        detail[c] = values[i];
      });
      const extra: Record<string, unknown> = {};
      const w = classifyMessage(
        detail,
        { fromMe: fromMe === 1, service: conv.service ?? 'Message', who: conv.who, chat: conv.chat, handle: conv.handle, handles },
        Number(rowid),
        extra,
      );
      if (w.notes.length || w.links.length || (w.summary && (w.summary.editHistory.length || w.summary.unsentParts.length))) return 0;
      const fields = JSON.stringify(extra);
      this.currentClass = { rowid: Number(rowid), action: w.action, title: w.title, fields: fields === '{}' ? '' : `,${fields.slice(1, -1)}` };
      return 1;
    });
    const classified = (rowid: unknown) => {
      if (!this.currentClass || this.currentClass.rowid !== Number(rowid)) throw new Error(`bulk message class out of step at ROWID ${String(rowid)}`);
      return this.currentClass;
    };
    db.function(FN_CLASS_ACTION, { deterministic: false }, (rowid) => classified(rowid).action);
    db.function(FN_CLASS_TITLE, { deterministic: false }, (rowid) => classified(rowid).title);
    db.function(FN_CLASS_FIELDS, { deterministic: false }, (rowid) => classified(rowid).fields);
    const soft = classCols.length
      ? `(${[
          ...CLASSIFIED_INT.filter((c) => mc.has(c)).map((c) => `COALESCE(m.${c}, 0) != 0`),
          ...[...CLASSIFIED_TEXT, CLASSIFIED_BLOB].filter((c) => mc.has(c)).map((c) => `m.${c} IS NOT NULL`),
        ].join(' OR ')})`
      : '0';

    const hasAb = mc.has('attributedBody');
    const body = hasAb ? `iif(m.attributedBody IS NULL, m.text, ${FN_BODY}(m.ROWID))` : m('text');
    const textFields = `iif(${m('text')} != '', ',"body_source":"text"', '')`;
    const bodyFields = hasAb ? `iif(m.attributedBody IS NULL, ${textFields}, ${FN_BODY_FIELDS}(m.ROWID))` : textFields;
    const str = (c: string) => `iif(${m(c)} != '', ',"${c}":' || json_quote(${m(c)}), '')`;
    const classFields = classCols.length ? ` || iif(${soft}, ${FN_CLASS_FIELDS}(m.ROWID), '')` : '';
    const extra = `'{"guid":' || json_quote(m.guid) || ',"is_from_me":' || c.c_from_me || ',"handle_id":' || c.c_handle || ',"chat_id":' || c.c_chat
      || ${str('account')} || ${str('destination_caller_id')} || ${bodyFields}${classFields} || '}'`;
    const chat = `(SELECT group_concat(chat_id) FROM ${SRC_SCHEMA}.chat_message_join WHERE message_id = m.ROWID)`;
    const types = (cols: string[], allowed: string) => cols.filter((c) => mc.has(c)).map((c) => `typeof(m.${c}) IN (${allowed})`);
    const classArgs = classCols.map((c) => `m.${c}`).join(', ');
    const plain = [
      `NOT (${hard})`,
      "typeof(m.date) = 'integer'",
      'm.date > 0',
      sqlPlausibleMac('m.date'),
      ...types(['guid', 'text', 'account', 'destination_caller_id', 'service'], "'text', 'null'"),
      ...types(['handle_id', 'is_from_me'], "'integer', 'null'"),
      ...(recoverable ? [`m.ROWID NOT IN (SELECT message_id FROM ${SRC_SCHEMA}.chat_recoverable_message_join WHERE message_id IS NOT NULL)`] : []),
      ...types(CLASSIFIED_INT, "'integer', 'null'"),
      ...CLASSIFIED_INT.filter((c) => mc.has(c)).map((c) => `abs(ifnull(m.${c}, 0)) <= ${Number.MAX_SAFE_INTEGER}`),
      ...types(CLASSIFIED_TEXT, "'text', 'null'"),
      ...types([CLASSIFIED_BLOB], "'blob', 'null'"),
      ...(hasAb ? [`(m.attributedBody IS NULL OR ${FN_BODY_OK}(m.ROWID, m.text, m.attributedBody))`] : []),
      ...(classCols.length ? [`(NOT ${soft} OR ${FN_CLASS_OK}(m.ROWID, c.c_chat, c.c_handle, c.c_from_me, c.c_service, ${classArgs}))`] : []),
    ];
    const action = classCols.length ? `iif(${soft}, ${FN_CLASS_ACTION}(m.ROWID), iif(c.c_from_me, 'sent', 'received'))` : "iif(c.c_from_me, 'sent', 'received')";
    const title = classCols.length ? `iif(${soft}, ${FN_CLASS_TITLE}(m.ROWID), c.c_title)` : 'c.c_title';
    this.insert = cf.prepareEventsFrom(
      MESSAGE_EVENT_COLUMNS,
      `SELECT ${sqlMacUs('m.date')}, CAST(m.date AS TEXT), iif(m.date >= ${NS_THRESHOLD}, 'mac-ns', 'mac-s'), 'message', ${action}, ${title},
        ${body}, iif(c.c_from_me, 'outgoing', 'incoming'), c.c_counterpart, c.c_name, c.c_thread, c.c_svc, ${fileRowId}, 'message', m.ROWID, 'messages', ${extra}
      FROM ${SRC_SCHEMA}.message m JOIN temp.message_conversations c ON c.c_chat = ${chat} AND c.c_handle = ifnull(${m('handle_id')}, 0)
        AND c.c_from_me = iif(${m('is_from_me')} = 1, 1, 0) AND c.c_service = ifnull(${m('service')}, '')
      WHERE m.ROWID > ? AND m.ROWID <= ? AND ${plain.join(' AND ')}
      ORDER BY m.ROWID`,
    );
  }

  /** Remember a conversation the row-by-row path resolved without any warning. */
  learn(chatId: number, handleId: number, fromMe: boolean, service: string | null, c: Conversation): void {
    const key = `${chatId}\u0000${handleId}\u0000${fromMe ? 1 : 0}\u0000${service ?? ''}`;
    if (this.known.has(key)) return;
    this.known.set(key, c);
    this.addConversation.run(String(chatId), handleId, fromMe ? 1 : 0, service ?? '', c.threadId, c.title, c.counterpart, c.counterpartName, c.service);
  }

  /** Write the main events of the ordinary rows with lo < ROWID <= hi; returns how many. */
  run(lo: number | bigint, hi: number | bigint): number {
    return Number(this.insert.run(lo, hi).changes);
  }
}
