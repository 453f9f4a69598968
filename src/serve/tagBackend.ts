// What the review page needs from tag storage. The tags module (src/timeline/tags.ts) owns the tables and
// their custody rows; this adapter only decides which connection each call uses.
import type Database from 'better-sqlite3';
import { CaseFile, CaseInUseError, lockCase } from '../timeline/caseFile.js';
import { addTag, listTags, notesOf, removeTag, setNote, TagError, tagsOf, type NoteRow } from '../timeline/tags.js';
import { hasTable } from './api.js';
export interface TagInfo {
  tag: string;
  note: string | null;
  examiner: string | null;
  at: string;
}

export interface TagBackend {
  /** The tag names in the case; null while it has no tag tables. */
  names(): string[] | null;
  tagsOf(eventIds: number[]): Map<number, TagInfo[]>;
  notesOf(eventIds: number[]): Map<number, NoteRow>;
  list(): { tag: string; n: number }[];
  add(o: { eventIds: number[]; tag: string; note?: string }): unknown;
  remove(o: { eventIds: number[]; tag: string }): unknown;
  note(o: { eventId: number; note: string }): unknown;
  close(): void;
}

/**
 * Tags through src/timeline/tags.ts. Reads use the page's read-only connection; each write takes the case lock,
 * opens its own writable connection (which migrates an older case to the tag tables), writes with its custody
 * row, and closes: between writes the case is free for other commands (report --exhibits among them).
 */
export function caseTags(casePath: string, ro: Database.Database, examiner?: string): TagBackend {
  const ready = () => hasTable(ro, 'event_tags');
  const write = <T>(what: string, fn: (db: Database.Database) => T): T => {
    const lock = lockCase(casePath, `serve (${what})`);
    try {
      const cf = CaseFile.open(casePath);
      try {
        return fn(cf.db);
      } finally {
        cf.close();
      }
    } finally {
      lock.release();
    }
  };
  const asStatus = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TagError) throw Object.assign(new Error(e.message), { status: 400 });
      if (e instanceof CaseInUseError) throw Object.assign(new Error(e.message), { status: 409 });
      throw e;
    }
  };
  return {
    names: () => (ready() ? listTags(ro).map((t) => t.tag) : null),
    tagsOf: (ids) => (ready() ? tagsOf(ro, ids) : new Map()),
    notesOf: (ids) => (ready() ? notesOf(ro, ids) : new Map()),
    list: () => (ready() ? listTags(ro).map((t) => ({ tag: t.tag, n: t.count })) : []),
    add: (o) => asStatus(() => write('tag', (db) => addTag(db, { ...o, examiner, casePath })).added),
    remove: (o) => asStatus(() => write('untag', (db) => removeTag(db, { ...o, examiner, casePath })).removed),
    note: (o) => asStatus(() => write('note', (db) => setNote(db, { ...o, examiner, casePath }))),
    close: () => {},
  };
}
