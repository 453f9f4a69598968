// Apple time conventions (IOS_FORMATS.md §8). Every converter returns UTC microseconds since the
// Unix epoch (fits a JS number until year 287,396) together with the raw value and its epoch, so the
// case file can always show what the evidence actually said.

/** Seconds from 1970-01-01T00:00:00Z to 2001-01-01T00:00:00Z. */
export const MAC_EPOCH_OFFSET_S = 978_307_200;

export type Epoch = 'mac-s' | 'mac-ns' | 'unix-s' | 'unix-ms' | 'exif-local' | 'plist-date';

export interface Timestamp {
  /** Microseconds since 1970-01-01T00:00:00Z, or null when the raw value means "no time". */
  utcUs: number | null;
  /** The value exactly as stored (string, so 64-bit values survive). */
  raw: string;
  epoch: Epoch;
}

/** Values at or above 1e11 cannot be seconds (that is year 5170): they are nanoseconds. */
const NS_THRESHOLD = 100_000_000_000n;

function toBigIntOrNull(value: unknown): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value));
  return null;
}

/**
 * sms.db style Mac absolute time: seconds (older iOS) or nanoseconds (iOS 11+), decided per value
 * by magnitude. 0 / NULL / negative mean "no value" (negative is recorded by the caller as a warning).
 */
export function macAbsoluteAuto(value: unknown): Timestamp | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && !Number.isInteger(value)) return macSeconds(value);
  const big = toBigIntOrNull(value);
  if (big === null || big <= 0n) return null;
  if (big >= NS_THRESHOLD) {
    // Integer maths: nanosecond values exceed 2^53.
    const us = big / 1000n + BigInt(MAC_EPOCH_OFFSET_S) * 1_000_000n;
    return { utcUs: Number(us), raw: big.toString(), epoch: 'mac-ns' };
  }
  return { utcUs: Number(big + BigInt(MAC_EPOCH_OFFSET_S)) * 1_000_000, raw: big.toString(), epoch: 'mac-s' };
}

/** Core Data REAL seconds since 2001 (ZDATE, ZDATECREATED, CreationDate, …). 0/NULL = none. */
export function macSeconds(value: unknown): Timestamp | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === 'bigint' ? Number(value) : Number(value);
  if (!Number.isFinite(n) || n === 0) return null;
  return { utcUs: Math.round((n + MAC_EPOCH_OFFSET_S) * 1_000_000), raw: String(value), epoch: 'mac-s' };
}

/** Unix seconds (MBFile times, legacy call_history.db). */
export function unixSeconds(value: unknown): Timestamp | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n === 0) return null;
  return { utcUs: Math.round(n * 1_000_000), raw: String(value), epoch: 'unix-s' };
}

/** A plist <date> as parsed into a JS Date. */
export function plistDate(value: unknown): Timestamp | null {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return null;
  return { utcUs: value.getTime() * 1000, raw: value.toISOString(), epoch: 'plist-date' };
}

/** ISO 8601 UTC with microseconds when they are not zero, e.g. 2021-02-19T19:49:34.007999Z. */
export function isoFromUs(us: number | null | undefined): string | null {
  if (us === null || us === undefined || !Number.isFinite(us)) return null;
  const ms = Math.floor(us / 1000);
  const rest = us - ms * 1000;
  const base = new Date(ms).toISOString(); // always UTC
  if (rest === 0) return base;
  return base.replace(/\.(\d{3})Z$/, (_m, d: string) => `.${d}${String(Math.round(rest)).padStart(3, '0')}Z`);
}
