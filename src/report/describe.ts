// Human wording for events: Timesketch's timestamp_desc and a one-line message.
import type { EventRow } from '../timeline/query.js';

const DESC: Record<string, Record<string, string>> = {
  message: { sent: 'Message Sent', received: 'Message Received', read: 'Message Read', delivered: 'Message Delivered', edited: 'Message Edited', unsent: 'Message Unsent', reaction: 'Reaction', 'reaction-removed': 'Reaction Removed', 'played': 'Message Played' },
  call: { placed: 'Call Started', received: 'Call Started', missed: 'Call Missed' },
  contact: { created: 'Contact Created', modified: 'Contact Modified' },
  photo: { taken: 'Photo Taken', added: 'Photo Added', modified: 'Photo Modified', trashed: 'Photo Trashed' },
  video: { taken: 'Video Recorded', added: 'Video Added', modified: 'Video Modified', trashed: 'Video Trashed' },
  location: { seen: 'Location Recorded' },
};

export function timestampDesc(kind: string, action: string): string {
  const d = DESC[kind]?.[action];
  if (d) return d;
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return `${cap(kind)} ${cap(action.replace(/-/g, ' '))}`;
}

/** One readable line: the description, then the user's text, newlines folded. */
export function messageLine(e: Pick<EventRow, 'title' | 'body' | 'kind' | 'action'>): string {
  const base = e.title ?? timestampDesc(e.kind, e.action);
  const text = e.body ? `: ${e.body}` : '';
  return `${base}${text}`.replace(/\s*[\r\n]+\s*/g, ' ⏎ ');
}
