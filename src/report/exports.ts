// Exports other tools read: Timesketch JSONL and Excel-safe CSV (docs/design.md "Exports").
import { BufferedWriter, writeAll } from './bufferedWriter.js';
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { inTimeOrder, iterateEvents, whereClause, type EventFilter, type EventRow } from '../timeline/query.js';
import { isoFromUs } from '../formats/appleTime.js';
import { messageLine, timestampDesc } from './describe.js';
import { messageFacts } from './facts.js';
import { exportGeo } from './geo.js';
import { exportLinesHead, registerExportFunctions } from './exportLines.js';
import { BlobInLine, type ParallelOptions, parallelPlan, WorkersUnavailable, writeInParallel } from './exportParallel.js';

export const EXPORT_FIELDS = [
  'datetime',
  'timestamp',
  'timestamp_desc',
  'message',
  'kind',
  'action',
  'text',
  'direction',
  'counterpart',
  'counterpart_name',
  'service',
  'thread',
  'duration_s',
  'latitude',
  'longitude',
  'accuracy_m',
  'ts_raw',
  'ts_epoch',
  'extractor',
  'source_domain',
  'source_path',
  'source_table',
  'source_rowid',
  'source_sha256',
  'event_id',
  'recovered',
  'recovered_from',
  'confidence',
  'edited',
  'edit_history',
  'unsent',
  'deleted',
  'reply_to',
  'reaction_to',
  'orphan',
] as const;

export type ExportRecord = Record<(typeof EXPORT_FIELDS)[number], string | number | boolean | null | { text: string | null; datetime: string | null }[]>;

export function toExportRecord(e: EventRow, threadNames: Map<number, string>): ExportRecord {
  const f = messageFacts(e.extra_json);
  return {
    datetime: isoFromUs(e.ts_utc_us),
    timestamp: e.ts_utc_us,
    timestamp_desc: timestampDesc(e.kind, e.action),
    message: messageLine(e),
    kind: e.kind,
    action: e.action,
    text: e.body,
    direction: e.direction,
    counterpart: e.counterpart,
    counterpart_name: e.counterpart_name,
    service: e.service,
    thread: e.thread_id != null ? (threadNames.get(e.thread_id) ?? String(e.thread_id)) : null,
    duration_s: e.duration_s,
    latitude: e.latitude,
    longitude: e.longitude,
    accuracy_m: e.accuracy_m,
    ts_raw: e.ts_raw,
    ts_epoch: e.ts_epoch,
    extractor: e.extractor,
    source_domain: e.source_domain,
    source_path: e.source_path,
    source_table: e.source_table,
    source_rowid: e.source_rowid,
    source_sha256: e.source_sha256,
    event_id: e.id,
    // Every line has every field with one JSON type (Timesketch's OpenSearch fixes a field's type from its first event).
    recovered: e.recovered === 1,
    recovered_from: e.recovered_from ?? null,
    confidence: e.confidence ?? null,
    edited: !!f?.edited,
    edit_history: f ? f.edit_history.map((v) => ({ text: v.text, datetime: v.datetime })) : [],
    unsent: !!f?.unsent,
    deleted: !!f?.deleted,
    reply_to: f?.reply_to ?? null,
    reaction_to: f?.reaction_to ?? null,
    orphan: orphanReason(e.extra_json),
  };
}

/** Why a media file is an orphan (extra_json.orphan.reason, src/extractors/artifacts/orphanMedia.ts), else null. */
export function orphanReason(extraJson: string | null): string | null {
  if (!extraJson?.includes('"orphan"')) return null;
  try {
    const r = (JSON.parse(extraJson) as { orphan?: { reason?: unknown } }).orphan?.reason;
    return typeof r === 'string' ? r : null;
  } catch {
    return null;
  }
}

export function threadNames(db: Database.Database): Map<number, string> {
  const m = new Map<number, string>();
  for (const t of db.prepare('SELECT id, display_name, identifier FROM threads').iterate() as Iterable<{ id: number; display_name: string | null; identifier: string | null }>) {
    m.set(Number(t.id), t.display_name || t.identifier || String(t.id));
  }
  return m;
}

/** An E.164 phone number and nothing else: a spreadsheet reads it as a number at worst, never runs anything. */
const PHONE_ONLY = /^\+[1-9]\d{6,14}$/;

/** Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV injection). */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  // A cell that is only an E.164 number (+14015069680) is data, not a formula: kept intact for scripts.
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string' && !PHONE_ONLY.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export type ExportFormat = 'jsonl' | 'csv' | 'geojson' | 'kml';

/** "event 12 (ZCALLRECORD #3)": names the case-file row an export could not write. */
export function eventLabel(e: Pick<EventRow, 'id' | 'source_table' | 'source_rowid'>): string {
  return `event ${e.id}${e.source_table ? ` (${e.source_table} #${e.source_rowid ?? '?'})` : ''}`;
}

/**
 * Write `out` through a temporary file renamed at the end: a failed export leaves no truncated file that
 * looks finished, and its error names the event it stopped at.
 */
export function writeAtomically(out: string, body: (fd: number) => number): number {
  const partial = `${out}.partial`;
  const fd = fs.openSync(partial, 'w');
  try {
    const n = body(fd);
    fs.closeSync(fd);
    fs.renameSync(partial, out);
    return n;
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(partial, { force: true });
    throw e;
  }
}

/** A BLOB where text belongs: SQL cannot write it as JSON.stringify does, so the export starts again with objects. */
class BlobValue extends Error {}

/** Every payload the manifest lists but the evidence lacks, as CSV (written beside the report); returns the count. */
export function exportMissingFiles(db: Database.Database, out: string): number {
  return writeAtomically(out, (fd) => {
    const w = new BufferedWriter(fd);
    w.write('domain,relative_path,file_id,status,note\r\n');
    let n = 0;
    for (const r of db
      .prepare("SELECT domain, relative_path, file_id, status, note FROM files WHERE status = 'missing' ORDER BY domain, relative_path")
      .raw()
      .iterate() as Iterable<unknown[]>) {
      w.write(`${r.map(csvCell).join(',')}\r\n`);
      n++;
    }
    w.flush();
    return n;
  });
}

/** The SQL lines on this thread, in order. */
function writeLinesHere(db: Database.Database, format: ExportFormat, out: string, header: string, queries: { sql: string; params: unknown[] }[]): number {
  registerExportFunctions(db);
  return writeAtomically(out, (fd) => {
    const w = new BufferedWriter(fd);
    let n = 0;
    w.write(header);
    try {
      for (const q of queries) {
        const stmt = db.prepare(q.sql).pluck();
        stmt.safeIntegers(false);
        for (const line of stmt.iterate(...q.params) as Iterable<Buffer>) {
          w.writeBytes(line);
          n++;
        }
      }
    } catch (err) {
      if (/\bBLOB\b/.test((err as Error).message)) throw new BlobValue();
      throw new Error(`${format} export stopped after ${n.toLocaleString('en-US')} events: ${(err as Error).message}`);
    }
    w.flush();
    return n;
  });
}

/**
 * Stream the filtered events to `out`; returns the number written. A large JSONL or CSV export runs on worker
 * threads, a range of time each (exportParallel.ts); `parallel` sets their number and range size (tests, bench).
 */
export function exportEvents(db: Database.Database, format: ExportFormat, out: string, filter: EventFilter = {}, parallel: ParallelOptions = {}): number {
  if (format === 'geojson' || format === 'kml') return exportGeo(db, format, out, filter); // located events only (geo.ts)
  const eol = format === 'jsonl' ? '\n' : '\r\n';
  const header = format === 'csv' ? '\ufeff' + EXPORT_FIELDS.join(',') + '\r\n' : ''; // BOM: Excel reads UTF-8 correctly
  // SQLite writes the lines (exportLines.ts); objects if a field has no SQL there or a value is a BLOB.
  const head = exportLinesHead(db, format);
  if (head !== null) {
    try {
      const plan = parallelPlan(db, head, filter, parallel);
      if (plan) {
        try {
          return writeAtomically(out, (fd) => {
            writeAll(fd, Buffer.from(header));
            try {
              return writeInParallel(db, fd, plan);
            } catch (err) {
              if (err instanceof BlobInLine) throw new BlobValue();
              if (err instanceof WorkersUnavailable) throw err;
              throw new Error(`${format} export ${(err as Error).message}`);
            }
          });
        } catch (err) {
          if (!(err instanceof WorkersUnavailable)) throw err;
        }
      }
      return writeLinesHere(db, format, out, header, inTimeOrder(head, whereClause(filter)));
    } catch (err) {
      if (!(err instanceof BlobValue)) throw err;
    }
  }
  const names = threadNames(db);
  return writeAtomically(out, (fd) => {
    const w = new BufferedWriter(fd);
    let n = 0;
    w.write(header);
    for (const e of iterateEvents(db, filter)) {
      let line: string;
      try {
        const r = toExportRecord(e, names);
        line = format === 'jsonl' ? JSON.stringify(r) + eol : EXPORT_FIELDS.map((f) => csvCell(r[f])).join(',') + eol;
      } catch (err) {
        throw new Error(`${format} export stopped at ${eventLabel(e)}: ${(err as Error).message}`);
      }
      w.write(line);
      n++;
    }
    w.flush();
    return n;
  });
}
