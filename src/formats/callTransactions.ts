// CallHistoryTransactions/transactions.log: a run of length-prefixed records, each a 4-byte little-endian length
// and that many bytes of an NSKeyedArchiver binary plist: a CHTransaction, `type` (0 Insert, 1 Update, 2 Delete,
// 3 BatchDeleteAll) and `record`, the bytes of a second NSKeyedArchiver plist: the archived call (CHRecentCall:
// uniqueId, date, duration, callStatus, remoteParticipantHandles, …). Sources and what is [derived]: docs/recovery.md "CallHistoryTransactions".
// Every length is checked against what is left of the file and a cap; a bad record is a named warning and the
// framing goes on; a bad length stops the walk (nothing after it can be framed) with a warning.
import { MAC_EPOCH_OFFSET_S } from './appleTime.js';
import { isDict, parsePlist, unarchive, type PlistValue } from './plist.js';

/** No real record comes near this (a call archive is a few KB); a bigger length is damage, not a call. */
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface TransactionsBudget {
  maxRecords?: number;
  maxMs?: number;
}

type Dict = Record<string, PlistValue>;

export interface TransactionCall {
  uniqueId: string | null;
  /** Seconds since 2001-01-01 UTC exactly as archived (NSDate NS.time), or null. */
  dateMacS: number | null;
  duration: number | null;
  callStatus: number | null;
  /** The first remote participant's handle value (phone number, e-mail address). */
  address: string | null;
  /** Every remote participant handle value, in archive order. */
  addresses: string[];
  callerId: string | null;
  handleType: number | null;
  disconnectedCause: number | null;
  timeToEstablish: number | null;
  serviceProvider: string | null;
  /** The other scalar fields of the archived call, kept raw for the examiner. */
  other: Record<string, string | number | boolean | null>;
}

export interface TransactionRecord {
  /** 0-based position in the file. */
  index: number;
  /** Byte offset of the length prefix. */
  offset: number;
  /** Bytes of the record after the prefix. */
  length: number;
  /** CHTransaction `type`: 0 Insert, 1 Update, 2 Delete, 3 BatchDeleteAll (null when absent). */
  type: number | null;
  /** Other scalar keys of the outer archive (kept raw). */
  outer: Record<string, string | number | boolean | null>;
  /** The archived call; null for a transaction without one (BatchDeleteAll). */
  call: TransactionCall | null;
}

export const TRANSACTION_TYPES: Record<number, string> = { 0: 'Insert', 1: 'Update', 2: 'Delete', 3: 'BatchDeleteAll' };

export interface TransactionsLog {
  records: TransactionRecord[];
  /** Records framed correctly but not decodable as a call (each also named in `warnings`). */
  undecodable: number;
  /** Bytes framed into records (prefixes included); less than the file size when the walk stopped early. */
  bytesFramed: number;
  warnings: string[];
  budgetExceeded: boolean;
}

const scalar = (v: PlistValue | undefined): string | number | boolean | null | undefined =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : typeof v === 'bigint' ? Number(v) : v === null ? null : undefined;
const num = (v: PlistValue | undefined): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : null);
const text = (v: PlistValue | undefined): string | null => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8').replace(/\0+$/, '') : null);

function scalars(d: Dict, skip: Set<string>): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(d)) {
    if (skip.has(k)) continue;
    const s = scalar(v);
    if (s !== undefined) out[k] = typeof s === 'string' && s.length > 500 ? `${s.slice(0, 500)}…` : s;
  }
  return out;
}

/** An NSSet / NSArray as unarchive() leaves it: a plain array, or a dict holding NS.objects. */
function members(v: PlistValue | undefined): PlistValue[] {
  if (Array.isArray(v)) return v;
  if (isDict(v) && Array.isArray(v['NS.objects'])) return v['NS.objects'] as PlistValue[];
  return [];
}

/** The archived NSDate's NS.time, read from the raw archive so the stored double is kept exactly. */
function rawDate(archive: PlistValue, call: Dict): number | null {
  if (isDict(archive) && Array.isArray(archive.$objects) && isDict(archive.$top)) {
    const objects = archive.$objects as PlistValue[];
    const uid = (v: unknown): number | null => (v && typeof v === 'object' && 'UID' in v ? Number((v as { UID: number }).UID) : null);
    const root = objects[uid(archive.$top.root) ?? -1];
    const date = isDict(root) ? objects[uid(root.date) ?? -1] : undefined;
    if (isDict(date) && typeof date['NS.time'] === 'number') return date['NS.time'];
  }
  const d = call.date;
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d.getTime() / 1000 - MAC_EPOCH_OFFSET_S : num(d);
}

const CALL_KEYS = new Set([
  'uniqueId',
  'date',
  'duration',
  'callStatus',
  'remoteParticipantHandles',
  'callerId',
  'handleType',
  'disconnectedCause',
  'timeToEstablish',
  'serviceProvider',
]);

/** One record's bytes → the archived call. Throws (PlistError or Error) with the reason. */
export function decodeTransaction(bytes: Buffer, name: string): Pick<TransactionRecord, 'type' | 'outer' | 'call'> {
  const outer = unarchive(parsePlist(bytes, name), name);
  if (!isDict(outer)) throw new Error(`${name}: the archive's root is not a dictionary`);
  const type = num(outer.type);
  const rest = scalars(outer, new Set(['record', 'type']));
  const inner = outer.record;
  if ((inner === null || inner === undefined) && type === 3) return { type, outer: rest, call: null };
  let call: PlistValue;
  let archive: PlistValue = null;
  if (Buffer.isBuffer(inner)) {
    archive = parsePlist(inner, `${name} record`);
    call = unarchive(archive, `${name} record`);
  } else call = inner; // [derived] a record archived in place rather than as data
  if (!isDict(call)) throw new Error(`${name}: no archived call under "record"`);
  const handles = members(call.remoteParticipantHandles)
    .map((h) => (isDict(h) ? (text(h.value) ?? text(h.normalizedValue)) : text(h)))
    .filter((h): h is string => !!h);
  return {
    type,
    outer: rest,
    call: {
      uniqueId: text(call.uniqueId),
      dateMacS: rawDate(archive, call),
      duration: num(call.duration),
      callStatus: num(call.callStatus),
      address: handles[0] ?? null,
      addresses: handles,
      callerId: text(call.callerId),
      handleType: num(call.handleType),
      disconnectedCause: num(call.disconnectedCause),
      timeToEstablish: num(call.timeToEstablish),
      serviceProvider: text(call.serviceProvider),
      other: scalars(call, CALL_KEYS),
    },
  };
}

/** Frame and decode every record of a transactions.log. Never throws; every problem is a warning. */
export function parseTransactionsLog(buf: Buffer, budget: TransactionsBudget = {}): TransactionsLog {
  const maxRecords = budget.maxRecords ?? 100_000;
  const deadline = performance.now() + (budget.maxMs ?? 60_000);
  const out: TransactionsLog = { records: [], undecodable: 0, bytesFramed: 0, warnings: [], budgetExceeded: false };
  let off = 0;
  for (let index = 0; off < buf.length; index++) {
    if (index >= maxRecords || performance.now() > deadline) {
      out.budgetExceeded = true;
      out.warnings.push(
        `transactions.log: budget exceeded after ${index} records (${index >= maxRecords ? `at most ${maxRecords}` : 'time limit'}); ${buf.length - off} bytes from offset ${off} not read`,
      );
      break;
    }
    const left = buf.length - off;
    if (left < 4) {
      out.warnings.push(`transactions.log: truncated: ${left} trailing byte(s) at offset ${off}, too short for a length prefix`);
      break;
    }
    const length = buf.readUInt32LE(off);
    if (length === 0) {
      // Zero padding at the end is not damage; a zero length with data after it is.
      if (buf.subarray(off).every((b) => b === 0)) out.warnings.push(`transactions.log: ${left} zero byte(s) of padding from offset ${off}`);
      else out.warnings.push(`transactions.log: record ${index} at offset ${off} has length 0; the ${left} bytes from there cannot be framed`);
      break;
    }
    if (length > MAX_RECORD_BYTES) {
      out.warnings.push(
        `transactions.log: absurd record length ${length} at offset ${off} (record ${index}; more than ${MAX_RECORD_BYTES} bytes): not a transactions.log record; the ${left} bytes from there are not read`,
      );
      break;
    }
    if (length > left - 4) {
      out.warnings.push(`transactions.log: truncated: record ${index} at offset ${off} claims ${length} bytes, only ${left - 4} remain`);
      break;
    }
    const name = `transactions.log record ${index} (offset ${off})`;
    try {
      out.records.push({ index, offset: off, length, ...decodeTransaction(buf.subarray(off + 4, off + 4 + length), name) });
    } catch (e) {
      out.undecodable++;
      out.warnings.push(`${(e as Error).message.startsWith(name) ? '' : `${name}: `}${(e as Error).message}`);
    }
    off += 4 + length;
    out.bytesFramed = off;
  }
  return out;
}
