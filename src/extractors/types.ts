// The one small interface every artifact extractor implements.
import type Database from 'better-sqlite3';
import type { EvidenceSource } from '../backup/source.js';
import type { ManifestEntry } from '../backup/manifest.js';
import type { CaseFile, EventInput, Severity } from '../timeline/caseFile.js';
import type { ContactResolver } from './contactResolver.js';

export interface SourceSpec {
  domain: string;
  path: string;
}

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

export interface OpenedDatabase extends OpenedFile {
  db: Database.Database;
}

export interface WarnOptions {
  severity?: Severity;
  fileRowId?: number | null;
  table?: string | null;
  rowid?: number | bigint | null;
}

export interface ExtractorContext {
  /** The evidence (a backup, a file-system folder or archive): asked by (domain, relativePath), never by place. */
  readonly backup: EvidenceSource;
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
  /** Count evidence files an extractor examined without opening them (orphan media: every file was linked), so
   *  its run reads "ok, 0 events" instead of "not present". */
  examined(n: number): void;
  /** Report progress on long loops (rows done). */
  progress(done: number, total?: number): void;
}

/** Which report section shows a kind: renderers pick the view, they know no artifact by name. */
export type KindView = 'conversation' | 'calls' | 'gallery' | 'table';

/** How one event kind is labelled, coloured, exported and shown. Declared by the artifact that emits it. */
export interface KindDescriptor {
  kind: string;
  /** Plural heading for legends, filters and sections ("Messages"). */
  label: string;
  /** Chart and map colour. */
  color: string;
  view: KindView;
  /** Timesketch `timestamp_desc` per action ("sent" → "Message Sent"); other actions read "<Kind> <Action>". */
  actions: Record<string, string>;
  /** plaso-style data type for Timesketch (`ios:messages:message`). */
  dataType: string;
}

export interface Extractor {
  id: string;
  title: string;
  /** The logical files it reads (info and the coverage table list them). */
  sources: SourceSpec[];
  /** Files it reads where its rows point (media, attachments): an archive copies these out in its one pass too. */
  reads?: SourceSpec[];
  /** Extractors whose results this one uses (contact names, attachments): run first, also under --only. */
  after?: string[];
  /** Apple puts these files only in encrypted backups (health, Wi-Fi, call history, website history): the coverage
   *  table says so for an unencrypted backup instead of "not present". */
  encryptedOnly?: boolean;
  /** Every event kind it emits, described for the renderers. */
  kinds: KindDescriptor[];
  run(ctx: ExtractorContext): Promise<void>;
}

/** An artifact that exists but cannot be read: the runner records it and moves on to the next extractor. */
export class ArtifactError extends Error {}

export { columnsOf, hasTable, colOrNull, sqlText } from '../sqlite.js';
