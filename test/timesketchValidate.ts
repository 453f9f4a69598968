// Timesketch's own check of an uploaded JSONL file, ported from read_and_validate_jsonl in
// google/timesketch timesketch/lib/utils.py (with its helpers _parse_tag_field and _scrub_special_tags), so a test
// proves the export is accepted the way the importer accepts it. Kept faithful, line for line:
//   - each line is parsed as JSON; a line that does not parse is a DataIngestionError ("Error parsing JSON at line N");
//   - no `datetime` but a `timestamp`: datetime is made from the first 10 digits of the timestamp (seconds);
//   - no `timestamp` but a `datetime`: the timestamp is parsed from it (dateutil); a datetime that cannot be parsed
//     skips the line (logged, not an error);
//   - `message`, `datetime` and `timestamp_desc` must all be present, else RuntimeError ("Missing field(s) at line N");
//   - `tag` becomes a list of non-empty strings; OpenSearch's own fields (_id, _type, _index, _source,
//     __ts_timeline_id) are removed.
// Added on top (what OpenSearch would reject after the importer): every field keeps one JSON type on all lines.
import { DateTime } from 'luxon';

export class DataIngestionError extends Error {}

const FIELDS_TO_REMOVE = ['_id', '_type', '_index', '_source', '__ts_timeline_id'];
const MANDATORY = ['message', 'datetime', 'timestamp_desc'];

/** _parse_tag_field: a list stays a list; "[…]" is JSON; "-" is none; "a,b" splits; anything else is one tag. */
function parseTagField(row: unknown): unknown[] {
  if (Array.isArray(row)) return row;
  const s = typeof row === 'string' ? row : String(row);
  if (s.startsWith('[') && s.endsWith(']')) return JSON.parse(s) as unknown[];
  if (s === '-') return [];
  if (s.includes(',')) return s.split(',');
  return [s];
}

/** dateutil.parser.parse for the ISO 8601 forms Timesketch sees; null where dateutil would raise ParserError. */
function parseDatetime(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const dt = DateTime.fromISO(v, { setZone: true });
  return dt.isValid ? dt.toMillis() : null;
}

export interface ValidationResult {
  lines: Record<string, unknown>[];
  /** Lines the importer would skip (datetime it cannot parse). */
  skipped: number[];
  /** Fields seen with more than one JSON type across the lines (OpenSearch would reject the later ones). */
  mixedTypes: Record<string, string[]>;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? `list of ${[...new Set(v.map(jsonType))].join('|')}` : 'list';
  return typeof v;
}

/** read_and_validate_jsonl over the text of one file; throws as the importer does. */
export function readAndValidateJsonl(text: string): ValidationResult {
  const lines: Record<string, unknown>[] = [];
  const skipped: number[] = [];
  const types = new Map<string, Set<string>>();
  let lineno = 0;
  // Python iterates a file by "\n"; the last empty string after the final newline is not a line.
  const raw = text.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  for (const line of raw) {
    lineno++;
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new DataIngestionError(`Error parsing JSON at line ${lineno}: ${(e as Error).message}`);
    }
    if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new DataIngestionError(`Error parsing JSON at line ${lineno}: not an object`);
    if (!('datetime' in d) && 'timestamp' in d) {
      const epoch = Number.parseInt(String(d.timestamp).slice(0, 10), 10);
      d.datetime = new Date(epoch * 1000).toISOString();
    }
    if (!('timestamp' in d) && 'datetime' in d) {
      const ms = parseDatetime(d.datetime);
      if (ms === null) {
        skipped.push(lineno);
        continue;
      }
      d.timestamp = Math.trunc(ms * 1000);
    }
    const missing = MANDATORY.filter((f) => !(f in d));
    if (missing.length) throw new Error(`Missing field(s) at line ${lineno}: ${missing.join(',')}`);
    if ('tag' in d) d.tag = parseTagField(d.tag).filter((x) => x);
    for (const f of FIELDS_TO_REMOVE) delete d[f];
    for (const [k, v] of Object.entries(d)) {
      const set = types.get(k) ?? new Set<string>();
      set.add(jsonType(v));
      types.set(k, set);
    }
    lines.push(d);
  }
  const mixedTypes: Record<string, string[]> = {};
  for (const [k, set] of types) {
    // An empty list agrees with any list; anything else must be one type.
    const kinds = [...set].filter((t) => t !== 'list');
    if (kinds.length > 1 || kinds.includes('null')) mixedTypes[k] = [...set];
  }
  return { lines, skipped, mixedTypes };
}
