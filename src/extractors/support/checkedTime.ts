// Time values from app databases, checked: a value the converter accepts but that cannot be a real date (1e300,
// a year-40000 float, text in a REAL column) keeps its raw value with no UTC time, and the caller warns naming
// table, row and column. Bounds: 1970-01-01 to 2200-01-01 UTC (no iPhone database holds a time outside them).
import { macSeconds, unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import type { ExtractorContext } from '../types.js';

const MIN_US = 0;
const MAX_US = Date.UTC(2200, 0, 1) * 1000;

export type TimeUnit = 'mac-s' | 'unix-s';

/** A checked time: `ok` false means the raw value was present but unusable (the event keeps `raw`). */
export function checkedTime(value: unknown, unit: TimeUnit): { ts: Timestamp | null; ok: boolean } {
  if (value === null || value === undefined) return { ts: null, ok: true };
  if (typeof value !== 'number' && typeof value !== 'bigint') return { ts: { utcUs: null, raw: String(value).slice(0, 64), epoch: unit }, ok: false };
  const n = Number(value);
  if (n === 0) return { ts: null, ok: true };
  const ts = unit === 'mac-s' ? macSeconds(value) : unixSeconds(value);
  if (!ts || ts.utcUs === null || !Number.isFinite(ts.utcUs) || ts.utcUs < MIN_US || ts.utcUs > MAX_US) {
    return { ts: { utcUs: null, raw: String(value), epoch: unit }, ok: false };
  }
  return { ts, ok: true };
}

/** Reads one time column of one row; warns (naming the table, row and column) when the value is unusable. */
export function timeOf(ctx: ExtractorContext, value: unknown, unit: TimeUnit, where: { fileRowId: number; table: string; rowid: number | bigint; column: string }): Timestamp | null {
  const { ts, ok } = checkedTime(value, unit);
  if (!ok) {
    ctx.warn(`${where.table} row ${String(where.rowid)}: ${where.column} holds an impossible time (${String(value).slice(0, 40)}); the raw value is kept, no UTC time`,
      { fileRowId: where.fileRowId, table: where.table, rowid: where.rowid });
  }
  return ts;
}

/** The time as UTC microseconds, or null (for extra fields). */
export function usOf(ts: Timestamp | null): number | null {
  return ts?.utcUs ?? null;
}
