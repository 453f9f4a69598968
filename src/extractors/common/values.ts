// Small readers shared by the artifact modules: plausible times, numbers and text from SQLite values, file problems.
import { MIN_PLAUSIBLE_US, MAX_PLAUSIBLE_US, type Epoch, type Timestamp } from '../../formats/appleTime.js';
import type { ExtractorContext } from '../types.js';

export interface RowRef {
  fileRowId: number;
  table: string;
  rowid: number | bigint | null;
}

/**
 * Keep a converted time only when it is plausible. An absurd value (1e300, a negative year, NaN) keeps its raw
 * text and epoch on the event, loses its UTC value, and becomes a warning naming the table, row and column.
 */
export function plausible(ctx: ExtractorContext, ts: Timestamp | null, raw: unknown, what: string, ref: RowRef, epoch: Epoch = 'unix-s'): Timestamp | null {
  if (raw === null || raw === undefined) return ts;
  if (ts && ts.utcUs !== null && Number.isFinite(ts.utcUs) && ts.utcUs >= MIN_PLAUSIBLE_US && ts.utcUs < MAX_PLAUSIBLE_US) return ts;
  if (ts === null && isZero(raw)) return null; // 0 means "never" in every store here
  ctx.warn(`${ref.table} row ${String(ref.rowid)}: ${what} ${String(raw)} is not a plausible time; the event keeps the raw value without a UTC time`, {
    fileRowId: ref.fileRowId,
    table: ref.table,
    rowid: ref.rowid,
  });
  return { utcUs: null, raw: String(raw), epoch: ts?.epoch ?? epoch };
}

function isZero(v: unknown): boolean {
  return v === 0 || v === 0n || v === '0' || (typeof v === 'number' && v === 0);
}

/** A JS number from an SQLite value (bigint under safeIntegers), or null. */
export function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Text from an SQLite value, a blob as UTF-8 (the one sqlText every reader uses). */
export { sqlText as text } from '../../sqlite.js';

/** "<domain>/<path>: <reason>" without repeating the path when the error already names it. */
export function fileProblem(domain: string, relativePath: string, e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const where = `${domain}/${relativePath}`;
  return message.startsWith(where) ? message : `${where}: ${message}`;
}
