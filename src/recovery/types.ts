// Public types of the recovery engine.
import type { SqlValue } from '../formats/sqliteFile.js';

export type RecoverySource = 'wal-frame' | 'superseded-page' | 'freeblock' | 'freelist' | 'unallocated';
export type Confidence = 'high' | 'medium' | 'low';

/** How the record was read. */
export type CarveMode =
  | 'cell' // a cell of an older page version or of a free page, read through its cell pointer
  | 'intact' // a cell found in free space with its whole header (payload length, rowid, record header)
  | 'header' // the record header survived, the cell prefix (payload length, rowid) did not
  | 'rebuilt'; // the record-header length (and possibly the first serial type) was overwritten: rebuilt from the schema

export interface RecoveryPlace {
  source: RecoverySource;
  page: number;
  /** Offset of the cell (or of the first surviving byte) inside the page. */
  offset: number;
  walFrame?: number;
  walSalt?: [number, number];
  /** false for a WAL frame after the last valid commit, with a bad checksum, or of an older WAL generation. */
  committed?: boolean;
  /** 0 = main database file, k = the k-th committed WAL transaction. Absent for uncommitted frames. */
  commit?: number;
  mode: CarveMode;
}

export interface RecoveredRecord {
  table: string;
  /** The row's ROWID (Z_PK for Core Data); null when it could not be read. */
  rowid: number | bigint | null;
  /** Where the rowid came from: the cell itself, a live row with the same unique value, or a carved index entry. */
  rowidFrom: 'cell' | 'unique-column' | 'index' | null;
  columns: string[];
  /** By column order of the table's CREATE statement; a row written before an ALTER TABLE ADD COLUMN has fewer (padded with null). */
  values: SqlValue[];
  /** Columns actually present in the record. */
  columnsPresent: number;
  /** The best of `where`'s sources (WAL versions first). */
  source: RecoverySource;
  confidence: Confidence;
  /** Every place this same record was found. */
  where: RecoveryPlace[];
  /** Set when a live row with this rowid exists and its content differs: this is its earlier content. */
  olderVersionOf?: number | bigint;
  /** The row was present after commit `afterCommit` (0 = main file) and gone from that page by `beforeCommit`. */
  bracket?: { afterCommit?: number; beforeCommit?: number };
  /** An overflow chain could not be followed to the end: the last value is cut. */
  truncated?: boolean;
}

export interface RecoveryStats {
  fileBytes: number;
  walBytes: number;
  pageSize: number;
  pages: number;
  pagesExamined: number;
  bytesExamined: number;
  tableLeafVersions: number;
  freeblocks: number;
  freeblocksZeroFilled: number;
  freeblockBytes: number;
  freelistPages: number;
  freelistZeroFilled: number;
  unallocatedBytes: number;
  /** Bytes of unallocated gaps that are entirely zero (nothing to recover there). */
  unallocatedZero: number;
  walFrames: number;
  walFramesValid: number;
  walFramesCommitted: number;
  /** Frames examined but never treated as committed (after the last commit, bad checksum, wrong salt). */
  walFramesUncommitted: number;
  walFramesOldGeneration: number;
  walCommits: number;
  candidates: number;
  droppedIdenticalToLive: number;
  rejected: number;
  bySource: Record<string, number>;
  byTable: Record<string, number>;
  ms: number;
  budgetExceeded: boolean;
}

export interface RecoveryResult {
  records: RecoveredRecord[];
  stats: RecoveryStats;
  warnings: string[];
  /** Tables as the newest schema declares them (name → columns). */
  tables: Record<string, string[]>;
}

export interface RecoveryOptions {
  dbPath?: string;
  walPath?: string | null;
  /** Bytes instead of paths (tests, or a caller that already holds the working copy in memory). */
  db?: Uint8Array;
  wal?: Uint8Array | null;
  /** Only report records of these tables (all tables are still read to attribute pages). */
  tables?: string[];
  budget?: { maxMs?: number; maxBytes?: number };
  /** Pages of each file (database, -wal) kept in the read cache (default 4 MiB worth, at least 64); files are never read whole. */
  cachePages?: number;
}
