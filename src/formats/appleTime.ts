// Apple time conventions (docs/ios-formats.md §8). Every converter returns UTC microseconds since the
// Unix epoch (fits a JS number until year 287,396) together with the raw value and its epoch, so the
// case file can always show what the evidence actually said.

/** Seconds from 1970-01-01T00:00:00Z to 2001-01-01T00:00:00Z. */
export const MAC_EPOCH_OFFSET_S = 978_307_200;

export type Epoch = 'mac-s' | 'mac-ns' | 'unix-s' | 'unix-ms' | 'exif-local' | 'plist-date' | 'quicktime-utc';

export interface Timestamp {
  /** Microseconds since 1970-01-01T00:00:00Z, or null when the raw value means "no time" or is not plausible. */
  utcUs: number | null;
  /** The value exactly as stored (string, so 64-bit values survive). */
  raw: string;
  epoch: Epoch;
  /** Set when a value was stored but is no usable time (out of range, not a number): utcUs is then null. */
  invalid?: string;
}

/**
 * Phone data is dated 1970..2100. Anything outside is damage or a wrong epoch: it is kept raw but never
 * placed on the timeline (and never reaches Date, which throws beyond ±8.64e15 ms).
 */
export const MIN_PLAUSIBLE_US = 0;
export const MAX_PLAUSIBLE_US = Date.UTC(2101, 0, 1) * 1000;

const EPOCH_NAME: Record<Epoch, string> = {
  'mac-s': 'Mac seconds',
  'mac-ns': 'Mac nanoseconds',
  'unix-s': 'Unix seconds',
  'unix-ms': 'Unix milliseconds',
  'exif-local': 'EXIF time',
  'plist-date': 'plist date',
  'quicktime-utc': 'QuickTime movie header time (UTC)',
};

/** The stored value as text for ts_raw: blobs as hex (bounded), everything else as String(). */
function rawText(value: unknown): string {
  if (Buffer.isBuffer(value)) return `x'${value.subarray(0, 32).toString('hex')}${value.length > 32 ? '…' : ''}'`;
  const s = String(value);
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}

/** The timestamp, or the same raw value and epoch marked invalid when `utcUs` is not a plausible instant. */
function checked(utcUs: number, raw: string, epoch: Epoch): Timestamp {
  if (Number.isFinite(utcUs) && utcUs >= MIN_PLAUSIBLE_US && utcUs < MAX_PLAUSIBLE_US) return { utcUs, raw, epoch };
  return { utcUs: null, raw, epoch, invalid: `${raw} (${EPOCH_NAME[epoch]}) is not a plausible time (outside 1970–2100)` };
}

const notANumber = (value: unknown, epoch: Epoch): Timestamp => {
  const raw = rawText(value);
  return { utcUs: null, raw, epoch, invalid: `${raw} (${EPOCH_NAME[epoch]}) is not a number` };
};

/** Whether the evidence value means "no time" (NULL, 0, empty text), as opposed to a damaged one. */
const isNone = (value: unknown) => value === null || value === undefined || value === 0 || value === 0n || value === '';

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
  if (typeof value === 'number' && !Number.isInteger(value)) return Number.isNaN(value) ? notANumber(value, 'mac-s') : macSeconds(value);
  const big = toBigIntOrNull(value);
  if (big === null || big <= 0n) return null;
  if (big >= NS_THRESHOLD) {
    // Integer maths: nanosecond values exceed 2^53.
    const us = big / 1000n + BigInt(MAC_EPOCH_OFFSET_S) * 1_000_000n;
    return checked(Number(us), big.toString(), 'mac-ns');
  }
  return checked(Number(big + BigInt(MAC_EPOCH_OFFSET_S)) * 1_000_000, big.toString(), 'mac-s');
}

/** Core Data REAL seconds since 2001 (ZDATE, ZDATECREATED, CreationDate, …). 0/NULL = none. */
export function macSeconds(value: unknown): Timestamp | null {
  if (isNone(value)) return null;
  const n = typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? Number(value) : NaN;
  if (Number.isNaN(n)) return notANumber(value, 'mac-s');
  return checked(Math.round((n + MAC_EPOCH_OFFSET_S) * 1_000_000), String(value), 'mac-s');
}

/** Unix seconds (MBFile times, legacy call_history.db). */
export function unixSeconds(value: unknown): Timestamp | null {
  if (isNone(value)) return null;
  const n = typeof value === 'bigint' || typeof value === 'number' || typeof value === 'string' ? Number(value) : NaN;
  if (Number.isNaN(n)) return notANumber(value, 'unix-s');
  return checked(Math.round(n * 1_000_000), String(value), 'unix-s');
}

/** A plist <date> as parsed into a JS Date (an invalid Date means "no value"). */
export function plistDate(value: unknown): Timestamp | null {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return null;
  return checked(value.getTime() * 1000, value.toISOString(), 'plist-date');
}

/** ISO 8601 UTC with microseconds when they are not zero, e.g. 2021-02-19T19:49:34.007999Z. */
export function isoFromUs(value: number | bigint | null | undefined): string | null {
  // Any stored value may arrive here (old or edited case files): what Date cannot show (beyond ±8.64e15 ms,
  // not a number) means "no time" instead of a RangeError.
  const us = typeof value === 'bigint' ? Number(value) : value;
  if (typeof us !== 'number' || !Number.isFinite(us) || Math.abs(us) > 8.64e18) return null;
  const ms = Math.floor(us / 1000);
  const rest = Math.min(999, Math.round(us - ms * 1000));
  const base = new Date(ms).toISOString(); // always UTC
  if (rest === 0) return base;
  return base.replace(/\.(\d{3})Z$/, (_m, d: string) => `.${d}${String(rest).padStart(3, '0')}Z`);
}
