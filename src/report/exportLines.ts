// JSONL and CSV lines written by SQLite: one SQL expression per export field turns each event row into its finished
// line, so no row becomes a JS object (issue 19: objects, JSON.stringify and time formatting cost 30 of 50 s on a
// 2-million-event case). Every value SQLite cannot write exactly as JSON.stringify / csvCell would (a non-integral
// REAL, an integer beyond 2^53, a time outside years 1–9999, a line with newlines, message facts) goes to a small
// JS function registered on the connection, so the output stays byte-identical to toExportRecord's
// (test/export-golden.test.ts compares against golden files written by the object-based code).
import type Database from 'better-sqlite3';
import { isoFromUs } from '../formats/appleTime.js';
import { KINDS } from '../extractors/registry.js';
import { messageLine, timestampDesc } from './describe.js';
import { messageFacts } from './facts.js';
import { csvCell, EXPORT_FIELDS, orphanReason, threadNames } from './exports.js';
import { inTimeOrder, whereClause, type EventFilter } from '../timeline/query.js';

type Fmt = 'jsonl' | 'csv';

/** The facts fields of an event without message facts, as toExportRecord writes them. */
const NO_FACTS: Record<Fmt, string> = {
  jsonl: '"edited":false,"edit_history":[],"unsent":false,"deleted":false,"reply_to":null,"reaction_to":null',
  csv: 'false,[],false,false,,',
};
const FACT_FIELDS = ['edited', 'edit_history', 'unsent', 'deleted', 'reply_to', 'reaction_to'] as const;

/** JS side of the SQL: each returns the finished JSON text or CSV cell of one value. */
export function registerExportFunctions(db: Database.Database): void {
  const names = threadNames(db);
  const o = { deterministic: true, safeIntegers: false };
  db.function('iot_json', o, (v: unknown) => JSON.stringify(v ?? null));
  db.function('iot_thread', o, (id: number) => names.get(id) ?? String(id));
  db.function('iot_orphan', o, (extra: string | null) => orphanReason(extra));
  db.function('iot_csv', o, (v: unknown) => csvCell(v));
  db.function('iot_iso', o, (us: number | null) => isoFromUs(us));
  db.function('iot_desc', o, (k: string, a: string) => timestampDesc(String(k), String(a)));
  db.function('iot_message', o, (title: string | null, kind: string, action: string, body: string | null) => messageLine({ title, kind, action, body }));
  for (const fmt of ['jsonl', 'csv'] as const) {
    db.function(`iot_facts_${fmt}`, o, (extra: string | null) => {
      const f = messageFacts(extra);
      const v = {
        edited: !!f?.edited,
        edit_history: f ? f.edit_history.map((h) => ({ text: h.text, datetime: h.datetime })) : [],
        unsent: !!f?.unsent,
        deleted: !!f?.deleted,
        reply_to: f?.reply_to ?? null,
        reaction_to: f?.reaction_to ?? null,
      };
      return fmt === 'jsonl' ? JSON.stringify(v).slice(1, -1) : FACT_FIELDS.map((k) => csvCell(v[k])).join(',');
    });
  }
}

// ---- one value as JSON text / CSV cell, in SQL ----

const isText = (x: string) => `typeof(${x}) IN ('text','null')`;
/** Integers JS reads exactly (|n| ≤ 2^53 − 1) print the same in SQLite. */
const isSafeInt = (x: string) => `(typeof(${x}) = 'integer' AND ${x} BETWEEN -9007199254740991 AND 9007199254740991)`;

/** SQLite writes a REAL as 17 digits where JS writes the shortest: only integral ones are written in SQL. */
function jsonNumber(x: string): string {
  return `CASE WHEN ${x} IS NULL THEN 'null' WHEN ${isSafeInt(x)} THEN ${x}
    WHEN typeof(${x}) = 'real' AND abs(${x}) < 1e15 AND ${x} = CAST(${x} AS INTEGER) THEN CAST(${x} AS INTEGER) ELSE iot_json(${x}) END`;
}

/** csvCell in SQL: formula-looking text gets an apostrophe (an E.164 number alone stays data), then RFC 4180 quoting. */
function csvText(x: string): string {
  const phoneOnly = `(${x} GLOB '+[1-9]*' AND length(${x}) BETWEEN 8 AND 16 AND substr(${x}, 2) NOT GLOB '*[^0-9]*')`;
  const guarded = `CASE WHEN substr(${x}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) AND NOT ${phoneOnly} THEN '''' || ${x} ELSE ${x} END`;
  return `CASE WHEN ${x} IS NULL THEN '' WHEN typeof(${x}) <> 'text' THEN iot_csv(${x})
    WHEN ${x} GLOB ('*[",' || char(10) || char(13) || ']*') THEN '"' || replace(${guarded}, '"', '""') || '"'
    ELSE ${guarded} END`;
}
function csvNumber(x: string): string {
  return `CASE WHEN ${x} IS NULL THEN '' ELSE ${jsonNumber(x)} END`;
}

/** ISO 8601 UTC with microseconds as isoFromUs writes it, for times JS reads exactly (|µs| ≤ 2^53: years 1685–2255);
 *  anything else is `other` (JS). From 1970 on, one integer division gives the seconds and substr the fraction (no
 *  printf: about a third of the cost); before it, floor division by hand, since SQLite's truncates. */
function isoSql(ts: string, other = `iot_iso(${ts})`): string {
  const fraction = `CASE WHEN ${ts} % 1000 = 0 THEN substr(1000 + ${ts} / 1000 % 1000, 2) ELSE substr(1000000 + ${ts} % 1000000, 2) END`;
  const fromEpoch = `strftime('%Y-%m-%dT%H:%M:%S', ${ts} / 1000000, 'unixepoch') || '.' || ${fraction} || 'Z'`;
  const us = `((${ts} % 1000 + 1000) % 1000)`;
  const ms = `((${ts} - ${us}) / 1000)`;
  const msRest = `((${ms} % 1000 + 1000) % 1000)`;
  const s = `((${ms} - ${msRest}) / 1000)`;
  const text = `strftime('%Y-%m-%dT%H:%M:%S', ${s}, 'unixepoch') || '.' || printf('%03d', ${msRest}) || CASE ${us} WHEN 0 THEN '' ELSE printf('%03d', ${us}) END || 'Z'`;
  return `CASE WHEN ${ts} IS NULL THEN NULL WHEN typeof(${ts}) = 'integer' AND ${ts} BETWEEN 0 AND 9007199254740991 THEN ${fromEpoch}
    WHEN ${isSafeInt(ts)} THEN ${text} ELSE ${other} END`;
}

/** timestamp_desc: the declared wording of every known (kind, action), as a CASE on kind then action; anything else asks describe.ts. */
function descSql(cell: (s: string) => string = (s) => s): string {
  const other = cell === csvCell ? 'iot_csv(iot_desc(e.kind, e.action))' : 'iot_desc(e.kind, e.action)';
  return descCase((w) => sqlString(cell(w)), other);
}

/** The CASE on kind then action, each known wording written by `word` (SQL); `other` for the rest. Messages are
 *  tested first: most of a phone's events. */
function descCase(word: (w: string) => string, other: string): string {
  const kinds = [...KINDS.values()].sort((a, b) => Number(b.kind === 'message') - Number(a.kind === 'message'));
  const byKind = kinds.map((k) => {
    const actions = Object.keys(k.actions).map((a) => `WHEN ${sqlString(a)} THEN ${word(timestampDesc(k.kind, a))}`);
    return `WHEN ${sqlString(k.kind)} THEN CASE e.action ${actions.join(' ')} ELSE ${other} END`;
  });
  return `CASE WHEN typeof(e.kind) <> 'text' OR typeof(e.action) <> 'text' THEN ${other} ELSE CASE e.kind ${byKind.join(' ')} ELSE ${other} END END`;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * messageLine folds newlines with a Unicode-aware regex: lines holding CR or LF are written by it, and so are those
 * of an untitled event whose wording is not declared (describe.ts makes it). The wording is looked up once.
 */
function messageSql(): string {
  const nl = (x: string) => `(instr(${x}, char(10)) > 0 OR instr(${x}, char(13)) > 0)`;
  const js = 'iot_message(e.title, e.kind, e.action, e.body)';
  const known = descCase((w) => (/[\r\n]/.test(w) ? 'NULL' : sqlString(w)), 'NULL');
  const text = `CASE WHEN e.body IS NOT NULL AND e.body <> '' THEN ': ' || e.body ELSE '' END`;
  return `CASE WHEN NOT (${isText('e.title')} AND ${isText('e.body')}) OR ${nl("COALESCE(e.body, '')")} THEN ${js}
    WHEN e.title IS NOT NULL THEN CASE WHEN ${nl('e.title')} THEN ${js} ELSE e.title || ${text} END
    ELSE COALESCE((${known}) || ${text}, ${js}) END`;
}

/** No extra_json.orphan (orphanReason() reads it only then). */
const NO_ORPHAN = `(e.extra_json IS NULL OR (typeof(e.extra_json) = 'text' AND instr(e.extra_json, '"orphan"') = 0))`;

/** The thread's name as threadNames() gives it: display name, else identifier, else the id. */
const THREAD_SQL = `CASE WHEN e.thread_id IS NULL THEN NULL WHEN t.id IS NULL THEN CAST(e.thread_id AS TEXT)
  ELSE COALESCE(NULLIF(t.display_name, ''), NULLIF(t.identifier, ''), CAST(t.id AS TEXT)) END`;

/** Fields whose value is a plain column (or SQL computed from one), and whether it is text or a number. */
function fieldValues(hasRecovery: boolean): Record<string, { sql: string; type: 'text' | 'number' | 'bool' }> {
  const desc = descSql();
  const t = (sql: string) => ({ sql, type: 'text' as const });
  const n = (sql: string) => ({ sql, type: 'number' as const });
  return {
    datetime: t(isoSql('e.ts_utc_us')),
    timestamp: n('e.ts_utc_us'),
    timestamp_desc: t(desc),
    message: t(messageSql()),
    kind: t('e.kind'),
    action: t('e.action'),
    text: t('e.body'),
    direction: t('e.direction'),
    counterpart: t('e.counterpart'),
    counterpart_name: t('e.counterpart_name'),
    service: t('e.service'),
    thread: t(THREAD_SQL),
    duration_s: n('e.duration_s'),
    latitude: n('e.latitude'),
    longitude: n('e.longitude'),
    accuracy_m: n('e.accuracy_m'),
    ts_raw: t('e.ts_raw'),
    ts_epoch: t('e.ts_epoch'),
    extractor: t('e.extractor'),
    source_domain: t('f.domain'),
    source_path: t('f.relative_path'),
    source_table: t('e.source_table'),
    source_rowid: n('e.source_rowid'),
    source_sha256: t('f.sha256'),
    event_id: n('e.id'),
    recovered: { sql: hasRecovery ? `typeof(e.recovered) IN ('integer','real') AND e.recovered = 1` : '0', type: 'bool' },
    recovered_from: t(hasRecovery ? 'e.recovered_from' : 'NULL'),
    confidence: t(hasRecovery ? 'e.confidence' : 'NULL'),
    orphan: t(`CASE WHEN ${NO_ORPHAN} THEN NULL ELSE iot_orphan(e.extra_json) END`),
  };
}

/**
 * The SELECT that yields one finished line per filtered event, in export order; null when EXPORT_FIELDS holds a
 * field this module cannot write (one added without SQL here): the caller then writes objects as before.
 */
export function exportLinesSql(db: Database.Database, fmt: Fmt, filter: EventFilter): { sql: string; params: unknown[] }[] | null {
  const head = exportLinesHead(db, fmt);
  return head === null ? null : inTimeOrder(head, whereClause(filter));
}

/**
 * `SELECT <line> AS line FROM events e …` without WHERE or ORDER BY (the export adds them: whole, or a time range per
 * worker in exportParallel.ts). The finished line comes as UTF-8 bytes with its end of line: no round trip through a
 * JS string.
 */
export function exportLinesHead(db: Database.Database, fmt: Fmt): string | null {
  const cols = new Set((db.prepare('PRAGMA table_info(events)').all() as { name: string }[]).map((c) => c.name));
  const values = fieldValues(cols.has('recovered') && cols.has('recovered_from') && cols.has('confidence'));
  const keyTest = ['edited', 'edit_history', 'unsent', 'recently_deleted', 'reply_to_event_id', 'reacted_to_event_id']
    .map((k) => `instr(e.extra_json, '"${k}"') = 0`)
    .join(' AND ');
  // A thread id JS would read differently (not a safe integer) or a thread name that is not text: the JS way.
  const threadOdd = `(e.thread_id IS NOT NULL AND NOT (${isSafeInt('e.thread_id')} AND ${isText('t.display_name')} AND ${isText('t.identifier')}))`;
  const line = fmt === 'jsonl' ? jsonlLine(values, keyTest, threadOdd) : csvLine(values, keyTest, threadOdd);
  if (line === null) return null;
  const eol = fmt === 'jsonl' ? '\n' : '\r\n';
  return `SELECT CAST(${line} || ${sqlString(eol)} AS BLOB) AS line FROM events e LEFT JOIN files f ON f.id = e.source_file_id LEFT JOIN threads t ON t.id = e.thread_id`;
}

/** The six facts fields are one block, in this order (they come from one JS call when an event has facts). */
function factsInOrder(): boolean {
  const at = EXPORT_FIELDS.indexOf(FACT_FIELDS[0]);
  return at > 0 && FACT_FIELDS.every((f, i) => EXPORT_FIELDS[at + i] === f);
}

/** CSV: one concat() of csvCell-equal cells. Computed text (message, thread) is escaped by csvCell itself, once. */
function csvLine(values: ReturnType<typeof fieldValues>, keyTest: string, threadOdd: string): string | null {
  if (!factsInOrder()) return null;
  const cells: string[] = [];
  for (const name of EXPORT_FIELDS) {
    if (name === FACT_FIELDS[0])
      cells.push(`CASE WHEN e.extra_json IS NULL OR (typeof(e.extra_json) = 'text' AND ${keyTest}) THEN ${sqlString(NO_FACTS.csv)} ELSE iot_facts_csv(e.extra_json) END`);
    if ((FACT_FIELDS as readonly string[]).includes(name)) continue;
    const v = values[name];
    if (!v) return null;
    let expr: string;
    if (name === 'datetime') expr = `COALESCE(${isoSql('e.ts_utc_us', 'iot_csv(iot_iso(e.ts_utc_us))')}, '')`;
    else if (name === 'timestamp_desc') expr = descSql(csvCell);
    else if (name === 'message') expr = `iot_csv(${v.sql})`;
    else if (name === 'orphan') expr = `CASE WHEN ${NO_ORPHAN} THEN '' ELSE iot_csv(iot_orphan(e.extra_json)) END`;
    else if (name === 'thread') expr = `CASE WHEN ${threadOdd} THEN iot_csv(iot_thread(e.thread_id)) ELSE iot_csv(${v.sql}) END`;
    else if (v.type === 'bool') expr = `CASE WHEN ${v.sql} THEN 'true' ELSE 'false' END`;
    else if (v.type === 'number') expr = csvNumber(v.sql);
    else expr = csvText(v.sql);
    cells.push(expr);
  }
  // One concat_ws() per line: chained || would copy the growing line once per field.
  return `concat_ws(',', ${cells.join(', ')})`;
}

/**
 * JSONL: one json_object() per line (a single allocation; SQLite quotes text exactly as JSON.stringify does). Numbers
 * SQLite would write differently (non-integral REALs, integers beyond 2^53) come from JS through json(), which keeps
 * their text.
 */
function jsonlLine(values: ReturnType<typeof fieldValues>, keyTest: string, threadOdd: string): string | null {
  if (!factsInOrder()) return null;
  const before: string[] = [];
  const after: string[] = [];
  for (const name of EXPORT_FIELDS) {
    if ((FACT_FIELDS as readonly string[]).includes(name)) continue;
    const args = EXPORT_FIELDS.indexOf(name) < EXPORT_FIELDS.indexOf(FACT_FIELDS[0]) ? before : after;
    const v = values[name];
    if (!v) return null;
    let expr: string;
    // json('true') is a constant SQLite computes once; json(CASE …) parsed a text on every line.
    if (v.type === 'bool') expr = `CASE WHEN ${v.sql} THEN json('true') ELSE json('false') END`;
    else if (v.type === 'number')
      expr = `CASE WHEN ${v.sql} IS NULL THEN NULL WHEN ${isSafeInt(v.sql)} THEN ${v.sql}
        WHEN typeof(${v.sql}) = 'real' AND abs(${v.sql}) < 1e15 AND ${v.sql} = CAST(${v.sql} AS INTEGER) THEN CAST(${v.sql} AS INTEGER) ELSE json(iot_json(${v.sql})) END`;
    // A BLOB in a text column makes json_object fail ("JSON cannot hold BLOB values"): exportEvents then writes objects.
    else expr = v.sql;
    if (name === 'thread') expr = `CASE WHEN ${threadOdd} THEN iot_thread(e.thread_id) ELSE ${expr} END`;
    args.push(sqlString(name), expr);
  }
  const facts = `CASE WHEN e.extra_json IS NULL OR (typeof(e.extra_json) = 'text' AND ${keyTest}) THEN ${sqlString(NO_FACTS.jsonl)} ELSE iot_facts_jsonl(e.extra_json) END`;
  // Every JSON value ends in '"', a digit, a letter or ']', so rtrim takes off only the object's closing brace;
  // the fields after the facts are a second object without its opening brace.
  const rest = after.length ? `',', substr(json_object(${after.join(', ')}), 2)` : "'}'";
  return `concat(rtrim(json_object(${before.join(', ')}), '}'), ',', ${facts}, ${rest})`;
}
