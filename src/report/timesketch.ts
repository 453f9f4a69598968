// The Timesketch export (docs/design.md "Timesketch"): JSON lines that Timesketch's importer accepts as they are,
// split into files under its upload limit.
//
// The contract, tested with a port of Timesketch's own read_and_validate_jsonl (test/timesketchValidate.ts):
//   - every line has `message`, `datetime` (ISO 8601 with its +00:00 offset), `timestamp` (µs) and `timestamp_desc`;
//   - an event without a time cannot be placed on a timeline: it is left out and counted (`undated`);
//   - every field keeps one JSON type on every line (OpenSearch fixes a field's type from the first value it sees,
//     and rejects a line that disagrees): a field without a value is left out of that line, never null;
//   - `data_type` (the kind's descriptor), `device` (the device's name and id), `case_number`, and `tag` as a list
//     (the examiner's tags on the event, when the case has a tags table).
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { iterateEvents, devicesOf, deviceLabel, type EventFilter } from '../timeline/query.js';
import { dataType } from './describe.js';
import { eventLabel, threadNames, toExportRecord } from './exports.js';

/** One JSON type per field: what every line of the export holds for it (when it holds it). */
type FieldType = 'string' | 'number' | 'boolean' | 'strings' | 'edits';
export const TIMESKETCH_FIELDS: Record<string, FieldType> = {
  message: 'string',
  datetime: 'string',
  timestamp: 'number',
  timestamp_desc: 'string',
  data_type: 'string',
  device: 'string',
  device_id: 'number',
  case_number: 'string',
  tag: 'strings',
  kind: 'string',
  action: 'string',
  text: 'string',
  direction: 'string',
  counterpart: 'string',
  counterpart_name: 'string',
  service: 'string',
  thread: 'string',
  duration_s: 'number',
  latitude: 'number',
  longitude: 'number',
  accuracy_m: 'number',
  ts_raw: 'string',
  ts_epoch: 'string',
  extractor: 'string',
  source_domain: 'string',
  source_path: 'string',
  source_table: 'string',
  source_rowid: 'number',
  source_sha256: 'string',
  event_id: 'number',
  duplicate_of: 'number',
  recovered: 'boolean',
  recovered_from: 'string',
  confidence: 'string',
  edited: 'boolean',
  edit_history: 'edits',
  unsent: 'boolean',
  deleted: 'boolean',
  reply_to: 'number',
  reaction_to: 'number',
};

const FIELD_LIST = Object.entries(TIMESKETCH_FIELDS);

/** The importer's limit: the web upload and timesketch_importer both take files far below this comfortably. */
export const DEFAULT_SPLIT_MB = 100;

export interface TimesketchResult {
  /** The files written, in order (one unless the export was split). */
  files: string[];
  events: number;
  /** Events left out because they carry no time. */
  undated: number;
}

/** A value as its field's one type, or undefined (left out of the line) when it has none. */
function typed(type: FieldType, v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  switch (type) {
    case 'string':
      return typeof v === 'string' ? v : String(v);
    case 'number': {
      const n = typeof v === 'number' ? v : Number(v);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      return !!v;
    case 'strings':
      return Array.isArray(v) ? v.filter((x) => x !== null && x !== undefined && x !== '').map(String) : [String(v)];
    case 'edits':
      // A list of {text, datetime} objects: each key kept only with a string value, so the nested fields keep one type too.
      return Array.isArray(v)
        ? v.map((e: { text?: unknown; datetime?: unknown }) => {
            const o: Record<string, string> = {};
            if (typeof e?.text === 'string') o.text = e.text;
            if (typeof e?.datetime === 'string') o.datetime = e.datetime;
            return o;
          })
        : undefined;
  }
}

/** The examiner's tags of an event (event_tags, src/timeline/tags.ts); none in a case read without migrating that predates them. */
function tagReader(db: Database.Database): (eventId: number) => string[] {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_tags'").get();
  if (!has) return () => [];
  const stmt = db.prepare('SELECT tag FROM event_tags WHERE event_id = ? ORDER BY tag').pluck();
  return (id) => stmt.all(id) as string[];
}

/** "2024-03-15T18:30:00.123456+00:00": ISO 8601 with an explicit offset (times are UTC). */
export function isoWithOffset(iso: string): string {
  return iso.endsWith('Z') ? `${iso.slice(0, -1)}+00:00` : iso;
}

/** The name of part `n` of `total`: timeline.jsonl → timeline.001.jsonl (a single part keeps the name). */
export function partName(out: string, n: number, total: number): string {
  if (total <= 1) return out;
  const ext = path.extname(out) || '.jsonl';
  const base = out.slice(0, out.length - path.extname(out).length);
  return `${base}.${String(n).padStart(3, '0')}${ext}`;
}

/**
 * Stream the filtered, dated events as Timesketch JSONL into `out`, or into numbered parts of at most `splitMb` MB.
 * The parts are written under temporary names and renamed only when all are complete.
 */
export function exportTimesketch(db: Database.Database, out: string, filter: EventFilter = {}, opts: { splitMb?: number; caseNumber?: string } = {}): TimesketchResult {
  const limit = Math.floor((opts.splitMb ?? DEFAULT_SPLIT_MB) * 1024 * 1024);
  if (!(limit > 0)) throw new Error('the split size must be a positive number of MB');
  const names = threadNames(db);
  const devices = new Map(devicesOf(db).map((d) => [d.id, deviceLabel(d)]));
  const tags = tagReader(db);
  const caseNumber = opts.caseNumber ?? '';
  const partials: string[] = [];
  let fd: number | null = null;
  let bytes = 0;
  let buffer: string[] = [];
  let buffered = 0;
  const flush = () => {
    if (fd !== null && buffer.length) fs.writeSync(fd, buffer.join(''));
    buffer = [];
    buffered = 0;
  };
  const open = () => {
    flush();
    if (fd !== null) fs.closeSync(fd);
    const p = `${out}.part${partials.length + 1}.partial`;
    fd = fs.openSync(p, 'w');
    partials.push(p);
    bytes = 0;
  };
  let events = 0;
  let undated = 0;
  try {
    open();
    for (const e of iterateEvents(db, filter)) {
      let line: string;
      try {
        const r = toExportRecord(e, names) as Record<string, unknown>;
        if (typeof r.datetime !== 'string') {
          undated++;
          continue;
        }
        r.datetime = isoWithOffset(r.datetime);
        r.data_type = dataType(e.kind);
        r.device = e.device_id != null ? (devices.get(e.device_id) ?? String(e.device_id)) : undefined;
        r.device_id = e.device_id;
        r.duplicate_of = e.duplicate_of;
        r.case_number = caseNumber;
        r.tag = tags(e.id);
        const out: Record<string, unknown> = {};
        for (const [field, type] of FIELD_LIST) {
          const v = typed(type, r[field]);
          if (v !== undefined) out[field] = v;
        }
        line = `${JSON.stringify(out)}\n`;
      } catch (err) {
        throw new Error(`timesketch export stopped at ${eventLabel(e)}: ${(err as Error).message}`);
      }
      const size = Buffer.byteLength(line);
      if (bytes > 0 && bytes + size > limit) open();
      buffer.push(line);
      buffered += line.length;
      bytes += size;
      events++;
      if (buffered > 1 << 20) flush();
    }
    flush();
    if (fd !== null) fs.closeSync(fd);
    fd = null;
    const files = partials.map((_, i) => partName(out, i + 1, partials.length));
    partials.forEach((p, i) => fs.renameSync(p, files[i]));
    return { files, events, undated };
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    for (const p of partials) fs.rmSync(p, { force: true });
    throw e;
  }
}
