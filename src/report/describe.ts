// Human wording, colours and views for events, read from the artifacts' kind descriptors: the renderers
// know no artifact by name.
import { KINDS } from '../extractors/registry.js';
import type { EventRow } from '../timeline/query.js';

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const OTHER_COLORS = ['#1f9bb0', '#a39b1d', '#8c5a3c', '#4b5fbf', '#b0413e'];

/** Timesketch's timestamp_desc: the artifact's wording, else "<Kind> <Action>". */
export function timestampDesc(kind: string, action: string): string {
  return KINDS.get(kind)?.actions[action] ?? `${cap(kind)} ${cap(action.replace(/-/g, ' '))}`;
}

/** Plural heading for a kind ("Messages"). */
export function kindLabel(kind: string): string {
  return KINDS.get(kind)?.label ?? cap(kind);
}

/** Chart colour of a kind; kinds no artifact declares (older case files) take a spare colour by position. */
export function kindColor(kind: string, i = 0): string {
  return KINDS.get(kind)?.color ?? OTHER_COLORS[i % OTHER_COLORS.length];
}

/** plaso-style data type for Timesketch. */
export function dataType(kind: string): string {
  return KINDS.get(kind)?.dataType ?? `ios:${kind}`;
}

/** Every kind the tool knows: what --kinds accepts. */
export function knownKinds(): string[] {
  return [...KINDS.keys()].sort();
}

/** The report view of a kind; kinds no artifact declares (older case files) show as tables. */
export function kindView(kind: string): string {
  return KINDS.get(kind)?.view ?? 'table';
}

/** Every declared kind for the report script: which section shows it, its label and colour. */
export function kindTable(): { kind: string; label: string; color: string; view: string }[] {
  return [...KINDS.values()].map((k) => ({ kind: k.kind, label: k.label, color: k.color, view: k.view }));
}

/** The kinds a report section shows (conversation, calls, gallery, table). */
export function kindsInView(view: string): string[] {
  return [...KINDS.values()].filter((k) => k.view === view).map((k) => k.kind);
}

/** One readable line: the description, then the user's text, newlines folded. */
export function messageLine(e: Pick<EventRow, 'title' | 'body' | 'kind' | 'action'>): string {
  const base = e.title ?? timestampDesc(e.kind, e.action);
  const text = e.body ? `: ${e.body}` : '';
  return `${base}${text}`.replace(/\s*[\r\n]+\s*/g, ' ⏎ ');
}
