// The JSONL/CSV export on every core (issue 19): SQLite writing the lines (exportLines.ts) is the whole cost and
// one connection uses one core, so the export is cut into time ranges of about CHUNK_EVENTS events (found from the
// events_ts index), each run by a worker thread on its own read-only connection (exportWorker.ts). The calling
// thread writes the ranges' bytes strictly in order, with at most AHEAD ranges per worker in flight (bounded
// memory). It stays synchronous, like the rest of the export: it sleeps in Atomics.wait until a worker replies.
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { EventFilter } from '../timeline/query.js';
import { whereClause } from '../timeline/query.js';
import { writeAll } from './bufferedWriter.js';
import { CLOSED, type ExportReply, type ExportTask, type ExportWorkerData } from './exportWorker.js';

/** Events per range: ~30 MB of JSONL, about a second of one core. */
export const CHUNK_EVENTS = 32_768;
/** Below about this many events the export runs on the calling thread: a worker's start costs 0.1–1 s of CPU
 *  (it imports the kind registry), and on a busy machine two workers on 323k events took 7.5 s of CPU where
 *  one thread took 4.7 s, for no gain in wall time. */
export const MIN_PARALLEL_EVENTS = 500_000;
/** Ranges queued per worker: one being written, one computed meanwhile. */
const AHEAD = 2;
/** No reply for this long: a worker died unseen (out of memory); the export runs again on the calling thread. */
const STALL_MS = 120_000;
/** How long the workers get to close their connections at the end. */
const CLOSE_MS = 10_000;

export interface ParallelOptions {
  /** Worker threads (default: IOS_TIMELINE_EXPORT_THREADS, else the cores, at most 4); below 2 the export runs
   *  on the calling thread. */
  threads?: number;
  /** Events per range (default CHUNK_EVENTS); tests use small ones. */
  chunkEvents?: number;
  /** Fewer events (by the ranges' count) stay on the calling thread (default MIN_PARALLEL_EVENTS). */
  minEvents?: number;
}

/** The workers could not do the export (no start, a stall): the caller runs it on its own thread instead. */
export class WorkersUnavailable extends Error {}
/** A BLOB where text belongs (the same test as the single-thread path). */
export class BlobInLine extends Error {}

/** IOS_TIMELINE_EXPORT_THREADS=1 keeps exports on the calling thread (a machine whose cores are busy anyway). */
function envThreads(): number | undefined {
  const v = Number(process.env.IOS_TIMELINE_EXPORT_THREADS);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The compiled worker: beside this module, or under dist/ when running from the TypeScript sources (tests). */
function workerScript(): string | null {
  const here = fileURLToPath(new URL('./exportWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])report([\\/])exportWorker\.js$/, '$1dist$1src$2report$3exportWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

/** Filters a range adds nothing costly to (an FTS, tag or contact subquery would run again in every range). */
const RANGE_FRIENDLY = new Set(['fromUs', 'toUs', 'kinds', 'devices']);

/**
 * The queries of the ranges, in export order (dated by time then id, then undated by id), or null when the export
 * should stay on the calling thread: a small case, an in-memory or mid-transaction connection, a filter with
 * subqueries, one core, or no compiled worker.
 */
export function parallelPlan(
  db: Database.Database,
  head: string,
  filter: EventFilter,
  opts: ParallelOptions = {},
): { script: string; threads: number; tasks: ExportTask[] } | null {
  const threads = opts.threads ?? envThreads() ?? Math.min(4, os.availableParallelism());
  if (threads < 2 || db.memory || !db.name || db.inTransaction) return null;
  if (Object.entries(filter).some(([k, v]) => v !== undefined && !RANGE_FRIENDLY.has(k))) return null;
  const script = workerScript();
  if (!script) return null;
  const size = opts.chunkEvents ?? CHUNK_EVENTS;
  const w = whereClause(filter);
  const and = w.sql ? `${w.sql} AND` : 'WHERE';
  const tasks: ExportTask[] = [];
  const add = (cond: string, params: unknown[], order: string) =>
    tasks.push({ chunk: tasks.length, sql: `${head} ${and} ${cond} ORDER BY ${order}`, params: [...w.params, ...params] });
  // Dated: ranges [b_i, b_i+1) of ts_utc_us; equal times never straddle two ranges (ORDER BY ts, id stays whole).
  const bounds = splitPoints(db, 'ts_utc_us', 'ts_utc_us IS NOT NULL', size, filter.fromUs, filter.toUs);
  bounds.forEach((b, i) => {
    if (i + 1 < bounds.length) add('e.ts_utc_us >= ? AND e.ts_utc_us < ?', [b, bounds[i + 1]], 'e.ts_utc_us, e.id');
    else add('e.ts_utc_us >= ?', [b], 'e.ts_utc_us, e.id'); // to the end: later numbers, and any text or blob times
  });
  if (filter.fromUs === undefined && filter.toUs === undefined) {
    const ids = splitPoints(db, 'id', 'ts_utc_us IS NULL', size);
    ids.forEach((b, i) => {
      if (i + 1 < ids.length) add('e.ts_utc_us IS NULL AND e.id >= ? AND e.id < ?', [b, ids[i + 1]], 'e.id');
      else add('e.ts_utc_us IS NULL AND e.id >= ?', [b], 'e.id');
    });
  }
  // Every range but the last of each kind is full: an estimate good enough to choose.
  const enough = tasks.length >= 2 && tasks.length * size >= (opts.minEvents ?? MIN_PARALLEL_EVENTS);
  return enough ? { script, threads, tasks } : null;
}

/**
 * The starts of consecutive ranges of about `size` rows of `col` (where `base`), walking its index: the first
 * value, then every size-th value after it, skipping ahead past a run of equal values. Values are read as they are
 * stored (safe integers: a bound beyond 2^53 stays exact).
 */
function splitPoints(db: Database.Database, col: string, base: string, size: number, from?: number, to?: number): unknown[] {
  const q = (sql: string) => db.prepare(sql).pluck().safeIntegers(true);
  const first = from === undefined ? q(`SELECT ${col} FROM events WHERE ${base} ORDER BY ${col} LIMIT 1`).get() : from;
  if (first === undefined || first === null) return [];
  const ahead = q(`SELECT ${col} FROM events WHERE ${base} AND ${col} >= ? ORDER BY ${col} LIMIT 1 OFFSET ?`);
  const after = q(`SELECT ${col} FROM events WHERE ${base} AND ${col} > ? ORDER BY ${col} LIMIT 1`);
  const points: unknown[] = [first];
  let lo: unknown = first;
  for (;;) {
    let v = ahead.get(lo, size);
    if (v === undefined) break;
    if (v === lo) v = after.get(lo);
    if (v === undefined || (to !== undefined && (v as number) > to)) break;
    points.push(v);
    lo = v;
  }
  return points;
}

/**
 * Run the plan's ranges on worker threads and write their bytes to `fd` in order; returns the number of lines.
 * Throws WorkersUnavailable (run it on this thread), BlobInLine, or the SQL error with the lines written before it.
 */
export function writeInParallel(db: Database.Database, fd: number, plan: NonNullable<ReturnType<typeof parallelPlan>>): number {
  const signal = new Int32Array(new SharedArrayBuffer(8));
  const workers: { worker: Worker; port: MessagePort; returns: MessagePort }[] = [];
  const count = Math.min(plan.threads, plan.tasks.length);
  try {
    for (let i = 0; i < count; i++) {
      const { port1, port2 } = new MessageChannel();
      const back = new MessageChannel();
      const data: ExportWorkerData = { role: 'ios-timeline-export', path: db.name, port: port2, returns: back.port2, signal };
      const worker = new Worker(plan.script, { workerData: data, transferList: [port2, back.port2] });
      worker.unref();
      workers.push({ worker, port: port1, returns: back.port1 });
    }
    const send = (chunk: number) => {
      if (chunk < plan.tasks.length) workers[chunk % count].port.postMessage(plan.tasks[chunk]);
    };
    for (let c = 0; c < count * AHEAD; c++) send(c);
    let n = 0;
    for (let chunk = 0; chunk < plan.tasks.length; chunk++) {
      const { port, returns } = workers[chunk % count];
      for (;;) {
        const m = receive(port, signal);
        if ('error' in m) {
          if (m.chunk < 0) throw new WorkersUnavailable(m.error);
          if (m.blob) throw new BlobInLine(m.error);
          throw new Error(`stopped after ${(n + m.n).toLocaleString('en-US')} events: ${m.error}`);
        }
        if ('bytes' in m) {
          writeAll(fd, new Uint8Array(m.bytes, 0, m.length));
          returns.postMessage(m.bytes, [m.bytes]);
        } else {
          n += m.n;
          break;
        }
      }
      send(chunk + count * AHEAD);
    }
    return n;
  } catch (e) {
    Atomics.store(signal, 1, 1); // queued ranges are skipped, running ones stop
    throw e;
  } finally {
    closeWorkers(workers, signal);
  }
}

/** Every worker closes its connection before the export returns (the caller may switch the case file's journal
 *  mode next, which needs it alone); a worker that does not answer within CLOSE_MS is left to terminate(). */
function closeWorkers(workers: { worker: Worker; port: MessagePort; returns: MessagePort }[], signal: Int32Array): void {
  const until = Date.now() + CLOSE_MS;
  for (const { port } of workers) port.postMessage({ close: true });
  for (const { worker, port, returns } of workers) {
    try {
      for (;;) {
        const m = receive(port, signal, Math.max(1, until - Date.now()));
        if (m.chunk === CLOSED) break;
      }
    } catch {
      /* no answer: terminate() below */
    }
    port.close();
    returns.close();
    void worker.terminate();
  }
}

/** The next reply on `port`, sleeping until a worker signals one. */
function receive(port: MessagePort, signal: Int32Array, timeoutMs = STALL_MS): ExportReply {
  for (;;) {
    const seen = Atomics.load(signal, 0);
    const got = receiveMessageOnPort(port);
    if (got) return got.message as ExportReply;
    if (Atomics.wait(signal, 0, seen, timeoutMs) === 'timed-out') throw new WorkersUnavailable(`no reply from an export thread for ${timeoutMs / 1000} s`);
  }
}
