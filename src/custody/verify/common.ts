import fs from 'node:fs';
import Database from 'better-sqlite3';
import { isSqliteFile } from '../../sqlite.js';
import { firstDifferingBlock } from '../hashWorker.js';

export type VerifyKind = 'case' | 'backup' | 'outputs' | 'folder' | 'archive';

export interface Problem {
  area: 'custody' | 'case' | 'evidence' | 'output' | 'manifest' | 'signature';
  /** What differs: a file path, "events row 42", "custody row 3"… */
  item: string;
  message: string;
  /** First differing byte range (inclusive), when block checkpoints allow it. */
  range?: { start: number; end: number };
}

export interface VerifyReport {
  target: string;
  kind: VerifyKind;
  ok: boolean;
  /** One line per check that passed or ran. */
  checks: string[];
  problems: Problem[];
  notes: string[];
  /** For the custody row: digests of what was verified. */
  inputs: { name: string; sha256: string | null }[];
}

export function newReport(target: string, kind: VerifyKind): VerifyReport {
  return { target, kind, ok: true, checks: [], problems: [], notes: [], inputs: [] };
}

export function finish(r: VerifyReport): VerifyReport {
  r.ok = r.problems.length === 0;
  return r;
}

export function openReadOnly(casePath: string): Database.Database {
  if (!fs.existsSync(casePath)) throw new Error(`case file ${casePath} does not exist`);
  if (!isSqliteFile(casePath)) throw new Error(`${casePath} is not an SQLite case file`);
  return new Database(casePath, { readonly: true, fileMustExist: true });
}

export function rangeText(r: { start: number; end: number }): string {
  return `bytes ${r.start.toLocaleString('en-US')}–${r.end.toLocaleString('en-US')}`;
}

/** First changed byte range from stored and fresh prefix checkpoints. */
export function changedRange(
  storedPrefixes: string | null | undefined,
  freshPrefixes: string | undefined,
  blockSize: number,
  oldSize: number,
  newSize: number,
): { start: number; end: number } {
  const k = firstDifferingBlock(storedPrefixes, freshPrefixes);
  const start = k * blockSize;
  const end = Math.max(start, Math.min((k + 1) * blockSize, Math.max(oldSize, newSize)) - 1);
  return { start, end };
}

// ---------------------------------------------------------------------------------------------- case file
