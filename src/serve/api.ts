// The review page's read API: pages of events (keyset by (ts_utc_us, id), never OFFSET), a day histogram in
// the case zone, the case's meta, a conversation, map points and thumbnails. Pure functions over a read-only
// connection; the HTTP layer (server.ts) only parses parameters and writes JSON.
import type Database from 'better-sqlite3';
import { buildFilter, FilterError, ftsQuery, resolveDevices, whereClause, type EventFilter, type EventRow } from '../timeline/query.js';
import { sniffImage } from '../timeline/thumbnails.js';
import { kindColor, kindLabel, knownKinds, timestampDesc } from '../report/describe.js';
import { zoneFormatter, zoneOf } from '../report/zoneTime.js';

export const PAGE_MAX = 500;
export const GEO_MAX = 5_000;
const DAY_US = 86_400_000_000;
/** Above this many matches, a page of a word or kinds search scans in time order instead of sorting every match. */
const COMMON = 5_000;

/** Filters as the page sends them (query-string values). */
export interface ApiFilter {
  from?: string;
  to?: string;
  kinds?: string;
  contact?: string;
  q?: string;
  tag?: string;
  tagged?: string;
  /** A device of the case: its evidence row id (or name, UDID, serial, as --device takes). */
  device?: string;
}

export interface ReviewFilter {
  filter: EventFilter;
}

export interface Cursor {
  ts: number;
  id: number;
}

export interface EventItem {
  id: number;
  ts: number;
  day: string;
  time: string;
  offset: string;
  kind: string;
  action: string;
  desc: string;
  title: string | null;
  body: string | null;
  direction: string | null;
  counterpart: string | null;
  counterpartName: string | null;
  threadId: number | null;
  service: string | null;
  durationS: number | null;
  latitude: number | null;
  longitude: number | null;
  recovered: boolean;
  thumb: number | null;
  source: { domain: string | null; path: string | null; sha256: string | null; table: string | null; rowid: number | null; extractor: string };
}

/** Whether the case has this table (older case files lack the newer ones; a read-only open never migrates). */
export function hasTable(db: Database.Database, name: string): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?").get(name);
}

export class ReviewApi {
  private readonly fmt: ReturnType<typeof zoneFormatter>;
  private metaCache: unknown = null;
  private readonly histCache = new Map<string, unknown>();
  private readonly hasThumbs: boolean;

  constructor(
    readonly db: Database.Database,
    readonly tz: string,
    readonly region: string,
    /** The tags in the case (what the tag filter accepts); null while the case has no tag tables. */
    readonly knownTags: () => string[] | null,
  ) {
    this.fmt = zoneFormatter(tz);
    this.hasThumbs = hasTable(db, 'thumbnails');
  }

  /** Parse the page's filter; a bad value is a FilterError (400), never an empty page. */
  parseFilter(q: ApiFilter): ReviewFilter {
    const tagged = q.tagged === '1' || q.tagged === 'true';
    const tags = this.knownTags();
    if ((q.tag || tagged) && !tags) throw new FilterError('no event is tagged in this case yet');
    const filter = buildFilter(
      {
        from: q.from || undefined,
        to: q.to || undefined,
        kinds: q.kinds || undefined,
        contact: q.contact || undefined,
        keyword: q.q || undefined,
        tag: q.tag || undefined,
        tagged,
      },
      this.tz,
      [...new Set([...knownKinds(), ...this.kindCounts().keys()])],
      this.region,
      tags ?? [],
    );
    if (q.device) filter.devices = resolveDevices(this.db, q.device);
    return { filter };
  }

  private readonly wordCounts = new Map<string, number>();

  /** How many events hold these words (FTS counts its own index; cached). */
  private wordMatches(keyword: string): number {
    const q = ftsQuery(keyword);
    let n = this.wordCounts.get(q);
    if (n === undefined) {
      n = (this.db.prepare('SELECT count(*) AS n FROM events_fts WHERE events_fts MATCH ?').get(q) as { n: number }).n;
      if (this.wordCounts.size > 1000) this.wordCounts.clear();
      this.wordCounts.set(q, n);
    }
    return n;
  }

  private counts: Map<string, number> | null = null;

  private kindCounts(): Map<string, number> {
    this.counts ??= new Map((this.db.prepare('SELECT kind, count(*) AS n FROM events GROUP BY kind').all() as { kind: string; n: number }[]).map((k) => [k.kind, k.n]));
    return this.counts;
  }

  private whoBuilt = false;

  /**
   * True when no event can match the contact filter. Checked with the same clause on the case's distinct
   * (counterpart, name) pairs plus the contact cards, gathered once into a TEMP table (a read-only connection may
   * write its own temp schema): a contact that names nothing would otherwise scan every event (1M: seconds).
   */
  private contactMatchesNothing(f: ReviewFilter): boolean {
    if (!f.filter.contact) return false;
    if (!this.whoBuilt) {
      this.db.exec(`CREATE TEMP TABLE IF NOT EXISTS review_who AS
        SELECT DISTINCT counterpart, counterpart_name, CASE WHEN extractor = 'contacts' THEN extractor END AS extractor,
          CASE WHEN extractor = 'contacts' THEN source_rowid END AS source_rowid
        FROM events WHERE counterpart IS NOT NULL OR counterpart_name IS NOT NULL OR extractor = 'contacts'`);
      this.whoBuilt = true;
    }
    const w = whereClause({ contact: f.filter.contact, contactE164: f.filter.contactE164 }, 'e');
    return !this.db.prepare(`SELECT 1 FROM temp.review_who e ${w.sql} LIMIT 1`).get(...w.params);
  }

  /** `pageOrder`: a page in time order is wanted, so common words are tested while scanning in that order. */
  private where(f: ReviewFilter, extra: string[] = [], extraParams: unknown[] = [], pageOrder = false): { sql: string; params: unknown[] } {
    const common = pageOrder && !!f.filter.keyword && this.wordMatches(f.filter.keyword) > COMMON;
    const kinds = pageOrder && (f.filter.kinds?.length ?? 0) > 1 && f.filter.kinds!.reduce((n, k) => n + (this.kindCounts().get(k) ?? 0), 0) > COMMON;
    const w = whereClause(f.filter, 'e', { wordsInTimeOrder: common, kindsInTimeOrder: kinds });
    const parts = w.sql ? [w.sql.replace(/^WHERE /, '')] : [];
    const params = [...w.params];
    parts.push(...extra);
    params.push(...extraParams);
    return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
  }

  /**
   * One page of dated events after `cursor` in the chosen order. `ts >= ? AND (ts > ? OR id > ?)` keeps the range
   * on the events_ts index (whose entries end with the rowid, so (ts_utc_us, id) order is free); the next cursor is
   * the last row's (ts, id).
   */
  events(f: ReviewFilter, o: { order: 'asc' | 'desc'; cursor: Cursor | null; limit: number }): { events: EventItem[]; next: string | null } {
    const limit = Math.max(1, Math.min(PAGE_MAX, Math.trunc(o.limit) || 100));
    if (this.contactMatchesNothing(f)) return { events: [], next: null };
    const asc = o.order === 'asc';
    const extra = ['e.ts_utc_us IS NOT NULL'];
    const extraParams: unknown[] = [];
    if (o.cursor) {
      extra.push(asc ? 'e.ts_utc_us >= ? AND (e.ts_utc_us > ? OR e.id > ?)' : 'e.ts_utc_us <= ? AND (e.ts_utc_us < ? OR e.id < ?)');
      extraParams.push(o.cursor.ts, o.cursor.ts, o.cursor.id);
    }
    const w = this.where(f, extra, extraParams, true);
    const dir = asc ? 'ASC' : 'DESC';
    const rows = this.db
      .prepare(
        `SELECT e.id, e.ts_utc_us, e.kind, e.action, e.title, e.body, e.direction, e.counterpart, e.counterpart_name, e.thread_id, e.service,
           e.duration_s, e.latitude, e.longitude, e.source_table, e.source_rowid, e.extractor, e.recovered,
           f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256,
           ${this.hasThumbs ? '(SELECT t.id FROM thumbnails t WHERE t.event_id = e.id LIMIT 1)' : 'NULL'} AS thumb
         FROM events e LEFT JOIN files f ON f.id = e.source_file_id
         ${w.sql} ORDER BY e.ts_utc_us ${dir}, e.id ${dir} LIMIT ?`,
      )
      .all(...w.params, limit) as RawRow[];
    const events = rows.map((r) => this.item(r));
    const last = events[events.length - 1];
    return { events, next: events.length === limit && last ? `${last.ts}.${last.id}` : null };
  }

  private item(r: RawRow): EventItem {
    const t = this.fmt(r.ts_utc_us);
    return {
      id: r.id,
      ts: r.ts_utc_us as number,
      day: t?.day ?? '',
      time: t?.time ?? '',
      offset: t?.offset ?? '',
      kind: r.kind,
      action: r.action,
      desc: timestampDesc(r.kind, r.action),
      title: r.title,
      body: r.body,
      direction: r.direction,
      counterpart: r.counterpart,
      counterpartName: r.counterpart_name,
      threadId: r.thread_id,
      service: r.service,
      durationS: r.duration_s,
      latitude: r.latitude,
      longitude: r.longitude,
      recovered: !!r.recovered,
      thumb: r.thumb ?? null,
      source: { domain: r.source_domain, path: r.source_path, sha256: r.source_sha256, table: r.source_table, rowid: r.source_rowid, extractor: r.extractor },
    };
  }

  /**
   * Events per day in the case zone. The case's time span is cut where the zone's offset changes (DST: about two
   * cuts a year), and SQL counts each piece by local day with that piece's fixed offset, so at most one row per
   * day comes back (counting 15-minute buckets and placing them here returned 70,000 rows for a million events).
   * Cached per filter.
   */
  histogram(f: ReviewFilter): { days: { day: string; n: number }[]; total: number; undated: number } {
    const key = JSON.stringify(f);
    const hit = this.histCache.get(key);
    if (hit) return hit as ReturnType<ReviewApi['histogram']>;
    const byDay = new Map<number, number>();
    let total = 0;
    const none = this.contactMatchesNothing(f);
    const K = 200_000; // days added so that integer division floors for times before 1970 too
    for (const piece of none ? [] : this.offsetPieces()) {
      const w = this.where(f, ['e.ts_utc_us >= ?', 'e.ts_utc_us < ?'], [piece.fromUs, piece.toUs]);
      const off = Math.trunc(piece.offsetMin) * 60_000_000; // an integer literal: a bound number would be REAL and not divide to days
      const rows = this.db
        .prepare(`SELECT (e.ts_utc_us + ${off} + ${K} * ${DAY_US}) / ${DAY_US} - ${K} AS d, count(*) AS n FROM events e ${w.sql} GROUP BY d`)
        .all(...w.params) as {
        d: number;
        n: number;
      }[];
      for (const { d, n } of rows) {
        byDay.set(d, (byDay.get(d) ?? 0) + n);
        total += n;
      }
    }
    const wu = this.where(f, ['e.ts_utc_us IS NULL']);
    const undated = none ? 0 : (this.db.prepare(`SELECT count(*) AS n FROM events e ${wu.sql}`).get(...wu.params) as { n: number }).n;
    const days = [...byDay.entries()].sort((a, b) => a[0] - b[0]).map(([d, n]) => ({ day: new Date(d * 86_400_000).toISOString().slice(0, 10), n }));
    const r = { days, total, undated };
    if (this.histCache.size > 200) this.histCache.clear();
    this.histCache.set(key, r);
    return r;
  }

  private pieces: { fromUs: number; toUs: number; offsetMin: number }[] | null = null;

  /** The case's time span in pieces of constant zone offset (found day by day, then to the millisecond). */
  private offsetPieces(): { fromUs: number; toUs: number; offsetMin: number }[] {
    if (this.pieces) return this.pieces;
    const r = this.db.prepare('SELECT min(ts_utc_us) AS lo, max(ts_utc_us) AS hi FROM events').get() as { lo: number | null; hi: number | null };
    if (r.lo === null || r.hi === null) return (this.pieces = []);
    const zone = zoneOf(this.tz);
    const DAY = 86_400_000;
    const loMs = Math.floor(r.lo / 1000);
    const hiMs = Math.floor(r.hi / 1000) + 1;
    const pieces: { fromUs: number; toUs: number; offsetMin: number }[] = [];
    let start = loMs;
    let off = zone.offset(loMs);
    for (let t = loMs; t < hiMs; ) {
      const next = Math.min(t + DAY, hiMs);
      const o = zone.offset(next);
      if (o !== off) {
        let a = t; // offset(a) === off, offset(b) !== off: narrow to the change
        let b = next;
        while (b - a > 1) {
          const m = Math.floor((a + b) / 2);
          if (zone.offset(m) === off) a = m;
          else b = m;
        }
        pieces.push({ fromUs: start * 1000, toUs: b * 1000, offsetMin: off });
        start = b;
        off = zone.offset(b);
      }
      t = next;
    }
    pieces.push({ fromUs: start * 1000, toUs: (hiMs + 1) * 1000, offsetMin: off });
    this.pieces = pieces;
    return pieces;
  }

  /** Forget cached answers that depend on tags (after a tag change). */
  tagsChanged(): void {
    for (const k of [...this.histCache.keys()]) if (k.includes('"tag"') || k.includes('"tagged"')) this.histCache.delete(k);
  }

  meta(): unknown {
    if (this.metaCache) return this.metaCache;
    const m = (k: string) => (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string | null } | undefined)?.value ?? null;
    const kinds = [...this.kindCounts().entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, n], i) => ({
        kind,
        n,
        label: kindLabel(kind),
        color: kindColor(kind, i),
      }));
    const devices = this.db.prepare('SELECT id, device_name AS name, product_type AS product, ios_version AS ios, serial, udid FROM evidence ORDER BY id').all();
    this.metaCache = {
      caseNumber: m('case_number'),
      examiner: m('examiner'),
      zone: this.tz,
      kinds,
      devices,
    };
    return this.metaCache;
  }

  /** A conversation: the thread and up to `limit` of its events on each side of `around` (or its first ones). */
  thread(threadId: number, around: number | null, limit = 100): unknown {
    const thread = this.db.prepare('SELECT id, identifier, display_name AS displayName, service, is_group AS isGroup FROM threads WHERE id = ?').get(threadId);
    if (!thread) return null;
    const participants = this.db.prepare('SELECT handle, name FROM participants WHERE thread_id = ? ORDER BY handle').all(threadId);
    const cols = `SELECT e.id, e.ts_utc_us, e.kind, e.action, e.title, e.body, e.direction, e.counterpart, e.counterpart_name, e.thread_id, e.service,
      e.duration_s, e.latitude, e.longitude, e.source_table, e.source_rowid, e.extractor, e.recovered,
      f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256, NULL AS thumb
      FROM events e LEFT JOIN files f ON f.id = e.source_file_id`;
    const pivot = around
      ? (this.db.prepare('SELECT ts_utc_us AS ts, id FROM events WHERE id = ? AND thread_id = ?').get(around, threadId) as { ts: number | null; id: number } | undefined)
      : undefined;
    let rows: RawRow[];
    if (pivot && pivot.ts !== null) {
      const before = this.db
        .prepare(`${cols} WHERE e.thread_id = ? AND e.ts_utc_us <= ? AND (e.ts_utc_us < ? OR e.id < ?) ORDER BY e.ts_utc_us DESC, e.id DESC LIMIT ?`)
        .all(threadId, pivot.ts, pivot.ts, pivot.id, limit) as RawRow[];
      const after = this.db
        .prepare(`${cols} WHERE e.thread_id = ? AND e.ts_utc_us >= ? AND (e.ts_utc_us > ? OR e.id >= ?) ORDER BY e.ts_utc_us, e.id LIMIT ?`)
        .all(threadId, pivot.ts, pivot.ts, pivot.id, limit + 1) as RawRow[];
      rows = [...before.reverse(), ...after];
    } else {
      rows = this.db.prepare(`${cols} WHERE e.thread_id = ? ORDER BY e.ts_utc_us IS NULL, e.ts_utc_us, e.id LIMIT ?`).all(threadId, limit * 2) as RawRow[];
    }
    return { thread, participants, events: rows.map((r) => this.item(r)) };
  }

  /** Located events for the map, evenly thinned to at most GEO_MAX points (the count says how many match). */
  geo(f: ReviewFilter): { points: { id: number; lat: number; lon: number; kind: string; day: string; time: string }[]; total: number } {
    if (this.contactMatchesNothing(f)) return { points: [], total: 0 };
    const w = this.where(f, ['e.latitude BETWEEN -90 AND 90', 'e.longitude BETWEEN -180 AND 180', 'e.ts_utc_us IS NOT NULL']);
    const total = (this.db.prepare(`SELECT count(*) AS n FROM events e ${w.sql}`).get(...w.params) as { n: number }).n;
    const step = Math.max(1, Math.ceil(total / GEO_MAX));
    const rows = this.db
      .prepare(
        `SELECT id, ts_utc_us, latitude, longitude, kind FROM (SELECT e.id, e.ts_utc_us, e.latitude, e.longitude, e.kind, row_number() OVER (ORDER BY e.ts_utc_us, e.id) AS rn FROM events e ${w.sql}) WHERE (rn - 1) % ? = 0 LIMIT ?`,
      )
      .all(...w.params, step, GEO_MAX) as { id: number; ts_utc_us: number; latitude: number; longitude: number; kind: string }[];
    return {
      total,
      points: rows.map((r) => {
        const t = this.fmt(r.ts_utc_us);
        return { id: r.id, lat: r.latitude, lon: r.longitude, kind: r.kind, day: t?.day ?? '', time: t?.time ?? '' };
      }),
    };
  }

  /** A stored thumbnail's bytes, only when they are the image type they claim to be. */
  thumbnail(id: number): { mime: string; data: Buffer } | null {
    if (!this.hasThumbs) return null;
    const r = this.db.prepare('SELECT mime, data FROM thumbnails WHERE id = ?').get(id) as { mime: string; data: Buffer } | undefined;
    if (!r?.data) return null;
    const actual = sniffImage(r.data);
    return actual && actual === r.mime.toLowerCase() ? { mime: actual, data: r.data } : null;
  }

  event(id: number): EventItem | null {
    const r = this.db
      .prepare(
        `SELECT e.*, f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256, NULL AS thumb
         FROM events e LEFT JOIN files f ON f.id = e.source_file_id WHERE e.id = ?`,
      )
      .get(id) as RawRow | undefined;
    return r ? this.item(r) : null;
  }
}

export function parseCursor(s: string | undefined): Cursor | null {
  if (!s) return null;
  const m = /^(-?\d{1,17})\.(\d{1,15})$/.exec(s);
  if (!m) throw new FilterError(`bad cursor "${s}"`);
  return { ts: Number(m[1]), id: Number(m[2]) };
}

/** A row of the review page's queries: the event columns it selects, plus its thumbnail's id. */
type RawRow = Pick<
  EventRow,
  | 'id'
  | 'ts_utc_us'
  | 'kind'
  | 'action'
  | 'title'
  | 'body'
  | 'direction'
  | 'counterpart'
  | 'counterpart_name'
  | 'thread_id'
  | 'service'
  | 'duration_s'
  | 'latitude'
  | 'longitude'
  | 'source_table'
  | 'source_rowid'
  | 'extractor'
  | 'source_domain'
  | 'source_path'
  | 'source_sha256'
> & { recovered: number | null; thumb: number | null };
