// What the report's hash appendix and custody section show, read from the same records verify checks:
// the `files` table (every evidence file hashed at ingest) and the `custody` chain.
import { columnsOf, colOrNull } from '../sqlite.js';
import type Database from 'better-sqlite3';
import { verifyCustodyChain, type CustodyRow, type HashRef } from '../timeline/custodyLog.js';

export interface EvidenceHashRow {
  id: number;
  /** Where the file sits in the backup folder (e.g. "3d/3d0d7e5f…"), or its name for the backup's own files. */
  disk_path: string | null;
  domain: string | null;
  relative_path: string | null;
  /** 'backup' (plists, Manifest.db), 'manifest' (listed payload), 'unlisted' (on disk, not in the manifest); null for old cases. */
  origin: string | null;
  size: number | null;
  sha256: string | null;
  md5: string | null;
  sha1: string | null;
  status: string;
  /** Extractors that parsed the file (null: hashed only). */
  read_by: string | null;
  note: string | null;
}

/** Every evidence file, backup's own files first, then by domain and path. Iterate: large backups hold 300k+ files. */
export function* evidenceHashRows(db: Database.Database, opts: { readOrProblemsOnly?: boolean; exceptMissing?: boolean } = {}): Generator<EvidenceHashRow> {
  const cols = columnsOf(db, 'files');
  const opt = (c: string) => colOrNull(cols, c);
  const conds = [opts.readOrProblemsOnly ? "(read_by IS NOT NULL OR status <> 'ok')" : '', opts.exceptMissing ? "status <> 'missing'" : ''].filter(Boolean);
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const stmt = db.prepare(`SELECT id, ${opt('disk_path')}, domain, relative_path, ${opt('origin')}, size, sha256, md5, sha1, status, read_by, note FROM files ${where}
    ORDER BY CASE origin WHEN 'backup' THEN 0 WHEN 'manifest' THEN 1 WHEN 'unlisted' THEN 2 ELSE 1 END, domain, relative_path`);
  yield* stmt.iterate() as Iterable<EvidenceHashRow>;
}

export interface CustodyEntryView {
  seq: number;
  at: string;
  examiner: string;
  action: string;
  host: string | null;
  tool_version: string | null;
  command_line: string[];
  inputs: HashRef[];
  outputs: HashRef[];
  /** The rest of the detail (event counts, filters, results…). */
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** The custody log as a report shows it, with the chain re-checked at render time. */
export function custodySection(db: Database.Database): { rows: CustodyEntryView[]; chain: { intact: boolean; head: string; problems: { seq: number; problem: string }[] } } {
  const raw = db.prepare('SELECT seq, at, actor, action, detail_json, prev_hash, hash FROM custody ORDER BY seq').all() as CustodyRow[];
  const rows = raw.map((r) => {
    let d: Record<string, unknown> = {};
    try {
      d = JSON.parse(r.detail_json) as Record<string, unknown>;
    } catch {
      d = { unreadable_detail: r.detail_json };
    }
    const { host, tool_version, command_line, inputs, outputs, case_digest, ...rest } = d;
    // The per-table digest is long; the report shows its one-line summary.
    if (case_digest && typeof case_digest === 'object') rest.case_content_digest = (case_digest as { sha256?: string }).sha256 ?? null;
    return {
      seq: r.seq,
      at: r.at,
      examiner: r.actor,
      action: r.action,
      host: typeof host === 'string' ? host : null,
      tool_version: typeof tool_version === 'string' ? tool_version : null,
      command_line: Array.isArray(command_line) ? (command_line as string[]) : [],
      inputs: Array.isArray(inputs) ? (inputs as HashRef[]) : [],
      outputs: Array.isArray(outputs) ? (outputs as HashRef[]) : [],
      detail: rest,
      prev_hash: r.prev_hash,
      hash: r.hash,
    };
  });
  const v = verifyCustodyChain(db);
  return { rows, chain: { intact: v.problems.length === 0, head: v.head, problems: v.problems } };
}
