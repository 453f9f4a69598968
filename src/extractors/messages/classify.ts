// What one sms.db message row is: an ordinary message, a tapback, a group event, location sharing, an app
// balloon … A pure function of the row's columns and the names already resolved: no database, no case
// file, so every rule can be tested on its own.
import { hexOf } from './body.js';
import { oneLine, messageTitle, type ChatInfo, type HandleInfo } from './conversations.js';
import { parseMessageSummary, type MessageSummary } from './summary.js';
import { itemAction, parseAssociatedGuid, tapbackOf } from './vocab.js';
import { sqlText } from '../../sqlite.js';

/** The columns of a message row the classifier reads (fetched only for rows flagged as rare). */
export interface MessageDetail {
  item_type?: unknown;
  associated_message_type?: unknown;
  associated_message_guid?: unknown;
  associated_message_emoji?: unknown;
  other_handle?: unknown;
  group_title?: unknown;
  group_action_type?: unknown;
  share_status?: unknown;
  share_direction?: unknown;
  balloon_bundle_id?: unknown;
  expressive_send_style_id?: unknown;
  subject?: unknown;
  thread_originator_guid?: unknown;
  is_audio_message?: unknown;
  error?: unknown;
  message_summary_info?: unknown;
  [column: string]: unknown;
}

export interface Classified {
  action: string;
  title: string;
  /** Links to other messages by GUID: key in extra_json (…_event_id) and the target's guid. */
  links: { key: string; guid: string }[];
  summary: MessageSummary | null;
  /** Findings the caller records as warnings (severity info). */
  notes: string[];
}

export interface Parties {
  fromMe: boolean;
  service: string;
  who: string;
  chat: ChatInfo | undefined;
  handle: HandleInfo | undefined;
  handles: Map<number, HandleInfo>;
}

const str = sqlText;
const int = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** Classify a message row; fills `extra` with what the row says beyond its text. */
export function classifyMessage(detail: MessageDetail | undefined, p: Parties, rowid: number, extra: Record<string, unknown>): Classified {
  const { fromMe, service: svc, who, chat, handle } = p;
  const out: Classified = { action: fromMe ? 'sent' : 'received', title: messageTitle(svc, fromMe, who), links: [], summary: null, notes: [] };
  if (!detail) return out;
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
    out.links.push({ key: tap ? 'reacted_to_event_id' : 'associated_event_id', guid: a.guid });
  }
  if (tap) {
    out.action = tap.added ? 'reaction' : 'reaction-removed';
    const emoji = str(detail.associated_message_emoji);
    extra.reaction = tap.name;
    if (emoji) extra.emoji = emoji;
    const verb = tap.kind === 6 && emoji ? `reacted ${oneLine(emoji)} to` : tap.verb;
    out.title = tap.added
      ? `${svc} reaction ${fromMe ? 'to' : 'from'} ${who}: ${fromMe ? 'you ' : ''}${verb} a message`
      : `${svc} reaction removed ${fromMe ? 'to' : 'from'} ${who}: ${fromMe ? 'you ' : ''}no longer ${verb} a message`;
  } else if (ia) {
    out.action = ia;
    const other = int(detail.other_handle);
    const otherH = other ? p.handles.get(other) : undefined;
    if (other) extra.other_handle = otherH ? otherH.id : other;
    const groupTitle = str(detail.group_title);
    if (groupTitle !== null) extra.group_title = groupTitle;
    if (detail.group_action_type != null && int(detail.group_action_type)) extra.group_action_type = int(detail.group_action_type);
    const actor = fromMe ? 'you' : (handle?.label ?? 'someone');
    if (ia === 'location-sharing') {
      const stopped = int(detail.share_status) === 1;
      extra.share_status = int(detail.share_status);
      extra.share_direction = int(detail.share_direction);
      out.title = `${svc} location sharing ${stopped ? 'stopped' : 'started'} (${chat?.label ?? who})`;
    } else if (itemType === 2) out.title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} renamed the group${groupTitle ? ` to “${oneLine(groupTitle)}”` : ''}`;
    else if (itemType === 1)
      out.title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} ${int(detail.group_action_type) === 1 ? 'removed' : 'added'} ${otherH?.label ?? (other ? `handle ${other}` : 'a member')}`;
    else if (itemType === 3) out.title = `${svc} ${chat?.label ?? 'conversation'}: ${actor} changed the group (action ${int(detail.group_action_type)})`;
    else out.title = `${svc} ${ia.replace(/-/g, ' ')} (${fromMe ? 'you' : who}, item type ${itemType})`;
  }
  const balloon = str(detail.balloon_bundle_id);
  if (balloon) extra.balloon_bundle_id = balloon;
  const effect = str(detail.expressive_send_style_id);
  if (effect) extra.expressive_send_style_id = effect;
  const subject = str(detail.subject);
  if (subject !== null) extra.subject = subject;
  const replyTo = str(detail.thread_originator_guid);
  if (replyTo) {
    extra.reply_to_guid = replyTo;
    out.links.push({ key: 'reply_to_event_id', guid: replyTo });
  }
  if (int(detail.is_audio_message)) extra.is_audio_message = 1;
  if (int(detail.error)) extra.error = int(detail.error);
  const blob = detail.message_summary_info;
  if (Buffer.isBuffer(blob) && blob.length) {
    try {
      out.summary = parseMessageSummary(blob);
      if (out.summary.sentByApp) extra.sent_by_app = out.summary.sentByApp;
    } catch (e) {
      extra.message_summary_info_error = (e as Error).message;
      extra.message_summary_info_hex = hexOf(blob);
      out.notes.push(`message ROWID ${rowid}: message_summary_info could not be read (${(e as Error).message}); kept as hex`);
    }
  }
  return out;
}
