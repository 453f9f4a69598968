// Who a message is with: sms.db handles (people), chats (conversations, with their members) and the
// threads they become in the case file. A message with no chat still sits in a conversation: one
// synthetic thread per counterpart.
import type Database from 'better-sqlite3';
import type { Direction } from '../../timeline/caseFile.js';
import { columnsOf, colOrNull, hasTable, sqlText, type ExtractorContext } from '../types.js';
import { GROUP_STYLE } from './vocab.js';

export interface HandleInfo {
  rowid: number;
  id: string;
  service: string | null;
  name: string | null;
  label: string;
}
export interface ChatInfo {
  rowid: number;
  threadId: number;
  identifier: string | null;
  displayName: string | null;
  service: string | null;
  isGroup: boolean;
  members: HandleInfo[];
  label: string;
  memberHandles: string | null;
  memberNames: string | null;
}

/** Where one message belongs and whom it is with. */
export interface Conversation {
  chat: ChatInfo | undefined;
  handle: HandleInfo | undefined;
  threadId: number;
  service: string | null;
  counterpart: string | null;
  counterpartName: string | null;
  /** The other side as the title names it ("Alice (+1…)", "group “Trip”"). */
  who: string;
  /** The conversation was resolved without any doubt (one known chat, a known handle). */
  clean: boolean;
}

type Warn = (message: string, rowid: number | null, severity?: 'info' | 'warning' | 'error', table?: string | null) => void;

const str = sqlText;

/** Titles are one line: names and group titles from the evidence may hold line breaks. */
export const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');
export function handleLabel(id: string, name: string | null): string {
  return oneLine(name ? `${name} (${id})` : id);
}

/** The title of an ordinary message: one builder for the row-by-row path and the bulk path. */
export function messageTitle(service: string | null, fromMe: boolean, who: string): string {
  return `${service ?? 'Message'} ${fromMe ? 'to' : 'from'} ${who}`;
}

export class Conversations {
  readonly handles = new Map<number, HandleInfo>();
  private readonly chats = new Map<number, ChatInfo>();
  private readonly synthetic = new Map<string, number>();

  constructor(
    private readonly ctx: ExtractorContext,
    private readonly db: Database.Database,
    private readonly extractor: string,
    private readonly fileRowId: number,
    private readonly warn: Warn,
  ) {}

  load(dbName: string): void {
    this.loadHandles(dbName);
    this.loadChats();
  }

  private loadHandles(dbName: string): void {
    if (!hasTable(this.db, 'handle')) {
      this.warn(`${dbName} has no handle table: senders and recipients cannot be named`, null, 'warning', 'handle');
      return;
    }
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
      for (const [chatId, handleId] of db
        .prepare('SELECT chat_id, handle_id FROM chat_handle_join ORDER BY chat_id, handle_id')
        .raw(true)
        .safeIntegers(false)
        .iterate() as Iterable<[number, number]>) {
        const h = this.handles.get(Number(handleId));
        if (!h) {
          this.warn(`chat ROWID ${chatId} lists handle ROWID ${handleId} as a member, but the handle table has no such row`, Number(chatId), 'warning', 'chat_handle_join');
          continue;
        }
        const list = members.get(Number(chatId)) ?? [];
        list.push(h);
        members.set(Number(chatId), list);
      }
    }
    const cols = ['guid', 'style', 'chat_identifier', 'service_name', 'room_name', 'display_name', 'account_login', 'group_id', 'is_archived', 'last_addressed_handle']
      .map((c) => colOrNull(cc, c))
      .join(', ');
    for (const r of db.prepare(`SELECT ROWID AS rowid, ${cols} FROM chat ORDER BY ROWID`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const rowid = Number(r.rowid);
      const list = members.get(rowid) ?? [];
      const identifier = str(r.chat_identifier);
      const displayName = str(r.display_name) || null;
      const style = r.style == null ? null : Number(r.style);
      const isGroup = style === GROUP_STYLE || !!str(r.room_name) || list.length > 1;
      const service = str(r.service_name);
      const threadId = ctx.caseFile.addThread({
        extractor: this.extractor,
        sourceFileId: this.fileRowId,
        sourceTable: 'chat',
        sourceRowid: rowid,
        identifier,
        displayName,
        service,
        isGroup,
        extra: {
          guid: str(r.guid),
          style,
          room_name: str(r.room_name),
          account_login: str(r.account_login),
          group_id: str(r.group_id),
          is_archived: r.is_archived == null ? null : Number(r.is_archived),
          last_addressed_handle: str(r.last_addressed_handle),
          members: list.length,
        },
      });
      for (const h of list) ctx.caseFile.addParticipant(threadId, h.id, h.name);
      const names = list.map((h) => h.name ?? h.id);
      const label = isGroup
        ? oneLine(displayName ? `group “${displayName}”` : `group (${names.join(', ') || identifier || `chat ${rowid}`})`)
        : (list[0]?.label ?? identifier ?? `chat ${rowid}`);
      this.chats.set(rowid, {
        rowid,
        threadId,
        identifier,
        displayName,
        service,
        isGroup,
        members: list,
        label,
        memberHandles: list.length ? list.map((h) => h.id).join(', ') : null,
        memberNames: displayName ?? (list.some((h) => h.name) ? names.join(', ') : null),
      });
    }
  }

  /** A thread for messages whose chat is unknown, one per counterpart, so each still sits in a conversation. */
  private syntheticThread(handle: HandleInfo | undefined, handleId: number, service: string | null, reason: string): number {
    const key = handle ? `h:${handle.rowid}` : handleId ? `missing:${handleId}` : 'none';
    let id = this.synthetic.get(key);
    if (id === undefined) {
      id = this.ctx.caseFile.addThread({
        extractor: this.extractor,
        sourceFileId: this.fileRowId,
        sourceTable: 'handle',
        sourceRowid: handle ? handle.rowid : null,
        identifier: handle?.id ?? (handleId ? `handle ${handleId} (missing)` : 'unknown'),
        displayName: null,
        service: service ?? handle?.service ?? null,
        isGroup: false,
        extra: { synthetic: true, reason },
      });
      if (handle) this.ctx.caseFile.addParticipant(id, handle.id, handle.name);
      this.synthetic.set(key, id);
    }
    return id;
  }

  /** The conversation of message `rowid`; fills `extra` with chat_id / handle_missing and warns on what is missing. */
  resolve(rowid: number, chatIds: number[] | null, handleId: number, direction: Direction, rowService: string | null, extra: Record<string, unknown>): Conversation {
    const fromMe = direction === 'outgoing';
    const handle = handleId ? this.handles.get(handleId) : undefined;
    let chat: ChatInfo | undefined;
    if (chatIds) {
      for (const id of chatIds) {
        const c = this.chats.get(id);
        if (c) {
          chat ??= c;
        } else this.warn(`message ROWID ${rowid} belongs to chat ROWID ${id}, which is not in the chat table`, rowid);
      }
      extra.chat_id = chatIds.length === 1 ? chatIds[0] : chatIds;
    }
    if (handleId && !handle) {
      extra.handle_missing = true;
      this.warn(`message ROWID ${rowid} refers to handle ROWID ${handleId}, which is not in the handle table: sender/recipient unknown`, rowid);
    }
    const service = rowService || chat?.service || handle?.service || null;
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
        counterpart = handle?.id ?? null;
        counterpartName = handle?.name ?? null;
        who = `${handle ? handle.label : handleId ? `unknown sender (handle ${handleId} missing)` : 'unknown sender'} in ${chat.label}`;
      } else {
        counterpart = chat.memberHandles ?? chat.identifier;
        counterpartName = chat.memberNames;
        who = chat.label;
      }
    } else {
      const h = handle ?? (chat && chat.members.length === 1 ? chat.members[0] : undefined);
      counterpart = h?.id ?? chat?.identifier ?? null;
      counterpartName = h ? h.name : counterpart ? this.ctx.contacts.nameFor(counterpart) : null;
      who = h?.label ?? (counterpart ? handleLabel(counterpart, counterpartName) : handleId ? `unknown (handle ${handleId} missing)` : 'unknown');
    }
    const clean = !!chat && chatIds?.length === 1 && (!handleId || !!handle);
    return { chat, handle, threadId, service, counterpart, counterpartName, who, clean };
  }
}
