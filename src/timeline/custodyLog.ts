// The custody log: append-only, hash-chained. Each row's hash covers its own content and the previous
// row's hash, so editing, inserting or deleting any row breaks every hash after it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type Database from 'better-sqlite3';
import { TOOL_VERSION } from '../version.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface CustodyRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  detail_json: string;
  prev_hash: string;
  hash: string;
}

/** Hash of one row: a fixed, unambiguous serialisation of every field but the hash itself. */
export function custodyHash(row: Omit<CustodyRow, 'hash'>): string {
  return createHash('sha256')
    .update(JSON.stringify([row.seq, row.at, row.actor, row.action, row.detail_json, row.prev_hash]))
    .digest('hex');
}

/** A hash of something an action read or wrote: a file (path, size) or a named digest. */
export interface HashRef {
  name?: string;
  path?: string;
  size?: number;
  sha256: string | null;
  [more: string]: unknown;
}

export interface CustodyEntry {
  action: string;
  /** The examiner (--examiner); defaults to IOS_TIMELINE_EXAMINER, then the case's examiner, then the OS user. */
  actor?: string;
  detail: Record<string, unknown>;
  inputs?: HashRef[];
  outputs?: HashRef[];
}

let commandLine: string[] | null = null;

/** The command line custody rows record: the CLI sets the arguments it was given; otherwise the process's. */
export function setCommandLine(args: string[]): void {
  commandLine = args;
}

/** Append a row. UTC time, examiner, host, tool version, command line, inputs and outputs are always recorded. */
export function appendCustody(db: Database.Database, entry: CustodyEntry, now = new Date()): CustodyRow {
  const last = db.prepare('SELECT seq, hash FROM custody ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  const detail = {
    tool_version: TOOL_VERSION,
    host: os.hostname(),
    command_line: redactArgv(commandLine ?? process.argv.slice(2)),
    inputs: entry.inputs ?? [],
    outputs: entry.outputs ?? [],
    ...entry.detail,
  };
  const row: Omit<CustodyRow, 'hash'> = {
    seq: (last?.seq ?? 0) + 1,
    at: now.toISOString(),
    actor: resolveActor(db, entry.actor),
    action: entry.action,
    detail_json: JSON.stringify(detail),
    prev_hash: last?.hash ?? GENESIS_HASH,
  };
  const full: CustodyRow = { ...row, hash: custodyHash(row) };
  db.prepare('INSERT INTO custody(seq, at, actor, action, detail_json, prev_hash, hash) VALUES (@seq, @at, @actor, @action, @detail_json, @prev_hash, @hash)').run(full);
  return full;
}

export interface ChainProblem {
  seq: number;
  problem: string;
}

/** Re-check the whole chain; returns every broken link (empty when intact). */
export function verifyCustodyChain(db: Database.Database): { rows: number; head: string; problems: ChainProblem[] } {
  const rows = db.prepare('SELECT seq, at, actor, action, detail_json, prev_hash, hash FROM custody ORDER BY seq').all() as CustodyRow[];
  const problems: ChainProblem[] = [];
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  for (const r of rows) {
    if (r.seq !== expectedSeq) problems.push({ seq: r.seq, problem: `sequence gap: expected ${expectedSeq}, found ${r.seq}` });
    if (r.prev_hash !== prev) problems.push({ seq: r.seq, problem: `prev_hash does not match the hash of row ${r.seq - 1}` });
    const h = custodyHash(r);
    if (h !== r.hash) problems.push({ seq: r.seq, problem: `row content does not match its hash (stored ${r.hash.slice(0, 12)}…, computed ${h.slice(0, 12)}…)` });
    prev = r.hash;
    expectedSeq = r.seq + 1;
  }
  return { rows: rows.length, head: prev, problems };
}

/** Who a row is recorded for: the given examiner, else IOS_TIMELINE_EXAMINER, the case's examiner, the OS user. */
export function resolveActor(db: Database.Database, given?: string | null): string {
  return given || process.env.IOS_TIMELINE_EXAMINER || caseExaminer(db) || os.userInfo().username;
}

function caseExaminer(db: Database.Database): string | null {
  try {
    const r = db.prepare("SELECT value FROM meta WHERE key = 'examiner'").get() as { value: string | null } | undefined;
    return r?.value || null;
  } catch {
    return null;
  }
}

/** The head of the chain: the last row's hash (GENESIS_HASH when empty). */
export function custodyHead(db: Database.Database): { seq: number; hash: string } {
  const r = db.prepare('SELECT seq, hash FROM custody ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  return r ?? { seq: 0, hash: GENESIS_HASH };
}

/** Never record a password given on the command line. */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--password' || a === '-p') {
      out.push(a, '[redacted]');
      i++;
      continue;
    }
    if (a.startsWith('--password=')) {
      out.push('--password=[redacted]');
      continue;
    }
    out.push(a);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ custody heads
// The chain alone cannot show that its last rows were deleted (`DELETE FROM custody WHERE seq >= 2` leaves an
// intact, shorter chain). So after every row the new head is also appended to a sidecar beside the case file,
// `<case>.custody-heads`, one line "seq hash utc-time" per row; verify compares the table with it.

export const HEADS_SUFFIX = '.custody-heads';

/** `casePath` is the case's final name (not `.partial`). */
export function custodyHeadsPath(casePath: string): string {
  return casePath + HEADS_SUFFIX;
}

export function appendCustodyHead(casePath: string, row: Pick<CustodyRow, 'seq' | 'hash' | 'at'>): void {
  fs.appendFileSync(custodyHeadsPath(casePath), `${row.seq} ${row.hash} ${row.at}\n`, { mode: 0o644 });
}

export interface CustodyHead {
  line: number;
  seq: number;
  hash: string;
  at: string;
}

/** The sidecar's lines (null when there is no sidecar); a malformed line is returned as a problem. */
export function readCustodyHeads(casePath: string): { heads: CustodyHead[]; problems: ChainProblem[] } | null {
  const p = custodyHeadsPath(casePath);
  if (!fs.existsSync(p)) return null;
  const heads: CustodyHead[] = [];
  const problems: ChainProblem[] = [];
  fs.readFileSync(p, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (!text.trim()) return;
      const m = /^(\d+) ([0-9a-f]{64}) (\S+)$/.exec(text.trim());
      if (!m) problems.push({ seq: 0, problem: `line ${i + 1} of ${p} is not "seq hash time"` });
      else heads.push({ line: i + 1, seq: Number(m[1]), hash: m[2], at: m[3] });
    });
  return { heads, problems };
}

/**
 * Compare the table with the recorded heads: a head whose row is gone means the log was truncated; a head whose
 * row has another hash means the row was replaced. Rows after the last recorded head are only reported by count.
 */
export function checkCustodyHeads(rows: Pick<CustodyRow, 'seq' | 'hash'>[], heads: CustodyHead[]): { problems: ChainProblem[]; unanchored: number; lastSeq: number } {
  const bySeq = new Map(rows.map((r) => [r.seq, r.hash]));
  const problems: ChainProblem[] = [];
  let firstMissing: CustodyHead | null = null;
  let lastSeq = 0;
  for (const h of heads) {
    lastSeq = Math.max(lastSeq, h.seq);
    const hash = bySeq.get(h.seq);
    if (hash === undefined) {
      if (!firstMissing || h.seq < firstMissing.seq) firstMissing = h;
      continue;
    }
    if (hash !== h.hash)
      problems.push({ seq: h.seq, problem: `hash ${hash.slice(0, 16)}… differs from the head recorded at ${h.at} (${h.hash.slice(0, 16)}…): the row was replaced` });
  }
  if (firstMissing) {
    const have = rows.length ? Math.max(...rows.map((r) => r.seq)) : 0;
    problems.push({ seq: firstMissing.seq, problem: `missing: the custody log was truncated (it ends at row ${have}; the heads file records row ${lastSeq} as the head)` });
  }
  const unanchored = rows.filter((r) => r.seq > lastSeq).length;
  return { problems: problems.sort((a, b) => a.seq - b.seq), unanchored, lastSeq };
}
