// The recovery stage: every SQLite evidence file an extractor opens is read as bytes (src/recovery) before
// SQLite opens the working copy (an open would checkpoint the WAL away), and what it finds becomes events that
// are flagged recovered, with their source and confidence, after the extractor has written the live rows.
// Recovered events carry extractor 'recovery': they never change an artifact's own counts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import {
  recoverDatabase,
  recoveredToEventFields,
  caseFileColumns,
  messageRowidGaps,
  callRowidGaps,
  deletedGuids,
  recentlyDeleted,
  type RecoveryResult,
  type GapReport,
} from '../recovery/index.js';
import { macAbsoluteAuto, macSeconds, type Timestamp } from '../formats/appleTime.js';
import type { CaseFile, EventInput } from '../timeline/caseFile.js';
import { hasTable } from '../sqlite.js';
import type { ContactResolver } from '../extractors/contactResolver.js';

export const RECOVERY_EXTRACTOR = 'recovery';

/** Per database: recovery never runs longer than this, nor reads more (the rest is named in a warning). */
const BUDGET = { maxMs: 120_000, maxBytes: 4 * 1024 ** 3 };
/** A recovered value shown in extra_json: long text and blobs are cut (the bytes stay in the evidence). */
const MAX_VALUE_CHARS = 2000;

export interface RecoveryJob {
  /** domain/relativePath of the evidence database. */
  name: string;
  fileRowId: number;
  result: RecoveryResult | null;
  error: string | null;
  seconds: number;
}

/** Read a working copy and its -wal as bytes, before SQLite touches them. Never throws. */
export function recoverWorkingCopy(name: string, fileRowId: number, dbPath: string, walPath: string | null): RecoveryJob {
  const t0 = performance.now();
  try {
    const result = recoverDatabase({ dbPath, walPath, budget: BUDGET });
    return { name, fileRowId, result, error: null, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { name, fileRowId, result: null, error: (e as Error).message, seconds: (performance.now() - t0) / 1000 };
  }
}

/** Smaller databases are recovered on the calling thread: starting a thread costs more than reading them. */
const THREAD_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Recover a working copy before SQLite opens it. With a -wal or -journal beside it, now (an open would checkpoint the
 * WAL or roll the journal back into the file); without either, SQLite only reads it, so a large one is recovered on a
 * second thread while the extractor reads it (await the job after the extractor). Never throws.
 */
export function startRecovery(name: string, fileRowId: number, dbPath: string, threadMinBytes = THREAD_MIN_BYTES): RecoveryJob | Promise<RecoveryJob> {
  const wal = `${dbPath}-wal`;
  if (fs.existsSync(wal) || fs.existsSync(`${dbPath}-journal`)) return recoverWorkingCopy(name, fileRowId, dbPath, fs.existsSync(wal) ? wal : null);
  let size = 0;
  try {
    size = fs.statSync(dbPath).size;
  } catch {
    /* recoverWorkingCopy names the problem */
  }
  return size >= threadMinBytes ? recoverInThread(name, fileRowId, dbPath) : recoverWorkingCopy(name, fileRowId, dbPath, null);
}

/** A recovery thread that has not answered this long after its own budget is stopped (a hang, not slow work). */
const THREAD_GRACE_MS = 60_000;

/** The built recovery thread script, or null (then recovery runs on the calling thread). */
export function recoveryWorkerScript(): string | null {
  const here = fileURLToPath(new URL('./recoverWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  // Tests run the TypeScript sources: use the built worker when there is one.
  const built = here.replace(/([\\/])src([\\/])pipeline([\\/])recoverWorker\.js$/, '$1dist$1src$2pipeline$3recoverWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

/**
 * Recover a working copy that has no -wal and no -journal on a second thread, so the extractor can open it with SQLite
 * meanwhile (SQLite only reads such a file). The job comes back when awaited; a crashed, stopped or out-of-memory
 * thread is a job with an error, like a failed recovery. Without a built worker script it runs here, synchronously.
 */
export function recoverInThread(name: string, fileRowId: number, dbPath: string, script = recoveryWorkerScript()): Promise<RecoveryJob> {
  if (!script) return Promise.resolve(recoverWorkingCopy(name, fileRowId, dbPath, null));
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const w = new Worker(script, {
      workerData: { role: 'ios-timeline-recovery', name, fileRowId, dbPath },
      // A small young generation: the thread's live data is small, its garbage is short-lived (less memory beside the extractor).
      resourceLimits: { maxOldGenerationSizeMb: 2048, maxYoungGenerationSizeMb: 3 },
    });
    const finish = (job: RecoveryJob) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void w.terminate();
      resolve(job);
    };
    const fail = (why: string) => finish({ name, fileRowId, result: null, error: why, seconds: (performance.now() - t0) / 1000 });
    const timer = setTimeout(() => fail(`the recovery thread did not finish within ${(BUDGET.maxMs + THREAD_GRACE_MS) / 1000} s and was stopped`), BUDGET.maxMs + THREAD_GRACE_MS);
    w.on('message', (job: RecoveryJob) => finish(revive(job)));
    w.on('error', (e) => fail(`the recovery thread failed (${e.message})`));
    w.on('exit', (code) => fail(`the recovery thread exited (code ${code}) without a result`));
  });
}

/** A job posted from the thread: blobs arrive as Uint8Array (structured clone); make them Buffers again. */
function revive(job: RecoveryJob): RecoveryJob {
  for (const r of job.result?.records ?? [])
    for (let i = 0; i < r.values.length; i++) {
      const v = r.values[i] as unknown;
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) r.values[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  return job;
}

type Recovered = NonNullable<EventInput['recovered']>;

function shownValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { hex: v.subarray(0, MAX_VALUE_CHARS / 2).toString('hex'), bytes: v.length };
  if (typeof v === 'string' && v.length > MAX_VALUE_CHARS) return `${v.slice(0, MAX_VALUE_CHARS)}… (${v.length - MAX_VALUE_CHARS} more characters)`;
  return v;
}

function sourceWords(r: Recovered): string {
  return `recovered from ${r.from.replace(/-/g, ' ')}, ${r.confidence} confidence`;
}

/**
 * The events of one recovery job, written after the extractor's live rows (so an earlier version can sit in its
 * live row's conversation). `db` is the opened working copy, for handle names and Apple's own deletion tables.
 */
export function emitRecovered(cf: CaseFile, job: RecoveryJob, db: Database.Database, contacts: ContactResolver): { events: number; warnings: number } {
  let events = 0;
  let warnings = 0;
  const warn = (message: string, severity: 'info' | 'warning' | 'error' = 'warning') => {
    warnings++;
    cf.addWarning({ extractor: RECOVERY_EXTRACTOR, fileId: job.fileRowId, severity, message: `${job.name}: ${message}` });
  };
  const emit = (e: Omit<EventInput, 'sourceFileId'>) => {
    events++;
    cf.addEvent({ ...e, sourceFileId: job.fileRowId }, RECOVERY_EXTRACTOR);
  };
  if (job.error || !job.result) {
    warn(`recovery could not read this database (${job.error ?? 'no result'}); the live rows are unaffected`, 'error');
    cf.recordRecoveryRun({ fileId: job.fileRowId, database: job.name, records: 0, events: 0, warnings, seconds: job.seconds, stats: null });
    return { events, warnings };
  }
  const res = job.result;
  for (const w of res.warnings) warn(w);

  const liveEvent = cf.db.prepare(`SELECT thread_id, counterpart, counterpart_name, direction, service FROM events
    WHERE source_file_id = ? AND source_table = ? AND source_rowid = ? AND recovered = 0 ORDER BY id LIMIT 1`);
  const threadOfChat = cf.db.prepare("SELECT id FROM threads WHERE source_file_id = ? AND source_table = 'chat' AND source_rowid = ? LIMIT 1").pluck();
  const handleOf = hasTable(db, 'handle') ? db.prepare('SELECT id FROM handle WHERE ROWID = ?').pluck() : null;
  // A deleted message's chat link is deleted with it; it may have been recovered too.
  const chatOfMessage = new Map<string, number>();
  for (const r of res.records) {
    if (r.table !== 'chat_message_join') continue;
    const chat = r.values[r.columns.indexOf('chat_id')],
      msg = r.values[r.columns.indexOf('message_id')];
    if (chat != null && msg != null) chatOfMessage.set(String(msg), Number(chat));
  }

  for (const rec of res.records) {
    const c = caseFileColumns(rec);
    const recovered: Recovered = { from: rec.source, confidence: rec.confidence as Recovered['confidence'] };
    const older = rec.olderVersionOf !== undefined;
    const action = older ? 'earlier-version' : 'deleted';
    const recovery = JSON.parse(c.recovered_json) as Record<string, unknown>;
    const f = recoveredToEventFields(rec);
    if (f) {
      const live = older
        ? (liveEvent.get(job.fileRowId, rec.table, rec.olderVersionOf) as
            | { thread_id: number | null; counterpart: string | null; counterpart_name: string | null; direction: string | null; service: string | null }
            | undefined)
        : undefined;
      let counterpart = live?.counterpart ?? f.counterpart;
      if (!counterpart && f.handleId !== null && handleOf) counterpart = (handleOf.get(f.handleId) as string | undefined) ?? null;
      const name = live?.counterpart_name ?? (counterpart ? contacts.nameFor(counterpart) : null);
      const chat = rec.rowid !== null ? chatOfMessage.get(String(rec.rowid)) : undefined;
      const threadId = live?.thread_id ?? (chat !== undefined ? ((threadOfChat.get(job.fileRowId, chat) as number | undefined) ?? null) : null);
      const direction = (live?.direction ?? f.direction) as EventInput['direction'];
      const who = name ? `${name} (${counterpart})` : (counterpart ?? 'unknown');
      const noun = f.kind === 'call' ? 'call' : 'message';
      const title = `${older ? `Earlier version of a ${noun}` : `Deleted ${noun}`} ${direction === 'outgoing' ? 'to' : direction === 'incoming' ? 'from' : 'with'} ${who} (${sourceWords(recovered)})`;
      emit({
        ts: f.time?.utcUs == null && !f.time?.raw ? null : (f.time as Timestamp),
        kind: f.kind,
        action,
        title,
        body: f.text,
        direction,
        counterpart,
        counterpartName: name,
        threadId,
        service: live?.service ?? f.service,
        durationS: f.durationS,
        sourceTable: rec.table,
        sourceRowid: rec.rowid,
        recovered,
        extra: { recovery, guid: f.guid, handle_id: f.handleId, ...f.extra, older_version_of_rowid: older ? String(rec.olderVersionOf) : undefined },
      });
    } else {
      const values = Object.fromEntries(rec.columns.map((col, i) => [col, shownValue(rec.values[i])]));
      emit({
        ts: null,
        kind: 'record',
        action,
        title: `${older ? 'Earlier version of a' : 'Deleted'} ${rec.table} row${rec.rowid !== null ? ` #${rec.rowid}` : ''} in ${path.posix.basename(job.name)} (${sourceWords(recovered)})`,
        sourceTable: rec.table,
        sourceRowid: rec.rowid,
        recovered,
        extra: { recovery, values },
      });
    }
  }

  // What Apple keeps about deletions on purpose: Recently Deleted, the deleted-GUID tables, and ROWID gaps.
  for (const m of safe(() => recentlyDeleted(db), warn) ?? []) {
    const ts = macAbsoluteAuto(m.deleteDate);
    const live = liveEvent.get(job.fileRowId, 'message', m.messageId) as
      | { thread_id: number | null; counterpart: string | null; counterpart_name: string | null; direction: string | null }
      | undefined;
    const parts = m.parts.map((p) => p.partText?.toString('utf8')).filter((t): t is string => !!t);
    emit({
      ts,
      kind: 'message',
      action: 'deleted',
      title: `Message ROWID ${m.messageId} moved to Recently Deleted${m.messagePresent ? '' : ' (the message row is gone)'}`,
      body: parts.length ? parts.join('\n') : null,
      direction: (live?.direction ?? null) as EventInput['direction'],
      counterpart: live?.counterpart ?? null,
      counterpartName: live?.counterpart_name ?? null,
      threadId: live?.thread_id ?? (m.chatId !== null ? ((threadOfChat.get(job.fileRowId, m.chatId) as number | undefined) ?? null) : null),
      sourceTable: m.from,
      sourceRowid: m.messageId,
      recovered: { from: 'recently-deleted', confidence: 'high' },
      extra: { chat_id: m.chatId, message_present: m.messagePresent, parts: m.parts.length },
    });
  }
  for (const g of safe(() => deletedGuids(db), warn) ?? []) {
    const what = g.table === 'sync_deleted_chats' ? 'conversation' : g.table === 'sync_deleted_attachments' ? 'attachment' : 'message';
    emit({
      ts: g.timestamp === null ? null : macAbsoluteAuto(g.timestamp),
      kind: 'message',
      action: 'deleted',
      title: `Deleted ${what} recorded in ${g.table}${g.guid ? ` (GUID ${g.guid})` : ''}`,
      sourceTable: g.table,
      sourceRowid: g.rowid,
      recovered: { from: 'deleted-guid', confidence: 'high' },
      extra: { guid: g.guid, record_id: g.recordId },
    });
  }
  const gapReports: GapReport[] = [];
  for (const [report, kind, time] of [
    [safe(() => messageRowidGaps(db, res.records), warn), 'message', macAbsoluteAuto] as const,
    [safe(() => callRowidGaps(db, res.records), warn), 'call', macSeconds] as const,
  ]) {
    if (!report) continue;
    gapReports.push(report);
    for (const g of report.gaps) {
      const before = g.before ? time(g.before.time) : null;
      const after = g.after ? time(g.after.time) : null;
      const noun = `${kind === 'call' ? 'call' : 'message'}${g.count === 1 ? '' : 's'}`;
      emit({
        ts: before,
        kind,
        action: 'records-missing',
        title: `${g.count} ${noun} missing: ${g.table} ${g.from === g.to ? `#${g.from}` : `#${g.from}–#${g.to}`}, between ${g.before ? `#${g.before.rowid}` : 'the start'} and ${g.after ? `#${g.after.rowid}` : `the highest id used (${report.maxId})`}${g.recovered ? `; ${g.recovered} of them recovered` : ''}`,
        sourceTable: g.table,
        sourceRowid: null,
        recovered: { from: 'rowid-gap', confidence: 'high' },
        extra: { gap: { from: g.from, to: g.to, count: g.count, recovered: g.recovered, max_id_from: report.maxFrom }, before_time: before, after_time: after },
      });
    }
  }
  cf.recordRecoveryRun({
    fileId: job.fileRowId,
    database: job.name,
    records: res.records.length,
    events,
    warnings,
    seconds: job.seconds,
    stats: { ...res.stats, gaps: gapReports.map((r) => ({ table: r.table, missing: r.missing, max_id: r.maxId })) },
  });
  return { events, warnings };
}

function safe<T>(fn: () => T, warn: (m: string) => void): T | null {
  try {
    return fn();
  } catch (e) {
    warn(`could not be read (${(e as Error).message})`);
    return null;
  }
}
