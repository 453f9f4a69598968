// Time values from app databases, checked: the converters in formats/appleTime.ts mark a value that is stored but
// is no usable time (1e300, a year-40000 float, text in a REAL column; anything outside 1970–2100) as `invalid`,
// keeping its raw value with no UTC time. This helper adds the warning, naming table, row and column, so every
// artifact module says the same thing the same way.
import { macSeconds, unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import type { ExtractorContext } from '../types.js';

export type TimeUnit = 'mac-s' | 'unix-s';

/** A checked time: `ok` false means the raw value was present but unusable (the event keeps `raw`, no UTC). */
export function checkedTime(value: unknown, unit: TimeUnit): { ts: Timestamp | null; ok: boolean } {
  const ts = unit === 'mac-s' ? macSeconds(value) : unixSeconds(value);
  return { ts, ok: !ts?.invalid };
}

/** Reads one time column of one row; warns (naming the table, row and column) when the value is unusable. */
export function timeOf(
  ctx: ExtractorContext,
  value: unknown,
  unit: TimeUnit,
  where: { fileRowId: number; table: string; rowid: number | bigint; column: string },
): Timestamp | null {
  const { ts, ok } = checkedTime(value, unit);
  if (!ok) {
    ctx.warn(
      `${where.table} row ${String(where.rowid)}: ${where.column} holds an impossible time (${ts?.invalid ?? String(value).slice(0, 40)}); the raw value is kept, no UTC time`,
      { fileRowId: where.fileRowId, table: where.table, rowid: where.rowid },
    );
  }
  return ts;
}

/** The time as UTC microseconds, or null (for extra fields). */
export function usOf(ts: Timestamp | null): number | null {
  return ts?.utcUs ?? null;
}
