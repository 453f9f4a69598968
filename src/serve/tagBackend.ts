// What the review page needs from tag storage. The tags module (src/timeline/tags.ts) owns the tables and
// their custody rows; this adapter only decides which connection each call uses.
export interface TagInfo {
  tag: string;
  note: string | null;
  examiner: string | null;
  at: string;
}

export interface TagBackend {
  /** A subquery of event ids with this tag (any tag when undefined); null when the case holds no tags. */
  filterSql(tag: string | undefined): { sql: string; params: unknown[] } | null;
  tagsOf(eventIds: number[]): Map<number, TagInfo[]>;
  list(): { tag: string; n: number }[];
  add(o: { eventIds: number[]; tag: string; note?: string }): unknown;
  remove(o: { eventIds: number[]; tag: string }): unknown;
  note(o: { eventId: number; note: string }): unknown;
  close(): void;
}

class TagsUnavailable extends Error {
  readonly status = 501;
}

/** A build without tags: the page reads, and says so when asked to write. */
export const noTags: TagBackend = {
  filterSql: () => null,
  tagsOf: () => new Map(),
  list: () => [],
  add: () => {
    throw new TagsUnavailable('tags are not available in this build');
  },
  remove: () => {
    throw new TagsUnavailable('tags are not available in this build');
  },
  note: () => {
    throw new TagsUnavailable('tags are not available in this build');
  },
  close: () => {},
};
