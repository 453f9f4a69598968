// The case file: one SQLite database per case, the single source of truth for every report and export.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { migrate, MULTI_DEVICE_INDEX_SQL, POST_INGEST_SQL } from './schema.js';
import { appendCustody, appendCustodyHead, type CustodyEntry, type CustodyRow } from './custodyLog.js';
import { isAlive, onAbort, processStamp, RefusedError, type ProcessStamp } from '../workdir.js';
import type { Timestamp } from '../formats/appleTime.js';

export type Direction = 'incoming' | 'outgoing' | null;
export type Severity = 'info' | 'warning' | 'error';
export type FileStatus = 'ok' | 'missing' | 'unreadable' | 'decrypt-failed' | 'not-sqlite' | 'listed-only';

/** One timeline event as an extractor produces it. */
export interface EventInput {
  ts: Timestamp | null;
  kind: string;
  action: string;
  /** One readable line describing the event ("Call from Josh Hickman, 15 s"). */
  title?: string | null;
  /** The user's own text, exactly as written (null when the row has none). */
  body?: string | null;
  direction?: Direction;
  counterpart?: string | null;
  counterpartName?: string | null;
  threadId?: number | null;
  service?: string | null;
  durationS?: number | null;
  latitude?: number | null;
  longitude?: number | null;
  accuracyM?: number | null;
  sourceFileId: number | null;
  sourceTable: string | null;
  sourceRowid: number | bigint | null;
  extra?: Record<string, unknown> | null;
  /** `extra` already serialised as JSON (hot paths that build plain JSON-safe objects skip the replacer). */
  extraJson?: string | null;
  /** Read from deleted or superseded data, never a live row: where it came from and how sure we are. */
  recovered?: { from: RecoveredFrom; confidence: 'high' | 'medium' | 'low' } | null;
}

export type RecoveredFrom = 'recently-deleted' | 'deleted-guid' | 'rowid-gap' | 'transactions-log' | 'wal-frame' | 'superseded-page' | 'freeblock' | 'freelist' | 'unallocated';

export interface FileRecord {
  domain: string | null;
  relativePath: string | null;
  fileId: string | null;
  flags?: number | null;
  size?: number | null;
  manifestSize?: number | null;
  mtimeUtcUs?: number | null;
  sha256?: string | null;
  md5?: string | null;
  sha1?: string | null;
  status: FileStatus;
  readBy?: string | null;
  note?: string | null;
}

export interface WarningInput {
  extractor?: string | null;
  fileId?: number | null;
  severity?: Severity;
  message: string;
  sourceTable?: string | null;
  sourceRowid?: number | bigint | null;
}

const BATCH = 20_000;

/** The events columns a writer fills, in the one order every insert uses (id is assigned by SQLite). */
export const EVENT_COLUMNS = [
  'ts_utc_us',
  'ts_raw',
  'ts_epoch',
  'kind',
  'action',
  'title',
  'body',
  'direction',
  'counterpart',
  'counterpart_name',
  'thread_id',
  'service',
  'duration_s',
  'latitude',
  'longitude',
  'accuracy_m',
  'source_file_id',
  'source_table',
  'source_rowid',
  'extractor',
  'extra_json',
  'recovered',
  'recovered_from',
  'confidence',
] as const;
export type EventColumn = (typeof EVENT_COLUMNS)[number];
/** What an extractor's INSERT … SELECT fills: every column but the recovery flags (a live row keeps their defaults). */
export const LIVE_EVENT_COLUMNS: readonly EventColumn[] = EVENT_COLUMNS.filter((c) => c !== 'recovered' && c !== 'recovered_from' && c !== 'confidence');
/** A message-like live event: no duration, no position. */
export const MESSAGE_EVENT_COLUMNS: readonly EventColumn[] = LIVE_EVENT_COLUMNS.filter((c) => !['duration_s', 'latitude', 'longitude', 'accuracy_m'].includes(c));

/** A case file whose ingest never finished (killed, interrupted): refused unless --allow-incomplete. */
export class IncompleteCaseError extends Error {}

/** Ingest writes under `<case>.partial`; the lock, the custody-heads sidecar and messages use the final name. */
export function finalCasePath(p: string): string {
  return p.endsWith('.partial') ? p.slice(0, -'.partial'.length) : p;
}

/** Called after every custody row appended (the CLI prints the new head on stderr). */
let custodyListener: ((casePath: string, row: CustodyRow) => void) | null = null;
export function onCustodyAppended(fn: ((casePath: string, row: CustodyRow) => void) | null): void {
  custodyListener = fn;
}

/**
 * `ingest_state` in meta: 'running' from the moment the file is created, 'complete' once extraction and the
 * listing check are done, just before the content digest (which covers it), the indexes and the ingest custody
 * row. A case is complete only with both: 'complete' (or no state at all, in files made before it existed) and
 * an ingest custody row, so a run killed at any point before its end is incomplete.
 */
export function ingestStateOf(db: Database.Database): { complete: boolean; state: string } {
  let state: string | null = null;
  try {
    state = (db.prepare("SELECT value FROM meta WHERE key = 'ingest_state'").get() as { value: string | null } | undefined)?.value ?? null;
  } catch {
    /* no meta */
  }
  let ingested = false;
  try {
    ingested = !!db.prepare("SELECT 1 FROM custody WHERE action = 'ingest' LIMIT 1").get();
  } catch {
    /* no custody */
  }
  if (state !== null && state !== 'complete') return { complete: false, state };
  if (!ingested) return { complete: false, state: state === 'complete' ? 'complete but no ingest custody row' : 'no ingest custody row' };
  return { complete: true, state: 'complete' };
}

// ------------------------------------------------------------------------------------------ the case lock

export interface CaseLock {
  path: string;
  release(): void;
}

/** Another live command holds the case. */
export class CaseInUseError extends RefusedError {}

interface LockOwner extends ProcessStamp {
  command: string;
}

/**
 * An exclusive lock on a case for ingest and for every command that appends custody rows: `<case>.lock`,
 * created with O_EXCL and holding pid, host and command. A lock whose process is gone (same host) is stale
 * and taken over; a live one makes the second command stop with who holds it (exit 2).
 */
export function lockCase(casePath: string, command: string): CaseLock {
  const lockPath = `${finalCasePath(casePath)}.lock`;
  const mine: LockOwner = { ...processStamp(), command };
  const text = JSON.stringify(mine) + '\n';
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lockPath, text, { flag: 'wx', mode: 0o644 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RefusedError(`cannot create the lock ${lockPath}: ${(e as Error).message}`);
      let seen = '';
      let owner: LockOwner | null = null;
      try {
        seen = fs.readFileSync(lockPath, 'utf8');
        owner = JSON.parse(seen) as LockOwner;
      } catch {
        /* being written, or damaged */
      }
      if (owner && isAlive(owner)) {
        throw new CaseInUseError(
          `case file ${finalCasePath(casePath)} is in use: ${owner.command} (pid ${owner.pid} on ${owner.host}, since ${owner.started_at}) holds ${lockPath}`,
        );
      }
      if (!owner && attempt === 0) {
        sleepMs(200);
        continue;
      } // another process may be writing it right now
      if (attempt >= 2) throw new CaseInUseError(`case file ${finalCasePath(casePath)} is locked (${lockPath}); remove that file if no ios-timeline command is running`);
      // Stale (its process is gone): take it over, removing it only if it is still the file we judged.
      try {
        if (fs.readFileSync(lockPath, 'utf8') === seen) fs.rmSync(lockPath, { force: true });
      } catch {
        /* gone already */
      }
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    done();
    try {
      if (fs.readFileSync(lockPath, 'utf8') === text) fs.rmSync(lockPath);
    } catch {
      /* already gone */
    }
  };
  const done = onAbort(release);
  return { path: lockPath, release };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class CaseFile {
  readonly db: Database.Database;
  private pending = 0;
  private inTx = false;
  private insertEventStmt: Database.Statement | null = null;
  /** The evidence row (device) that rows written now belong to; set by ingest once its evidence row exists. */
  deviceId: number | null = null;

  private constructor(
    readonly path: string,
    db: Database.Database,
  ) {
    this.db = db;
  }

  /** Statements of the per-row writers, prepared once: preparing one per call cost 2.4 of 17 CPU-s on 100k real messages. */
  private readonly stmts = new Map<string, Database.Statement>();
  private stmt(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  /** Create a new case file. Refuses to overwrite an existing one. */
  static create(path: string): CaseFile {
    if (fs.existsSync(path)) throw new Error(`case file ${path} already exists; choose another name or delete it`);
    const db = new Database(path);
    // The rollback journal in memory while loading: WAL would write every page twice (log, then checkpoint), 1.2 GB
    // more on a 1M-message case. shareForReading() switches to WAL so the digest workers can read while indexes
    // are built; close() returns the file to DELETE mode: one self-contained file, so its hash means something.
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF'); // bulk load; a failed ingest discards the file anyway
    db.pragma('cache_size = -32768'); // 32 MB: rows are appended, a larger cache only held more memory
    // References are written by our own code in one pass; checking each insert costs a third of the load time.
    db.pragma('foreign_keys = OFF');
    migrate(db);
    return new CaseFile(path, db);
  }

  /** Open an existing case file (read-write: reports and exports append custody rows). */
  static open(path: string, opts: { readonly?: boolean } = {}): CaseFile {
    if (!fs.existsSync(path)) throw new Error(`case file ${path} does not exist`);
    const db = new Database(path, { readonly: !!opts.readonly, fileMustExist: true });
    const isCase = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='events'").get();
    if (!isCase) {
      db.close();
      throw new Error(`${path} is not an ios-timeline case file`);
    }
    if (!opts.readonly) migrate(db);
    return new CaseFile(path, db);
  }

  /** Refuse a case whose ingest did not finish, unless the caller explicitly accepts it. */
  requireComplete(allowIncomplete = false): { complete: boolean; state: string } {
    const s = ingestStateOf(this.db);
    if (!s.complete && !allowIncomplete) {
      throw new IncompleteCaseError(
        `case file ${this.path} is incomplete (ingest state: ${s.state}): its ingest did not finish; ingest again, or pass --allow-incomplete to use what it holds (outputs are marked INCOMPLETE)`,
      );
    }
    return s;
  }

  setMeta(key: string, value: string | number | null): void {
    this.db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run(key, value === null ? null : String(value));
  }

  getMeta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string | null } | undefined;
    return row?.value ?? null;
  }

  /** Start a bulk-load transaction; events are committed every BATCH rows so memory stays flat. */
  begin(): void {
    if (!this.inTx) {
      this.db.exec('BEGIN');
      this.inTx = true;
      this.pending = 0;
    }
  }

  commit(): void {
    if (this.inTx) {
      this.db.exec('COMMIT');
      this.inTx = false;
      this.pending = 0;
    }
  }

  rollback(): void {
    if (this.inTx) {
      this.db.exec('ROLLBACK');
      this.inTx = false;
      this.pending = 0;
    }
  }

  /** Count rows written (also those an extractor wrote with its own INSERT … SELECT): commit every BATCH rows. */
  written(rows = 1): void {
    if (this.inTx && (this.pending += rows) >= BATCH) {
      this.db.exec('COMMIT; BEGIN');
      this.pending = 0;
    }
  }

  addEvent(e: EventInput, extractor: string): number {
    // Prepared on first use: a case opened read-only may predate the columns it names.
    this.insertEventStmt ??= this.db.prepare(`INSERT INTO events (${EVENT_COLUMNS.join(', ')}, device_id) VALUES (${EVENT_COLUMNS.map(() => '?').join(',')}, ?)`);
    const r = this.insertEventStmt.run(
      e.ts?.utcUs ?? null,
      e.ts?.raw ?? null,
      e.ts?.epoch ?? null,
      e.kind,
      e.action,
      e.title ?? null,
      e.body ?? null,
      e.direction ?? null,
      e.counterpart ?? null,
      e.counterpartName ?? null,
      e.threadId ?? null,
      e.service ?? null,
      e.durationS ?? null,
      e.latitude ?? null,
      e.longitude ?? null,
      e.accuracyM ?? null,
      e.sourceFileId,
      e.sourceTable,
      e.sourceRowid === null ? null : typeof e.sourceRowid === 'bigint' ? e.sourceRowid : Math.trunc(e.sourceRowid),
      extractor,
      e.extraJson ?? (e.extra ? JSON.stringify(e.extra, bigintReplacer) : null),
      e.recovered ? 1 : 0,
      e.recovered?.from ?? null,
      e.recovered?.confidence ?? null,
      this.deviceId,
    );
    this.written();
    return Number(r.lastInsertRowid);
  }

  /** Record (or update) an evidence file that was read or looked for. Returns its id in `files`. */
  recordFile(f: FileRecord): number {
    const existing = this.stmt('SELECT id FROM files WHERE domain IS ? AND relative_path IS ? AND device_id IS ?').get(f.domain, f.relativePath, this.deviceId) as
      | { id: number }
      | undefined;
    const values = [
      f.fileId,
      f.flags ?? null,
      f.size ?? null,
      f.manifestSize ?? null,
      f.mtimeUtcUs ?? null,
      f.sha256 ?? null,
      f.md5 ?? null,
      f.sha1 ?? null,
      f.status,
      f.readBy ?? null,
      f.note ?? null,
    ];
    if (existing) {
      this.stmt(`UPDATE files SET file_id=?, flags=?, size=?, manifest_size=?, mtime_utc_us=?, sha256=COALESCE(?, sha256),
        md5=COALESCE(?, md5), sha1=COALESCE(?, sha1), status=?, read_by=CASE WHEN read_by IS NULL THEN ? WHEN ? IS NULL OR instr(read_by, ?) THEN read_by ELSE read_by || ',' || ? END,
        note=COALESCE(?, note) WHERE id=?`).run(
        values[0],
        values[1],
        values[2],
        values[3],
        values[4],
        values[5],
        values[6],
        values[7],
        values[8],
        f.readBy ?? null,
        f.readBy ?? null,
        f.readBy ?? '',
        f.readBy ?? null,
        values[10],
        existing.id,
      );
      return existing.id;
    }
    const r = this.stmt(`INSERT INTO files (domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, read_by, note, device_id)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`).run(f.domain, f.relativePath, ...values, this.deviceId);
    return Number(r.lastInsertRowid);
  }

  addWarning(w: WarningInput): void {
    this.stmt('INSERT INTO warnings (at, extractor, file_id, severity, message, source_table, source_rowid, device_id) VALUES (?,?,?,?,?,?,?,?)').run(
      new Date().toISOString(),
      w.extractor ?? null,
      w.fileId ?? null,
      w.severity ?? 'warning',
      w.message,
      w.sourceTable ?? null,
      w.sourceRowid ?? null,
      this.deviceId,
    );
  }

  addThread(t: {
    extractor: string;
    sourceFileId: number | null;
    sourceTable: string;
    sourceRowid: number | bigint | null;
    identifier: string | null;
    displayName: string | null;
    service: string | null;
    isGroup: boolean;
    extra?: Record<string, unknown>;
  }): number {
    const r = this.db
      .prepare(
        'INSERT INTO threads (extractor, source_file_id, source_table, source_rowid, identifier, display_name, service, is_group, extra_json, device_id) VALUES (?,?,?,?,?,?,?,?,?,?)',
      )
      .run(
        t.extractor,
        t.sourceFileId,
        t.sourceTable,
        t.sourceRowid,
        t.identifier,
        t.displayName,
        t.service,
        t.isGroup ? 1 : 0,
        t.extra ? JSON.stringify(t.extra, bigintReplacer) : null,
        this.deviceId,
      );
    return Number(r.lastInsertRowid);
  }

  addParticipant(threadId: number, handle: string, name: string | null): void {
    this.stmt('INSERT OR IGNORE INTO participants (thread_id, handle, name) VALUES (?,?,?)').run(threadId, handle, name);
  }

  addAttachment(a: {
    eventId: number | null;
    extractor: string;
    sourceFileId: number | null;
    sourceTable: string;
    sourceRowid: number | bigint | null;
    fileId: number | null;
    path: string | null;
    transferName: string | null;
    mimeType: string | null;
    uti: string | null;
    totalBytes: number | null;
    status: string;
    sha256: string | null;
    extra?: Record<string, unknown>;
    /** `extra` already serialized (no BigInt or Buffer in it): skips the replacer, as addEvent's extraJson. */
    extraJson?: string;
  }): number {
    const r =
      this.stmt(`INSERT INTO attachments (event_id, extractor, source_file_id, source_table, source_rowid, file_id, path, transfer_name, mime_type, uti, total_bytes, status, sha256, extra_json, device_id)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`).run(
        a.eventId,
        a.extractor,
        a.sourceFileId,
        a.sourceTable,
        a.sourceRowid,
        a.fileId,
        a.path,
        a.transferName,
        a.mimeType,
        a.uti,
        a.totalBytes,
        a.status,
        a.sha256,
        a.extraJson ?? (a.extra ? JSON.stringify(a.extra, bigintReplacer) : null),
        this.deviceId,
      );
    return Number(r.lastInsertRowid);
  }

  addContact(c: {
    sourceFileId: number | null;
    sourceTable: string;
    sourceRowid: number | bigint | null;
    displayName: string | null;
    firstName: string | null;
    lastName: string | null;
    organization: string | null;
    extra?: Record<string, unknown>;
    handles: { kind: string; label: string | null; value: string; normalized: string | null }[];
  }): number {
    const r = this.db
      .prepare(
        'INSERT INTO contacts (source_file_id, source_table, source_rowid, display_name, first_name, last_name, organization, extra_json, device_id) VALUES (?,?,?,?,?,?,?,?,?)',
      )
      .run(
        c.sourceFileId,
        c.sourceTable,
        c.sourceRowid,
        c.displayName,
        c.firstName,
        c.lastName,
        c.organization,
        c.extra ? JSON.stringify(c.extra, bigintReplacer) : null,
        this.deviceId,
      );
    const id = Number(r.lastInsertRowid);
    const ins = this.db.prepare('INSERT INTO contact_handles (contact_id, kind, label, value, normalized) VALUES (?,?,?,?,?)');
    for (const h of c.handles) ins.run(id, h.kind, h.label, h.value, h.normalized);
    return id;
  }

  recordRecoveryRun(r: { fileId: number | null; database: string; records: number; events: number; warnings: number; seconds: number; stats: unknown }): void {
    this.db
      .prepare('INSERT INTO recovery_runs (file_id, database, records, events, warnings, seconds, stats_json, device_id) VALUES (?,?,?,?,?,?,?,?)')
      .run(r.fileId, r.database, r.records, r.events, r.warnings, r.seconds, JSON.stringify(r.stats, bigintReplacer), this.deviceId);
  }

  recordExtractorRun(r: {
    extractor: string;
    title: string;
    status: 'ok' | 'not-present' | 'partial' | 'failed';
    events: number;
    warnings: number;
    startedAt: string;
    finishedAt: string;
    message: string | null;
  }): void {
    this.db
      .prepare('INSERT INTO extractor_runs (extractor, title, status, events, warnings, started_at, finished_at, message, device_id) VALUES (?,?,?,?,?,?,?,?,?)')
      .run(r.extractor, r.title, r.status, r.events, r.warnings, r.startedAt, r.finishedAt, r.message, this.deviceId);
  }

  // ---- bulk writes an extractor describes (SQL instead of one JS insert per row) ------------------------

  /** Attach an extractor's working copy so its rows can be copied by one INSERT … SELECT (commits first:
   *  ATTACH is not allowed inside a transaction). */
  attachSource(path: string, schema: string): void {
    const wasInTx = this.inTx;
    this.commit();
    try {
      this.db.prepare(`ATTACH DATABASE ? AS ${schema}`).run(path);
    } finally {
      if (wasInTx) this.begin();
    }
  }

  detachSource(schema: string): void {
    const wasInTx = this.inTx;
    this.commit();
    try {
      this.db.exec(`DETACH DATABASE ${schema}`);
    } catch {
      /* nothing attached */
    } finally {
      if (wasInTx) this.begin();
    }
  }

  /** An INSERT … SELECT an extractor describes: `select` yields exactly `columns`, in that order. The caller
   *  counts what it wrote with written(). */
  prepareEventsFrom(columns: readonly EventColumn[], select: string): Database.Statement {
    for (const c of columns) if (!(EVENT_COLUMNS as readonly string[]).includes(c)) throw new Error(`not an events column: ${c}`);
    // The device id is added around the extractor's SELECT, so no extractor needs to know about devices.
    const device = this.deviceId === null ? 'NULL' : String(Math.trunc(this.deviceId));
    return this.db.prepare(`INSERT INTO main.events (${columns.join(', ')}, device_id) SELECT *, ${device} FROM (${select})`);
  }

  /** Id the next event will get (events are only ever appended during an ingest). */
  nextEventId(): number {
    return Number(this.db.prepare('SELECT ifnull(max(id), 0) + 1 FROM main.events').pluck().safeIntegers(false).get());
  }

  /** Link one event to another (a reaction to its message, a reply to its original) in extra_json. */
  linkEvent(eventId: number, key: string, targetEventId: number): void {
    if (!/^[a-z_]+$/.test(key)) throw new Error(`bad link key ${key}`);
    this.stmt(`UPDATE events SET extra_json = json_set(ifnull(extra_json, '{}'), '$.${key}', ?) WHERE id = ?`).run(targetEventId, eventId);
  }

  /** A files row as recorded (status, hash, size). */
  fileRow(id: number): { id: number; status: string; sha256: string | null; size: number | null } | undefined {
    return this.db.prepare('SELECT id, status, sha256, size FROM files WHERE id = ?').safeIntegers(false).get(id) as
      | { id: number; status: string; sha256: string | null; size: number | null }
      | undefined;
  }

  findFile(domain: string | null, relativePath: string): { id: number; status: string } | undefined {
    return this.db
      .prepare('SELECT id, status FROM files WHERE domain IS ? AND relative_path IS ? AND device_id IS ?')
      .safeIntegers(false)
      .get(domain, relativePath, this.deviceId) as { id: number; status: string } | undefined;
  }

  /** Give another attachment the thumbnail already stored (the same file sent twice). */
  copyThumbnail(thumbnailId: number, attachmentId: number): void {
    this.db
      .prepare('INSERT INTO thumbnails (attachment_id, event_id, mime, width, height, data) SELECT ?, NULL, mime, width, height, data FROM thumbnails WHERE id = ?')
      .run(attachmentId, thumbnailId);
  }

  /** Build indexes and the full-text index after loading. */
  /**
   * Commit and switch to WAL, so other connections (the digest workers) can read while this one builds the
   * indexes. Before any reader opens the file: a reader of a rollback-journal file blocks the writer's commits.
   */
  shareForReading(): void {
    this.commit();
    this.db.pragma('journal_mode = WAL');
  }

  finalizeIngest(): void {
    this.commit();
    // A big page cache makes CREATE INDEX sort in one huge in-memory run, which thrashes the CPU cache (2.2 s
    // instead of 0.7 s for 2M events); SQLite's own sorter threads use the second core.
    this.db.pragma('cache_size = -16000');
    this.db.pragma('threads = 2');
    this.db.exec(POST_INGEST_SQL);
    if (Number(this.db.prepare('SELECT count(*) FROM evidence').pluck().get()) > 1) this.db.exec(MULTI_DEVICE_INDEX_SQL);
  }

  /** Append a custody row, then anchor the new head outside the table (`<case>.custody-heads`). */
  custody(entry: CustodyEntry): CustodyRow {
    const row = appendCustody(this.db, entry);
    const casePath = finalCasePath(this.path);
    try {
      appendCustodyHead(casePath, row);
    } catch (e) {
      process.stderr.write(`warning: could not append to the custody-heads file beside ${casePath}: ${(e as Error).message}\n`);
    }
    custodyListener?.(casePath, row);
    return row;
  }

  close(): void {
    this.commit();
    if (!this.db.readonly && this.db.pragma('journal_mode', { simple: true }) === 'wal') this.db.pragma('journal_mode = DELETE');
    this.db.close();
  }
}

export function bigintReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return { hex: value.toString('hex') };
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { hex: Buffer.from((value as { data: number[] }).data).toString('hex') };
  }
  return value;
}
