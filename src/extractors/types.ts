// The one small interface every artifact extractor implements.
import type Database from 'better-sqlite3';
import type { Backup } from '../backup/backup.js';
import type { ManifestEntry } from '../backup/manifest.js';
import type { CaseFile, EventInput, Severity } from '../timeline/caseFile.js';
import type { ContactResolver } from './contactResolver.js';

export interface SourceSpec { domain: string; path: string }

export interface OpenedFile {
  entry: ManifestEntry;
  /** Working copy in the temp folder; never the evidence path. */
  path: string;
  /** Row id in the case file's `files` table. */
  fileRowId: number;
  /** SHA-256 of the evidence bytes (the ciphertext, for an encrypted backup). */
  sha256: string;
  /** Size of the working copy (the plaintext). */
  size: number;
}

export interface OpenedDatabase extends OpenedFile { db: Database.Database }

export interface WarnOptions { severity?: Severity; fileRowId?: number | null; table?: string | null; rowid?: number | bigint | null }

export interface ExtractorContext {
  readonly backup: Backup;
  readonly caseFile: CaseFile;
  readonly tz: string;
  readonly region: string;
  readonly contacts: ContactResolver;
  /** Copy one file into the work folder and record it; null when the backup does not list it. */
  openFile(domain: string, relativePath: string): Promise<OpenedFile | null>;
  /** Same for a file already found with backup.find(); records a missing/unreadable payload and returns null. */
  openEntry(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<OpenedFile | null>;
  /** Copy a database with its -wal/-shm/-journal siblings and open the copy. null when not listed. */
  openDatabase(domain: string, relativePath: string): Promise<OpenedDatabase | null>;
  emit(event: EventInput): number;
  /** Count events an extractor wrote itself with one INSERT … SELECT (bulk paths), so the run's totals stay right. */
  countEvents(n: number): void;
  warn(message: string, opts?: WarnOptions): void;
  /** Report progress on long loops (rows done). */
  progress(done: number, total?: number): void;
}

export interface Extractor {
  id: string;
  title: string;
  sources: SourceSpec[];
  run(ctx: ExtractorContext): Promise<void>;
}

/** An artifact that exists but cannot be read: the runner records it and moves on to the next extractor. */
export class ArtifactError extends Error {}

/** Which columns a table has: decide schema variants by what exists, not by iOS version. */
export function columnsOf(db: Database.Database, table: string): Set<string> {
  const rows = db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

export function hasTable(db: Database.Database, table: string): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?").get(table);
}

/** `col` when the table has it, else `NULL AS col`: one query serves every schema variant. */
export function colOrNull(cols: Set<string>, col: string, alias = col, prefix = ''): string {
  return cols.has(col) ? `${prefix}${col} AS ${alias}` : `NULL AS ${alias}`;
}
