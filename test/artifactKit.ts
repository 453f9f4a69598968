// Helpers shared by the test/artifact-*.test.ts suites: ingest a backup through the library call, read the case file.
import path from 'node:path';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import type { FixtureTruth } from '../fixtures/build.js';
import type { Rng } from '../fixtures/random.js';
import { ingest, type IngestResult } from '../src/pipeline/ingest.js';

export type Ev = {
  id: number;
  kind: string;
  action: string;
  ts_utc_us: number | null;
  ts_raw: string | null;
  ts_epoch: string | null;
  title: string;
  body: string | null;
  direction: string | null;
  counterpart: string | null;
  counterpart_name: string | null;
  service: string | null;
  duration_s: number | null;
  source_file_id: number;
  source_table: string;
  source_rowid: number;
  extractor: string;
  extra_json: string | null;
};
export type Warn = { extractor: string; severity: string; message: string; source_table: string | null; source_rowid: number | null };

export function query<T>(casePath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Ingest `root` (only the named extractors and their dependencies), proving the backup is byte-identical afterwards. */
export async function ingestUnchanged(root: string, only?: string[]): Promise<{ casePath: string; result: IngestResult; unchanged: boolean }> {
  const before = treeHash(root);
  const casePath = path.join(tmpDir(), 'case.db');
  const result = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only });
  const after = treeHash(root);
  return { casePath, result, unchanged: JSON.stringify(before) === JSON.stringify(after) };
}

export const events = (casePath: string, extractor: string): Ev[] =>
  query<Ev>(casePath, 'SELECT * FROM events WHERE extractor = ? ORDER BY source_table, source_rowid, id', extractor);
export const warnings = (casePath: string, extractor: string): Warn[] =>
  query<Warn>(casePath, 'SELECT extractor, severity, message, source_table, source_rowid FROM warnings WHERE extractor = ? ORDER BY id', extractor);
export const extra = (e: Ev): Record<string, unknown> => (e.extra_json ? JSON.parse(e.extra_json) : {});
export const sourcePath = (casePath: string, e: Ev): string =>
  query<{ p: string }>(casePath, "SELECT domain || '/' || relative_path AS p FROM files WHERE id = ?", e.source_file_id)[0].p;

/** A database cut short: a valid SQLite header that promises 40 pages of 4 KiB, and only 3 pages of zeros. */
export function truncatedSqlite(): Buffer {
  const head = Buffer.alloc(4096 * 3);
  Buffer.from('SQLite format 3\0', 'latin1').copy(head);
  head.writeUInt16BE(4096, 16);
  head[18] = 1;
  head[19] = 1;
  head.writeUInt32BE(40, 28);
  return head;
}

/** What a fixture builder writes into a backup: the capture below stands in for a BackupWriter. */
type Capture = { addDatabase: (domain: string, relativePath: string, files: { db: Buffer }) => void; addFile: () => string };

/**
 * Ingest a backup with 2 contacts and 3 calls plus, at `domain/relativePath`, only the first page of the database
 * that `build` writes: the artifact must fail alone while the calls still come out.
 */
export async function ingestWithTruncated(
  domain: string,
  relativePath: string,
  build: (capture: Capture, truth: FixtureTruth, rng: Rng, tmp: string) => void,
): Promise<{ casePath: string; result: IngestResult }> {
  const t = fixture({
    contacts: 2,
    calls: 3,
    callsInWal: 0,
    extend: (w, truth, rng, tmp) => {
      const cap: Buffer[] = [];
      build({ addDatabase: (_d, _p, f) => cap.push(f.db), addFile: () => '' }, truth, rng, tmp);
      w.addFile(domain, relativePath, cap[0]!.subarray(0, 4096));
    },
  });
  const casePath = path.join(tmpDir(), 'case.db');
  return { casePath, result: await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' }) };
}
