// What a message went through, read from the documented extra_json keys the messages extractors write
// (edited, edit_history, unsent, recently_deleted, reply_to_event_id, reacted_to_event_id, reaction, emoji):
// one reading for the report's conversation view and the exports.

export interface MessageFacts {
  edited: boolean;
  /** Every earlier version, oldest first: its text and when it was current (ISO 8601 UTC). */
  edit_history: { text: string | null; datetime: string | null; us: number | null }[];
  unsent: boolean;
  /** In Recently Deleted on the phone: deleted by the user, still recoverable. */
  deleted: boolean;
  reply_to: number | null;
  reaction_to: number | null;
  reaction: string | null;
}

const KEYS = /"(edited|edit_history|unsent|recently_deleted|reply_to_event_id|reacted_to_event_id)"/;

/** The facts of one event, or null when it has none (most events: checked without parsing the JSON). */
export function messageFacts(extraJson: string | null): MessageFacts | null {
  if (!extraJson || !KEYS.test(extraJson)) return null;
  let x: Record<string, unknown>;
  try {
    x = JSON.parse(extraJson) as Record<string, unknown>;
  } catch {
    return null;
  }
  const history = Array.isArray(x.edit_history) ? (x.edit_history as { text?: unknown; time?: unknown; ts_utc_us?: unknown }[]) : [];
  const id = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
  return {
    edited: x.edited === true || history.length > 0,
    edit_history: history.map((h) => ({
      text: typeof h.text === 'string' ? h.text : null,
      datetime: typeof h.time === 'string' ? h.time : null,
      us: typeof h.ts_utc_us === 'number' ? h.ts_utc_us : null,
    })),
    unsent: x.unsent === true,
    deleted: x.recently_deleted === true,
    reply_to: id(x.reply_to_event_id),
    reaction_to: id(x.reacted_to_event_id),
    reaction: typeof x.emoji === 'string' ? x.emoji : typeof x.reaction === 'string' ? x.reaction : null,
  };
}
