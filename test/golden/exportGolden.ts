// Golden exports: a rich case (the sample backup's messages with edits, replies, reactions and Recently Deleted
// rows; calls, photos, locations and the other artifacts; a WAL-mode sms.db and a CallHistory with deleted rows
// for recovered events; hand-made edge rows for CSV quoting and odd times) is frozen as JSON rows, and the JSONL
// and CSV exports of it were written once by the export code of 2026-12 (before exports were read from SQL rows).
// The test rebuilds the case from the frozen rows and requires byte-identical exports: the rows never depend on
// today's extractors, so only a change in the export code can make the test fail.
//
// The golden outputs are written by the object-based writer (toExportRecord), never by the SQL lines they check.
// They were rewritten once when main added the `orphan` field (every line gained `"orphan":null` / one empty
// cell, nothing else changed), and report-rows.jsonl when main added the device and duplicate-of cells (two
// cells at the end of each event row). Regenerate only for a deliberate, documented format change:
// WRITE_GOLDEN=1 npx vitest run test/export-golden.test.ts
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { CaseFile } from '../../src/timeline/caseFile.js';

export const GOLDEN_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CASE_JSON = path.join(GOLDEN_DIR, 'export-case.json');

/** The tables and columns exports and the report's event rows read. */
const TABLES: Record<string, string[]> = {
  files: ['id', 'domain', 'relative_path', 'sha256', 'status'],
  threads: ['id', 'extractor', 'identifier', 'display_name', 'service', 'is_group'],
  participants: ['thread_id', 'handle', 'name'],
  contacts: ['id', 'source_rowid', 'display_name'],
  contact_handles: ['contact_id', 'kind', 'value', 'normalized'],
  events: [
    'id',
    'ts_utc_us',
    'ts_raw',
    'ts_epoch',
    'kind',
    'action',
    'title',
    'body',
    'direction',
    'counterpart',
    'counterpart_name',
    'thread_id',
    'service',
    'duration_s',
    'latitude',
    'longitude',
    'accuracy_m',
    'source_file_id',
    'source_table',
    'source_rowid',
    'extractor',
    'extra_json',
    'recovered',
    'recovered_from',
    'confidence',
  ],
};

export type FrozenCase = Record<string, unknown[][]>;

/** Rows of several case files as one: ids of case k are offset by k × 100,000 so they never collide. */
export function freezeCases(casePaths: string[], extraEvents: unknown[][] = []): FrozenCase {
  const out: FrozenCase = Object.fromEntries(Object.keys(TABLES).map((t) => [t, []]));
  const idCols = new Set(['id', 'source_file_id', 'thread_id', 'contact_id']);
  casePaths.forEach((p, k) => {
    const db = new Database(p, { readonly: true });
    db.defaultSafeIntegers(false);
    for (const [t, cols] of Object.entries(TABLES)) {
      for (const r of db
        .prepare(`SELECT ${cols.join(', ')} FROM ${t} ORDER BY rowid`)
        .raw()
        .all() as unknown[][]) {
        const row = r.map((v, i) => (idCols.has(cols[i]) && typeof v === 'number' ? v + k * 100_000 : v));
        // files are unique by (domain, path): the second case's sms.db is named apart.
        if (t === 'files' && k > 0 && typeof row[2] === 'string') row[2] = `case${k + 1}/${row[2]}`;
        out[t].push(row);
      }
    }
    db.close();
  });
  out.events.push(...extraEvents);
  return out;
}

/** A fresh case file holding exactly the frozen rows. */
export function thawCase(frozen: FrozenCase, casePath: string): CaseFile {
  const cf = CaseFile.create(casePath);
  const tx = cf.db.transaction(() => {
    for (const [t, cols] of Object.entries(TABLES)) {
      const ins = cf.db.prepare(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      for (const r of frozen[t] ?? []) ins.run(...r);
    }
  });
  tx();
  return cf;
}

/** Hand-made events that stress CSV quoting, formula cells, JSON escaping and times at the edges. */
export function edgeEvents(): unknown[][] {
  const base = 900_000;
  const row = (i: number, o: Partial<Record<string, unknown>>): unknown[] => {
    const e: Record<string, unknown> = {
      id: base + i,
      ts_utc_us: 1_700_000_000_000_000 + i * 1_000_001,
      ts_raw: String(700_000_000 + i),
      ts_epoch: 'apple-cocoa-s',
      kind: 'note',
      action: 'modified',
      title: null,
      body: null,
      direction: null,
      counterpart: null,
      counterpart_name: null,
      thread_id: null,
      service: null,
      duration_s: null,
      latitude: null,
      longitude: null,
      accuracy_m: null,
      source_file_id: null,
      source_table: 'ZEDGE',
      source_rowid: i,
      extractor: 'edge',
      extra_json: null,
      recovered: 0,
      recovered_from: null,
      confidence: null,
      ...o,
    };
    return TABLES.events.map((c) => e[c] ?? null);
  };
  return [
    row(1, { title: '=HYPERLINK("http://x")', body: 'line one\r\nline two, "quoted"\n\n  indented', counterpart: '+14015069680', counterpart_name: '-minus' }),
    row(2, { title: '@SUM(A1)', body: '+not a phone', counterpart: '+1 401 506 9680', counterpart_name: '\tTab' }),
    row(3, { ts_utc_us: null, ts_raw: null, ts_epoch: null, body: 'no time at all; emoji 👍🏽 and \u2028 separator and \u0000 nul' }),
    row(4, { ts_utc_us: -62_135_596_800_000_000, body: 'year 1' }),
    row(5, { ts_utc_us: 8.64e18 + 1, body: 'beyond Date' }),
    row(6, { ts_utc_us: 1_600_000_000_000_999, body: 'microsecond remainder 999' }),
    row(7, { ts_utc_us: -1, body: 'one microsecond before the Unix epoch' }),
    row(8, { kind: 'unknownkind', action: 'some-odd-action', duration_s: 61.5, latitude: 52.52, longitude: 13.405, accuracy_m: 0 }),
    row(9, { kind: 'call', action: 'made', duration_s: 60, direction: 'outgoing', counterpart: '+4930123456', service: 'com.apple.Telephony' }),
    row(10, {
      kind: 'message',
      action: 'sent',
      extra_json:
        '{"edited":true,"edit_history":[{"text":"a","time":"2024-01-01T00:00:00Z","ts_utc_us":1704067200000000},{"text":null}],"unsent":true,"reply_to_event_id":12,"reacted_to_event_id":1.5}',
    }),
    row(11, { kind: 'message', action: 'sent', extra_json: '{"edited": broken json' }),
    row(12, {
      kind: 'message',
      action: 'sent',
      extra_json: '{"recently_deleted":true,"reply_to_event_id":900001}',
      recovered: 1,
      recovered_from: 'freeblock',
      confidence: 'medium',
    }),
    row(13, { body: 'x'.repeat(5000), latitude: -33.8688, longitude: 151.2093, accuracy_m: 12.345678 }),
    row(14, { body: 'html <script>alert(1)</script> & </script>', counterpart_name: 'Zoë “curly” ‘quotes’' }),
  ];
}
