// An examiner's tags and notes on events (docs/custody.md "Tags and notes"). They live in their own tables
// (event_tags, event_notes): events are never changed, so the ingest content digest still verifies. Every change
// is one transaction that also appends a custody row naming what changed and the new tags digest, so `verify`
// can tell a change made through the tool from an edit made behind its back.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { appendCustody, appendCustodyHead, custodyHeadsPath, type CustodyRow, resolveActor } from './custodyLog.js';

export interface TagRow {
  eventId: number;
  tag: string;
  note: string | null;
  examiner: string | null;
  at: string /* ISO UTC */;
}

export interface NoteRow {
  eventId: number;
  note: string;
  examiner: string | null;
  at: string;
}

/** The tables tags and notes live in: outside the ingest content digest, inside the tags digest. */
export const TAG_TABLES = ['event_tags', 'event_notes'] as const;
export const TAG_MAX_LENGTH = 64;
export const NOTE_MAX_LENGTH = 10_000;
/** The custody actions that carry a tags digest. */
export const TAG_ACTIONS = ['tag', 'untag', 'note'] as const;

/** A tag change that was refused (unknown event, bad name…): the CLI prints it as a one-line error. */
export class TagError extends Error {}

/** A tag name: trimmed, in Unicode NFC (so "é" typed two ways is one tag), 1–64 characters, no control characters. */
export function checkTagName(tag: string): string {
  const t = typeof tag === 'string' ? tag.trim().normalize('NFC') : '';
  if (!t) throw new TagError('a tag name must not be empty');
  if ([...t].length > TAG_MAX_LENGTH) throw new TagError(`tag name is longer than ${TAG_MAX_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(t)) throw new TagError('a tag name must not contain control characters');
  return t;
}

/** A note: up to 10,000 characters; line breaks and tabs are allowed, other control characters are not. */
function checkNote(note: string | null | undefined): string | null {
  if (note === null || note === undefined) return null;
  if (typeof note !== 'string') throw new TagError('a note must be text');
  if ([...note].length > NOTE_MAX_LENGTH) throw new TagError(`note is longer than ${NOTE_MAX_LENGTH} characters`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(note)) throw new TagError('a note must not contain control characters other than line breaks and tabs');
  return note;
}

/** Distinct, positive integer ids that all name an event; otherwise a TagError naming the first bad ones. */
function checkEvents(db: Database.Database, ids: number[]): number[] {
  if (!Array.isArray(ids) || !ids.length) throw new TagError('no event id given');
  const bad = ids.filter((id) => !Number.isSafeInteger(id) || id < 1);
  if (bad.length) throw new TagError(`not an event id: ${bad.slice(0, 5).join(', ')}`);
  const unique = [...new Set(ids)];
  const missing = db.prepare('SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM events) ORDER BY value').pluck().all(JSON.stringify(unique)) as number[];
  if (missing.length) throw new TagError(`no event with id ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` (and ${missing.length - 10} more)` : ''} in this case`);
  return unique;
}

export interface TagsDigest {
  /** sha256 over every row of event_tags then event_notes, in key order, one canonical JSON line each. */
  sha256: string;
  tags: number;
  notes: number;
}

/** The digest of the tags and notes as they are now (recorded in every tag custody row; verify recomputes it). */
export function tagsDigest(db: Database.Database): TagsDigest {
  const h = createHash('sha256').update('ios-timeline-tags-digest/1\n');
  let tags = 0;
  let notes = 0;
  const t = db.prepare('SELECT json_array(event_id, tag, note, examiner, at) FROM event_tags ORDER BY event_id, tag').pluck();
  for (const line of t.iterate() as Iterable<string>) {
    h.update(`t${line}\n`);
    tags++;
  }
  const n = db.prepare('SELECT json_array(event_id, note, examiner, at) FROM event_notes ORDER BY event_id').pluck();
  for (const line of n.iterate() as Iterable<string>) {
    h.update(`n${line}\n`);
    notes++;
  }
  return { sha256: h.digest('hex'), tags, notes };
}

/** The case path whose custody-heads sidecar is appended: the one given, or the database's own file. */
function headsCasePath(db: Database.Database, casePath: string | undefined): string | null {
  if (casePath) return casePath.endsWith('.partial') ? casePath.slice(0, -'.partial'.length) : casePath;
  const name = db.name;
  if (!name || name === ':memory:') return null;
  // Only add to a sidecar that exists: a case made without one is not given a partial one here.
  const p = path.resolve(name);
  return fs.existsSync(custodyHeadsPath(p)) ? p : null;
}

interface WriteOptions {
  examiner?: string | null;
  /** The case file's path, for the custody-heads sidecar (defaults to the database's file if it has a sidecar). */
  casePath?: string;
  now?: Date;
}

/** Run `change` and append its custody row in one transaction, then anchor the new head in the sidecar. */
function writeWithCustody(
  db: Database.Database,
  o: WriteOptions,
  action: (typeof TAG_ACTIONS)[number],
  change: (actor: string, at: string) => Record<string, unknown> | null,
): CustodyRow | null {
  const now = o.now ?? new Date();
  const actor = resolveActor(db, o.examiner);
  const row = db.transaction(() => {
    const detail = change(actor, now.toISOString());
    if (!detail) return null; // nothing changed: no custody row
    return appendCustody(db, { action, actor, detail: { ...detail, tags_digest: tagsDigest(db) } }, now);
  })();
  const heads = row && headsCasePath(db, o.casePath);
  if (row && heads) {
    try {
      appendCustodyHead(heads, row);
    } catch (e) {
      process.stderr.write(`warning: could not append to the custody-heads file beside ${heads}: ${(e as Error).message}\n`);
    }
  }
  return row;
}

/**
 * Tag events. A tag already on an event is left as it is unless a note is given, which replaces its note
 * (`updated`). One custody row for the whole change (none when nothing changed).
 */
export function addTag(
  db: Database.Database,
  o: { eventIds: number[]; tag: string; note?: string | null } & WriteOptions,
): { added: number; updated: number; custody: CustodyRow | null } {
  const tag = checkTagName(o.tag);
  const note = checkNote(o.note === '' ? null : o.note);
  const ids = checkEvents(db, o.eventIds);
  let added = 0;
  let updated = 0;
  const custody = writeWithCustody(db, o, 'tag', (actor, at) => {
    const get = db.prepare('SELECT note FROM event_tags WHERE event_id = ? AND tag = ?');
    const ins = db.prepare('INSERT INTO event_tags (event_id, tag, note, examiner, at) VALUES (?, ?, ?, ?, ?)');
    const upd = db.prepare('UPDATE event_tags SET note = ?, examiner = ?, at = ? WHERE event_id = ? AND tag = ?');
    const addedIds: number[] = [];
    const updatedIds: number[] = [];
    for (const id of ids) {
      const have = get.get(id, tag) as { note: string | null } | undefined;
      if (!have) {
        ins.run(id, tag, note, actor, at);
        addedIds.push(id);
      } else if (o.note !== undefined && have.note !== note) {
        upd.run(note, actor, at, id, tag);
        updatedIds.push(id);
      }
    }
    added = addedIds.length;
    updated = updatedIds.length;
    if (!added && !updated) return null;
    return { tag, note, added: addedIds, updated: updatedIds };
  });
  return { added, updated, custody };
}

/** Remove a tag from events (those without it are skipped). One custody row, none when nothing was removed. */
export function removeTag(db: Database.Database, o: { eventIds: number[]; tag: string } & WriteOptions): { removed: number; custody: CustodyRow | null } {
  const tag = checkTagName(o.tag);
  const ids = checkEvents(db, o.eventIds);
  let removed = 0;
  const custody = writeWithCustody(db, o, 'untag', () => {
    const del = db.prepare('DELETE FROM event_tags WHERE event_id = ? AND tag = ? RETURNING note');
    const gone: { event_id: number; note: string | null }[] = [];
    for (const id of ids) {
      const r = del.get(id, tag) as { note: string | null } | undefined;
      if (r) gone.push({ event_id: id, note: r.note });
    }
    removed = gone.length;
    // The removed notes are kept in the custody row: a note removed with its tag is not lost to the record.
    return removed ? { tag, removed: gone } : null;
  });
  return { removed, custody };
}

/** Every tag in the case with how many events carry it, most used first, then by name. */
export function listTags(db: Database.Database): { tag: string; count: number }[] {
  return db.prepare('SELECT tag, count(*) AS count FROM event_tags GROUP BY tag ORDER BY count DESC, tag').all() as { tag: string; count: number }[];
}

/** The tags of the given events (events without tags are absent from the map), each event's tags by name. */
export function tagsOf(db: Database.Database, eventIds: number[]): Map<number, TagRow[]> {
  const out = new Map<number, TagRow[]>();
  if (!eventIds.length) return out;
  const rows = db
    .prepare(
      `SELECT event_id AS eventId, tag, note, examiner, at FROM event_tags
       WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY event_id, tag`,
    )
    .all(JSON.stringify(eventIds)) as TagRow[];
  for (const r of rows) {
    const list = out.get(r.eventId);
    if (list) list.push(r);
    else out.set(r.eventId, [r]);
  }
  return out;
}

/** The notes of the given events (set with setNote; a tag's own note is in its TagRow). */
export function notesOf(db: Database.Database, eventIds: number[]): Map<number, NoteRow> {
  if (!eventIds.length) return new Map();
  const rows = db
    .prepare('SELECT event_id AS eventId, note, examiner, at FROM event_notes WHERE event_id IN (SELECT value FROM json_each(?))')
    .all(JSON.stringify(eventIds)) as NoteRow[];
  return new Map(rows.map((r) => [r.eventId, r]));
}

/** Set (or, with null or an empty text, clear) the note on an event, tagged or not. */
export function setNote(db: Database.Database, o: { eventId: number; note: string | null } & WriteOptions): void {
  const note = checkNote(o.note === '' ? null : o.note);
  const [id] = checkEvents(db, [o.eventId]);
  writeWithCustody(db, o, 'note', (actor, at) => {
    const before = db.prepare('SELECT note FROM event_notes WHERE event_id = ?').pluck().get(id) as string | undefined;
    if ((before ?? null) === note) return null;
    if (note === null) db.prepare('DELETE FROM event_notes WHERE event_id = ?').run(id);
    else db.prepare('INSERT OR REPLACE INTO event_notes (event_id, note, examiner, at) VALUES (?, ?, ?, ?)').run(id, note, actor, at);
    return { event_id: id, note, previous_note: before ?? null };
  });
}

/** The tags digest recorded by the last tag custody row (null when tags were never changed). */
export function recordedTagsDigest(rows: Pick<CustodyRow, 'seq' | 'action' | 'detail_json'>[]): { seq: number; digest: TagsDigest } | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    if (!(TAG_ACTIONS as readonly string[]).includes(rows[i].action)) continue;
    try {
      const d = JSON.parse(rows[i].detail_json) as { tags_digest?: TagsDigest };
      if (d.tags_digest?.sha256) return { seq: rows[i].seq, digest: d.tags_digest };
    } catch {
      /* an altered row is reported by the chain check */
    }
  }
  return null;
}
