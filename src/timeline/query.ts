// Reading events back out of a case file, with the filters every report and export accepts.
import type Database from 'better-sqlite3';
import { DateTime, IANAZone } from 'luxon';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export interface EventFilter {
  fromUs?: number;
  toUs?: number;
  kinds?: string[];
  contact?: string;
  /** --contact as an E.164 number, when it reads as one in the case's region: matches however the number was stored. */
  contactE164?: string;
  keyword?: string;
  /** --device: only events read from these devices (evidence row ids, schema v6). */
  devices?: number[];
  /** false: leave out the second copies of messages read from several devices (statistics count a message once). */
  duplicates?: boolean;
  /** Only events carrying this tag (src/timeline/tags.ts). */
  tag?: string;
  /** Only events carrying any tag. */
  tagged?: boolean;
}

export interface DeviceRow {
  id: number;
  device_name: string | null;
  product_type: string | null;
  ios_version: string | null;
  udid: string | null;
  serial: string | null;
  phone_number: string | null;
  backup_path: string;
  backup_date: string | null;
}

/** The devices (evidence sources) of a case, in ingest order. */
export function devicesOf(db: Database.Database): DeviceRow[] {
  return db
    .prepare('SELECT id, device_name, product_type, ios_version, udid, serial, phone_number, backup_path, backup_date FROM evidence ORDER BY id')
    .safeIntegers(false)
    .all() as DeviceRow[];
}

/** "2 (Alex’s iPhone)": how a device is named in reports and messages. */
export function deviceLabel(d: Pick<DeviceRow, 'id' | 'device_name'>): string {
  return `${d.id}${d.device_name ? ` (${d.device_name})` : ''}`;
}

/**
 * --device ID|name: an evidence id, or a device name, UDID or serial number (case-insensitive; a name may be a
 * unique part of one). Several values are separated by commas. An unknown or ambiguous one is an error that
 * lists the case's devices, never an empty result.
 */
export function resolveDevices(db: Database.Database, spec: string): number[] {
  const devices = devicesOf(db);
  const list = devices.map(deviceLabel).join(', ') || 'none';
  const ids = new Set<number>();
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const v = raw.toLowerCase();
    const exact = devices.filter((d) => String(d.id) === raw || [d.device_name, d.udid, d.serial].some((x) => x != null && x.toLowerCase() === v));
    const found = exact.length ? exact : devices.filter((d) => d.device_name?.toLowerCase().includes(v));
    if (!found.length) throw new FilterError(`no device "${raw}" in this case (devices: ${list})`);
    if (found.length > 1) throw new FilterError(`--device "${raw}" matches several devices (${found.map(deviceLabel).join(', ')}); give the id`);
    ids.add(found[0].id);
  }
  return [...ids];
}

export interface EventRow {
  id: number;
  ts_utc_us: number | null;
  ts_raw: string | null;
  ts_epoch: string | null;
  kind: string;
  action: string;
  title: string | null;
  body: string | null;
  direction: string | null;
  counterpart: string | null;
  counterpart_name: string | null;
  thread_id: number | null;
  service: string | null;
  duration_s: number | null;
  latitude: number | null;
  longitude: number | null;
  accuracy_m: number | null;
  source_file_id: number | null;
  source_table: string | null;
  source_rowid: number | null;
  extractor: string;
  extra_json: string | null;
  /** 1 when read from deleted or superseded data (schema v4; absent in older case files). */
  recovered?: number;
  recovered_from?: string | null;
  confidence?: string | null;
  /** The evidence row (device) the event was read from, and the first copy of the same message on another device (schema v6). */
  device_id?: number | null;
  duplicate_of?: number | null;
  source_domain: string | null;
  source_path: string | null;
  source_sha256: string | null;
}

export class FilterError extends Error {}

export function validateZone(tz: string): string {
  if (!IANAZone.isValidZone(tz) && tz.toUpperCase() !== 'UTC') throw new FilterError(`unknown time zone "${tz}" (use an IANA name such as Europe/Berlin or UTC)`);
  return tz.toUpperCase() === 'UTC' ? 'UTC' : tz;
}

/** `2024-03-01` or `2024-03-01T12:00` (read in the case's zone) or a full ISO time with offset. */
export function parseTimeBound(value: string, tz: string, endOfDay: boolean): number {
  const dt = DateTime.fromISO(value, { zone: tz, setZone: false });
  if (!dt.isValid) throw new FilterError(`cannot read "${value}" as a date or time (use ISO 8601, e.g. 2024-03-01 or 2024-03-01T14:30)`);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const bound = dateOnly && endOfDay ? dt.endOf('day') : dt;
  return bound.toMillis() * 1000 + (dateOnly && endOfDay ? 999 : 0);
}

/** The filter of --from/--to/--kinds/--contact/--keyword/--tag/--tagged. A misspelt kind or tag or a range that
 *  ends before it starts is an error, never an empty result; `knownKinds` lists what --kinds accepts and
 *  `knownTags` the tags in the case (--tag accepts only those). */
export function buildFilter(
  o: { from?: string; to?: string; kinds?: string; contact?: string; keyword?: string; tag?: string; tagged?: boolean },
  tz: string,
  knownKinds?: readonly string[],
  region = 'US',
  knownTags?: readonly string[],
): EventFilter {
  const f: EventFilter = {};
  if (o.from) f.fromUs = parseTimeBound(o.from, tz, false);
  if (o.to) f.toUs = parseTimeBound(o.to, tz, true);
  if (f.fromUs !== undefined && f.toUs !== undefined && f.fromUs > f.toUs) throw new FilterError(`--from ${o.from} is after --to ${o.to}`);
  if (o.kinds)
    f.kinds = o.kinds
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  const unknown = knownKinds && f.kinds ? f.kinds.filter((k) => !knownKinds.includes(k)) : [];
  if (unknown.length) throw new FilterError(`unknown kind${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (kinds: ${knownKinds!.join(', ')})`);
  if (o.contact) {
    f.contact = o.contact;
    if (/^[+\d(][\d\s().\-/]*$/.test(o.contact.trim())) {
      const p = parsePhoneNumberFromString(o.contact.trim(), region.toUpperCase() as CountryCode);
      if (p?.isPossible()) f.contactE164 = p.number;
    }
  }
  if (o.keyword) f.keyword = o.keyword;
  if (o.tag !== undefined) {
    const tag = o.tag.trim().normalize('NFC');
    if (!tag) throw new FilterError('--tag needs a tag name');
    if (knownTags && !knownTags.includes(tag))
      throw new FilterError(
        `no event is tagged "${tag}" in this case (${knownTags.length ? `tags: ${knownTags.join(', ')}` : 'the case has no tags; add some with ios-timeline tag'})`,
      );
    f.tag = tag;
  }
  if (o.tagged) f.tagged = true;
  return f;
}

/**
 * A message read from several devices, once: its later copies (duplicate_of set) are left out, unless --device
 * leaves out the device of the first copy (then the copy is the one this selection holds).
 */
export function onceClause(f: EventFilter, alias = 'e'): string {
  const devices = (f.devices ?? []).map((d) => Math.trunc(Number(d))).filter(Number.isFinite);
  if (!devices.length) return `${alias}.duplicate_of IS NULL`;
  return `(${alias}.duplicate_of IS NULL OR (SELECT o.device_id FROM events o WHERE o.id = ${alias}.duplicate_of) NOT IN (${devices.join(',')}))`;
}

/** --keyword as an FTS5 query: each word quoted, so user input is never FTS syntax. */
export function ftsQuery(keyword: string): string {
  return keyword
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => `"${w.replace(/"/g, '""')}"`)
    .join(' ');
}

/**
 * The WHERE clause of a filter. Tag and full-text tests are `id IN (list)`, so SQLite may start from the list (a rare
 * tag or word: a few rowid lookups) or scan in time order and test membership. `wordsInTimeOrder` forces the
 * second for the words (`+id` cannot drive the query): the review page asks for it when a word matches thousands of
 * events and only the first page of them in time order is wanted (1M events, a word in 80,000: 1.3 s → tens of ms).
 * `kindsInTimeOrder` does the same for kinds: two common kinds were read whole from events_kind and sorted
 * (750,000 rows, 2.5 s) for a page of 200.
 */
export function whereClause(f: EventFilter, alias = 'e', o: { wordsInTimeOrder?: boolean; kindsInTimeOrder?: boolean } = {}): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.fromUs !== undefined) {
    parts.push(`${alias}.ts_utc_us >= ?`);
    params.push(f.fromUs);
  }
  if (f.toUs !== undefined) {
    parts.push(`${alias}.ts_utc_us <= ?`);
    params.push(f.toUs);
  }
  if (f.kinds?.length) {
    parts.push(`${o.kindsInTimeOrder ? '+' : ''}${alias}.kind IN (${f.kinds.map(() => '?').join(',')})`);
    params.push(...f.kinds);
  }
  if (f.contact) {
    // The counterpart as stored, its contact name, or (E.164) the same number written another way; and the contact
    // cards that hold the number, whichever format the address book used.
    const like = `%${f.contact.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const e164 = f.contactE164 ?? null;
    parts.push(`(${alias}.counterpart LIKE ? ESCAPE '\\' OR ${alias}.counterpart_name LIKE ? ESCAPE '\\' OR (? IS NOT NULL AND ${alias}.counterpart LIKE '%' || ? || '%')
      OR (${alias}.extractor = 'contacts' AND ${alias}.source_rowid IN (SELECT c.source_rowid FROM contacts c JOIN contact_handles h ON h.contact_id = c.id
        WHERE h.normalized = ? OR h.value LIKE ? ESCAPE '\\')))`);
    params.push(like, like, e164, e164, e164, like);
  }
  if (f.devices?.length) {
    parts.push(`${alias}.device_id IN (${f.devices.map(() => '?').join(',')})`);
    params.push(...f.devices);
  }
  if (f.duplicates === false) parts.push(onceClause(f, alias));
  if (f.keyword) {
    // FTS5 phrase query: quote the words so user input is never FTS syntax.
    parts.push(`${o.wordsInTimeOrder ? '+' : ''}${alias}.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)`);
    params.push(ftsQuery(f.keyword));
  }
  // IN, not a correlated EXISTS: EXISTS tested every event of a 1M-event case for 120 tagged ones (2.4 s).
  if (f.tag !== undefined) {
    parts.push(`${alias}.id IN (SELECT t.event_id FROM event_tags t WHERE t.tag = ?)`);
    params.push(f.tag);
  }
  if (f.tagged) parts.push(`${alias}.id IN (SELECT t.event_id FROM event_tags t)`);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

const SELECT_EVENTS = `SELECT e.*, f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256
  FROM events e LEFT JOIN files f ON f.id = e.source_file_id`;

/**
 * Time order (dated events by time then id, undated ones last by id) as two statements that each walk an index:
 * one `ORDER BY ts IS NULL, ts, id` sorts every selected row in a temporary B-tree first (on a 2.1M-event case,
 * 1.9 GB of finished export lines, before the first one is written).
 */
export function inTimeOrder(head: string, w: { sql: string; params: unknown[] }, alias = 'e'): { sql: string; params: unknown[] }[] {
  const and = w.sql ? `${w.sql} AND` : 'WHERE';
  return [
    { sql: `${head} ${and} ${alias}.ts_utc_us IS NOT NULL ORDER BY ${alias}.ts_utc_us, ${alias}.id`, params: w.params },
    { sql: `${head} ${and} ${alias}.ts_utc_us IS NULL ORDER BY ${alias}.id`, params: w.params },
  ];
}

/** Events in time order (undated events last), streamed: never the whole table in memory. */
export function* iterateEvents(db: Database.Database, f: EventFilter = {}): IterableIterator<EventRow> {
  for (const q of inTimeOrder(SELECT_EVENTS, whereClause(f))) {
    const stmt = db.prepare(q.sql);
    stmt.safeIntegers(false);
    yield* stmt.iterate(...q.params) as IterableIterator<EventRow>;
  }
}

export function countEvents(db: Database.Database, f: EventFilter = {}): number {
  const w = whereClause(f);
  return Number((db.prepare(`SELECT count(*) AS n FROM events e ${w.sql}`).get(...w.params) as { n: number }).n);
}
