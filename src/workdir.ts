// Process-level safety: private working folders, cleanup on Ctrl-C / SIGTERM, removal of folders left by a
// killed run, and pid liveness (shared with the case-file lock).
//
// Working copies live in the system temp folder (os.tmpdir(): $TMPDIR, else /tmp) as `ios-timeline-XXXXXX`,
// mode 0700. For an encrypted backup they hold *decrypted* databases, so none may outlive the run: they are
// removed at the end, on SIGINT/SIGTERM/SIGHUP, and (after kill -9, which no process can catch) at the start of
// the next command, which removes every folder whose owner process is gone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const WORKDIR_PREFIX = 'ios-timeline-';
/** Inside every working folder: who owns it, so a later run can tell a live folder from a leftover. */
export const OWNER_FILE = '.ios-timeline-owner.json';

/** Refused before anything was written (an output inside the evidence, a locked case): a usage error, exit 2. */
export class RefusedError extends Error {}

export interface ProcessStamp {
  pid: number;
  host: string;
  started_at: string;
  proc_start: string | null;
}

/** The kernel's start time of a process (Linux /proc, clock ticks since boot): tells a live owner from a reused pid. */
function procStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null; // field 22, counted after "pid (comm) "
  } catch {
    return null;
  }
}

const STARTED_AT = new Date().toISOString();

export function processStamp(): ProcessStamp {
  return { pid: process.pid, host: os.hostname(), started_at: STARTED_AT, proc_start: procStart(process.pid) };
}

/** Is the process that wrote `stamp` still running? Unknown hosts count as alive: never remove what we cannot check. */
export function isAlive(stamp: Pick<ProcessStamp, 'pid' | 'host' | 'proc_start'>): boolean {
  if (stamp.host !== os.hostname()) return true;
  if (!Number.isInteger(stamp.pid) || stamp.pid <= 0) return false;
  try {
    process.kill(stamp.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: alive, owned by someone else
  }
  if (stamp.proc_start) {
    const now = procStart(stamp.pid);
    if (now !== null && now !== stamp.proc_start) return false; // the pid was reused by another process
  }
  return true;
}

// ------------------------------------------------------------------------------------------ cleanup registry

const ownedDirs = new Set<string>();
const cleanups = new Set<() => void>();
let exitHook = false;

function runCleanups(): void {
  for (const fn of [...cleanups]) {
    try {
      fn();
    } catch {
      /* best effort: keep removing the rest */
    }
  }
  for (const d of [...ownedDirs]) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* idem */
    }
    ownedDirs.delete(d);
  }
}

function ensureExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', runCleanups); // also after an uncaught error: nothing decrypted stays behind
}

/** Run `fn` if the process is interrupted or exits before `done()` is called (remove a half-written file…). */
export function onAbort(fn: () => void): () => void {
  ensureExitHook();
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** A new private working folder (mode 0700, owner file inside), removed on exit or interruption. */
export function makeWorkDir(prefix = WORKDIR_PREFIX): string {
  ensureExitHook();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  ownedDirs.add(dir);
  fs.chmodSync(dir, 0o700);
  fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify(processStamp()) + '\n', { mode: 0o600 });
  return dir;
}

export function removeWorkDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

/**
 * Remove working folders left in the temp folder by runs that died (kill -9, power loss). Only folders with an
 * owner file whose process is gone on this host, owned by this user, are removed; a live run's folder never is.
 */
export function sweepStaleWorkDirs(tmp = os.tmpdir()): { removed: string[]; bytes: number } {
  const removed: string[] = [];
  let bytes = 0;
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return { removed, bytes };
  }
  for (const name of names) {
    if (!name.startsWith(WORKDIR_PREFIX)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) continue;
      const owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as ProcessStamp;
      if (owner.pid === process.pid || isAlive(owner)) continue;
      bytes += treeBytes(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      /* no owner file (another tool, or not ours to judge) or already gone */
    }
  }
  return { removed, bytes };
}

function treeBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? treeBytes(p) : fs.lstatSync(p).size;
  }
  return n;
}

let swept = false;
/** Sweep once per process (the CLI at start, the library's ingest before it creates anything). */
export function sweepStaleWorkDirsOnce(): { removed: string[]; bytes: number } {
  if (swept) return { removed: [], bytes: 0 };
  swept = true;
  return sweepStaleWorkDirs();
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * CLI only: on SIGINT/SIGTERM/SIGHUP remove working folders and half-written files, say so in one line and exit
 * 128 + signal number. (A library must not take over the process's signals; its folders still go on exit.)
 */
export function installInterruptHandlers(): void {
  for (const [sig, code] of Object.entries(SIGNAL_EXIT)) {
    process.on(sig as NodeJS.Signals, () => {
      const what = ownedDirs.size + cleanups.size;
      runCleanups();
      if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false); // a SIGTERM at the password prompt
      process.stderr.write(`ios-timeline: interrupted (${sig}): stopped${what ? '; working copies and unfinished files removed' : ''}\n`);
      process.exit(code);
    });
  }
}
