// Issue #13, process-level defects: outputs inside the evidence, plaintext working copies left behind, incomplete
// cases accepted, custody truncation unnoticed, no lock on the case file, exit codes. Every test drives the
// built CLI (dist/src/cli/run.js) as separate processes, each with a private TMPDIR.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, cliProcess, treeHash, tmpDir, REPO, type CliResult } from './helpers.js';
import { fileIdFor } from '../src/backup/backup.js';
import { appendCustody } from '../src/timeline/custodyLog.js';
import { assertOutsideEvidence, realPathOf } from '../src/custody/outputs.js';
import { makeWorkDir, sweepStaleWorkDirs, OWNER_FILE, WORKDIR_PREFIX } from '../src/workdir.js';

const RUN = path.join(REPO, 'dist/src/cli/run.js');

interface Running {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start the CLI without waiting for it. */
function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [RUN, ...args], { env: { ...process.env, TZ: 'Pacific/Kiritimati', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, stdout: () => out, exit };
}

/** Wait until `cond` holds (polling); the timeout only catches a hang. */
async function until(cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const workDirsIn = (tmp: string) => fs.readdirSync(tmp).filter((n) => n.startsWith(WORKDIR_PREFIX));
const duBytes = (p: string): number => {
  const st = fs.lstatSync(p);
  return st.isDirectory() ? fs.readdirSync(p).reduce((s, n) => s + duBytes(path.join(p, n)), 0) : st.size;
};
/** stderr without the informational custody-head and sweep lines: what the user is told. */
const messageLines = (r: CliResult) =>
  r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('custody head') && !l.startsWith('removed '));

// One large backup (still ingesting when the signal comes) and one small one, shared by all tests: read-only.
let big: string;
let small: string;
let bigTree: Record<string, string>;
let smallTree: Record<string, string>;

beforeAll(() => {
  big = fixture({ messages: 30_000 }).root;
  small = fixture({ messages: 40 }).root;
  bigTree = treeHash(big);
  smallTree = treeHash(small);
}, 300_000);

/** An ingest of the big backup, started; resolves once it is extracting messages (the longest phase). */
async function ingestRunning(casePath: string, tmp: string): Promise<Running> {
  const r = start(['ingest', big, '--case', casePath], { TMPDIR: tmp });
  await until(() => r.stderr().includes('Messages (SMS') || r.child.exitCode !== null, 'the ingest to reach the messages');
  expect(r.child.exitCode, r.stderr()).toBeNull(); // still running: the test below means something
  expect(workDirsIn(tmp).length).toBeGreaterThan(0);
  return r;
}

describe('#13.2 working copies: private, removed on SIGINT/SIGTERM, swept after kill -9', () => {
  it('a working folder is mode 0700 and names its owner process', () => {
    const tmp = tmpDir('iot-hp-tmp-');
    const old = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const d = makeWorkDir();
      expect(path.dirname(d)).toBe(tmp);
      expect(fs.statSync(d).mode & 0o777).toBe(0o700);
      const owner = JSON.parse(fs.readFileSync(path.join(d, OWNER_FILE), 'utf8'));
      expect(owner.pid).toBe(process.pid);
      expect(typeof owner.started_at).toBe('string');
    } finally {
      if (old === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = old;
    }
  });

  it("the sweep removes folders of dead owners only, never a live process's folder", async () => {
    const tmp = tmpDir('iot-hp-tmp-');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const live = spawn('sleep', ['60']);
    try {
      const mk = (name: string, pid: number) => {
        fs.mkdirSync(path.join(tmp, name), { mode: 0o700 });
        fs.writeFileSync(path.join(tmp, name, OWNER_FILE), JSON.stringify({ pid, host: os.hostname(), started_at: 'x', proc_start: null }));
        fs.writeFileSync(path.join(tmp, name, 'sms.db'), Buffer.alloc(1000));
      };
      mk('ios-timeline-dead', Number(dead.stdout));
      mk('ios-timeline-live', live.pid!);
      fs.mkdirSync(path.join(tmp, 'ios-timeline-noowner'));
      const r = sweepStaleWorkDirs(tmp);
      expect(r.removed.map((p) => path.basename(p))).toEqual(['ios-timeline-dead']);
      expect(r.bytes).toBeGreaterThanOrEqual(1000);
      expect(workDirsIn(tmp).sort()).toEqual(['ios-timeline-live', 'ios-timeline-noowner']);
    } finally {
      live.kill('SIGKILL');
    }
  });

  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} during ingest: exit ${code}, one line, no working copy, no .partial, no lock left`, async () => {
      const tmp = tmpDir('iot-hp-tmp-');
      const casePath = path.join(tmpDir(), 'case.db');
      const r = await ingestRunning(casePath, tmp);
      r.child.kill(sig);
      const e = await r.exit;
      expect(e.code, r.stderr()).toBe(code);
      expect(r.stderr()).toMatch(new RegExp(`interrupted \\(${sig}\\)`));
      expect(r.stderr()).not.toMatch(/\n\s+at /); // no stack trace
      expect(workDirsIn(tmp)).toEqual([]);
      expect(fs.readdirSync(path.dirname(casePath))).toEqual([]); // no case.db(.partial, -wal, -shm, .lock)
    }, 240_000);
  }

  it('kill -9 during ingest: the next command removes the leftovers; the .partial is refused everywhere (#13.3)', async () => {
    const tmp = tmpDir('iot-hp-tmp-');
    const dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    const partial = `${casePath}.partial`;
    const r = await ingestRunning(casePath, tmp);
    r.child.kill('SIGKILL');
    await r.exit;
    // What kill -9 leaves: working copies (decrypted, for an encrypted backup), the half-written case, the lock.
    const left = workDirsIn(tmp);
    expect(left.length).toBeGreaterThan(0);
    const leftBytes = left.reduce((s, n) => s + duBytes(path.join(tmp, n)), 0);
    expect(leftBytes).toBeGreaterThan(0);
    expect(fs.existsSync(partial)).toBe(true);
    expect(fs.existsSync(`${casePath}.lock`)).toBe(true);
    const env = { TMPDIR: tmp };
    // The database and its WAL (SQLite rewrites the -shm index on any open, even read-only: not content).
    const partialBytes = () => ['', '-wal'].map((x) => (fs.existsSync(partial + x) ? fs.readFileSync(partial + x).toString('base64') : null));
    const asKilled = partialBytes();

    // verify fails it (and records nothing into it).
    const v = cliProcess(['verify', partial], env);
    expect(v.code, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toMatch(/incomplete: its ingest did not finish/);
    expect(v.stderr).toMatch(/removed \d+ working folder\(s\) left by an interrupted run/);
    // The first command's start removed them: nothing of the killed run is left in TMPDIR.
    expect(workDirsIn(tmp)).toEqual([]);
    expect(fs.readdirSync(tmp).reduce((s, n) => s + duBytes(path.join(tmp, n)), 0)).toBe(0);

    // report and export refuse it with one line, exit 1.
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const rep = cliProcess(['report', '--case', partial, '--out', path.join(out, 'rep'), '--format', 'html'], env);
    expect(rep.code, rep.stderr).toBe(1);
    expect(messageLines(rep)).toHaveLength(1);
    expect(rep.stderr).toMatch(/is incomplete .*--allow-incomplete/);
    const ex = cliProcess(['export', '--case', partial, '--format', 'jsonl', '--out', path.join(out, 'timeline.jsonl')], env);
    expect(ex.code, ex.stderr).toBe(1);
    expect(ex.stderr).toMatch(/is incomplete/);
    expect(fs.readdirSync(out)).toEqual([]);
    expect(partialBytes()).toEqual(asKilled); // refusing writes nothing: no custody row, no checkpoint of the WAL

    // --allow-incomplete: every output says INCOMPLETE (export: file name + manifest; report: title + manifest).
    const ex2 = cliProcess(['export', '--case', partial, '--format', 'jsonl', '--out', path.join(out, 'timeline.jsonl'), '--allow-incomplete'], env);
    expect(ex2.code, ex2.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, 'timeline.INCOMPLETE.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'timeline.jsonl'))).toBe(false);
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(m.status).toBe('INCOMPLETE');
    expect(m.actions[0].incomplete).toBe(true);
    const rep2 = cliProcess(['report', '--case', partial, '--out', path.join(out, 'rep'), '--format', 'html', '--allow-incomplete'], env);
    expect(rep2.code, rep2.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'rep', 'report.html'), 'utf8')).toMatch(/<h1>INCOMPLETE \(ingest did not finish\)/);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'rep', 'manifest.json'), 'utf8')).status).toBe('INCOMPLETE');

    // A new ingest to the same case takes over the stale lock and replaces the .partial.
    const again = cliProcess(['ingest', big, '--case', casePath, '-q'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.existsSync(`${casePath}.lock`)).toBe(false);
    expect(cliProcess(['verify', casePath, '--no-record'], env).code).toBe(0);
    expect(workDirsIn(tmp)).toEqual([]);
    expect(treeHash(big)).toEqual(bigTree);
  }, 400_000);
});

describe('#13.5 the case lock', () => {
  it('a second ingest to the same --case says who holds it and exits 2; the first finishes intact', async () => {
    const tmp = tmpDir('iot-hp-tmp-');
    const casePath = path.join(tmpDir(), 'case.db');
    const first = await ingestRunning(casePath, tmp);
    const second = cliProcess(['ingest', small, '--case', casePath], { TMPDIR: tmp });
    expect(second.code, second.stderr).toBe(2);
    expect(messageLines(second)).toHaveLength(1);
    expect(second.stderr).toMatch(new RegExp(`in use: ingest .* \\(pid ${first.child.pid} on `));
    const e = await first.exit;
    expect(e.code, first.stderr()).toBe(0);
    expect(first.stdout()).toMatch(/messages\s+partial/); // partial with warnings only: still exit 0 (#13.6)
    const v = cliProcess(['verify', casePath, '--no-record'], { TMPDIR: tmp });
    expect(v.code, v.stdout).toBe(0);
    expect(fs.existsSync(`${casePath}.lock`)).toBe(false);

    // Commands that append custody rows honour a lock held by a live process (here a stand-in), also on the
    // .partial name; a lock whose process is gone is taken over (see the kill -9 test).
    const holder = spawn('sleep', ['60']);
    try {
      fs.writeFileSync(`${casePath}.lock`, JSON.stringify({ pid: holder.pid, host: os.hostname(), started_at: 'now', proc_start: null, command: 'ingest elsewhere' }));
      const out = tmpDir();
      for (const args of [
        ['report', '--case', casePath, '--out', path.join(out, 'r'), '--format', 'html'],
        ['export', '--case', casePath, '--format', 'csv', '--out', path.join(out, 't.csv')],
        ['verify', casePath],
        ['export', '--case', `${casePath}.partial`, '--format', 'csv', '--out', path.join(out, 't.csv'), '--allow-incomplete'],
      ]) {
        fs.copyFileSync(casePath, `${casePath}.partial`);
        const r = cliProcess(args, { TMPDIR: tmp });
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`in use: ingest elsewhere \\(pid ${holder.pid} on `));
      }
      expect(fs.readdirSync(out)).toEqual([]);
      expect(cliProcess(['verify', casePath, '--no-record'], { TMPDIR: tmp }).code).toBe(0); // a read-only verify needs no lock
    } finally {
      holder.kill('SIGKILL');
    }
  }, 300_000);
});

describe('on the small backup', () => {
  let casePath: string;
  let work: string;
  beforeAll(() => {
    work = tmpDir();
    casePath = path.join(work, 'case.db');
    const r = cliProcess(['ingest', small, '--case', casePath, '-q']);
    if (r.code !== 0) throw new Error(r.stderr);
  }, 300_000);

  describe('#13.1 outputs inside the evidence are refused (exit 2, one line, nothing written)', () => {
    it('ingest --case inside the backup', () => {
      const r = cliProcess(['ingest', small, '--case', path.join(small, 'case.db')]);
      expect(r.code, r.stderr).toBe(2);
      expect(messageLines(r)).toHaveLength(1);
      expect(r.stderr).toMatch(/inside the evidence folder/);
      expect(treeHash(small)).toEqual(smallTree);
    });

    it('report --out through a symbolic link into the backup, export --out inside it', () => {
      const link = path.join(work, 'innocent');
      fs.symlinkSync(small, link);
      const rep = cliProcess(['report', '--case', casePath, '--out', path.join(link, 'rep'), '--format', 'html']);
      expect(rep.code, rep.stderr).toBe(2);
      expect(rep.stderr).toMatch(/the report folder .* is inside the evidence folder .*resolves to/);
      const ex = cliProcess(['export', '--case', casePath, '--format', 'csv', '--out', path.join(small, 'x.csv')]);
      expect(ex.code, ex.stderr).toBe(2);
      expect(messageLines(ex)).toHaveLength(1);
      expect(treeHash(small)).toEqual(smallTree);
    });

    it('verify of a case kept inside its own evidence reads it and records nothing into it', () => {
      const b = fixture({ messages: 10, calls: 2, contacts: 2 }).root;
      const c = path.join(tmpDir(), 'case.db');
      expect(cliProcess(['ingest', b, '--case', c, '-q']).code).toBe(0);
      const inside = path.join(b, 'case.db'); // someone stored it there
      fs.copyFileSync(c, inside);
      const before = treeHash(b);
      const v = cliProcess(['verify', inside]);
      expect(v.code, v.stdout).toBe(0);
      expect(v.stdout).toMatch(/not recorded in the custody log \(the case file .* is inside the evidence folder/);
      expect(treeHash(b)).toEqual(before);
    });

    it('the path check resolves the nearest existing parent, also a dangling link (demo uses the same check)', () => {
      const d = tmpDir();
      fs.symlinkSync(path.join(small, 'not-yet'), path.join(d, 'dangling'));
      expect(realPathOf(path.join(d, 'dangling', 'a', 'b'))).toBe(path.join(fs.realpathSync(small), 'not-yet', 'a', 'b'));
      expect(() => assertOutsideEvidence(path.join(d, 'dangling', 'rep'), small, 'the demo folder')).toThrow(/inside the evidence/);
      expect(() => assertOutsideEvidence(path.join(d, 'elsewhere'), small, 'the demo folder')).not.toThrow();
      expect(() => assertOutsideEvidence(`${small}-sibling/x`, small, 'x')).not.toThrow(); // a prefix is not a parent
    });
  });

  describe('#13.4 custody truncation and deleted signatures', () => {
    it('DELETE FROM custody WHERE seq >= 2 fails verify, naming row 2; a replaced row is named too', () => {
      const dir = tmpDir();
      const c = path.join(dir, 'case.db');
      fs.copyFileSync(casePath, c);
      fs.copyFileSync(`${casePath}.custody-heads`, `${c}.custody-heads`);
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      const ex = cliProcess(['export', '--case', c, '--format', 'jsonl', '--out', path.join(out, 't.jsonl')]);
      expect(ex.code, ex.stderr).toBe(0);
      expect(ex.stderr).toMatch(/custody head of .*case\.db: row 2, [0-9a-f]{64}/);
      expect(cliProcess(['verify', c]).code).toBe(0); // row 3
      expect(fs.readFileSync(`${c}.custody-heads`, 'utf8').trim().split('\n')).toHaveLength(3);
      const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      expect(manifest.custody_head.seq).toBe(2);

      const db = new Database(c);
      db.exec('DELETE FROM custody WHERE seq >= 2');
      db.close();
      const v = cliProcess(['verify', c, '--no-record']);
      expect(v.code, v.stdout).toBe(1);
      expect(v.stdout).toMatch(/✗ custody row 2: missing: the custody log was truncated \(it ends at row 1; the heads file records row 3/);

      // Rewrite row 2 with a valid chain: the hash differs from the recorded head.
      const db2 = new Database(c);
      appendCustody(db2, { action: 'export', detail: { forged: true } });
      db2.close();
      const v2 = cliProcess(['verify', c, '--no-record']);
      expect(v2.code).toBe(1);
      expect(v2.stdout).toMatch(/✗ custody row 2: hash .* differs from the head recorded/);
      expect(v2.stdout).toMatch(/✗ custody row 3: missing/);
    });

    it('a missing heads file is a named warning, not a failure', () => {
      const c = path.join(tmpDir(), 'case.db');
      fs.copyFileSync(casePath, c);
      const v = cliProcess(['verify', c, '--no-record']);
      expect(v.code, v.stdout).toBe(0);
      expect(v.stdout).toMatch(/warning: case\.db\.custody-heads is missing/);
    });

    it('a signed manifest whose signature file was deleted fails verify without --pub-key', () => {
      const dir = tmpDir();
      const c = path.join(dir, 'case.db');
      fs.copyFileSync(casePath, c);
      expect(cliProcess(['keygen', '--out', path.join(dir, 'keys')]).code).toBe(0);
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      const ex = cliProcess(['export', '--case', c, '--format', 'csv', '--out', path.join(out, 't.csv'), '--sign-key', path.join(dir, 'keys', 'ios-timeline-signing.key')]);
      expect(ex.code, ex.stderr).toBe(0);
      expect(cliProcess(['verify', out, '--no-record']).code).toBe(0);
      fs.rmSync(path.join(out, 'manifest.json.sig'));
      const v = cliProcess(['verify', out, '--no-record']);
      expect(v.code, v.stdout).toBe(1);
      expect(v.stdout).toMatch(/✗ manifest\.json\.sig: missing: manifest\.json records a signature/);
    });
  });

  describe('#13.6 exit codes', () => {
    it('ingest exits 1 with a loud PARTIAL line when an extractor failed completely (0 otherwise: see the lock test)', () => {
      const broken = fixture({ messages: 10 }).root;
      const id = fileIdFor('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata');
      fs.writeFileSync(path.join(broken, id.slice(0, 2), id), Buffer.alloc(8192, 0x41)); // not SQLite any more
      const r = cliProcess(['ingest', broken, '--case', path.join(tmpDir(), 'b.db'), '-q']);
      expect(r.stdout).toMatch(/calls\s+failed/);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^PARTIAL INGEST: 2 extractors failed completely \(calls, call-participants\)/m);
    });

    it('export into a missing folder: one clear line, exit 2, no ENOENT', () => {
      const r = cliProcess(['export', '--case', casePath, '--format', 'jsonl', '--out', path.join(tmpDir(), 'nope', 't.jsonl')]);
      expect(r.code).toBe(2);
      expect(messageLines(r)).toEqual([expect.stringMatching(/^ios-timeline: output folder .*nope does not exist; create it first$/)]);
      expect(r.stderr).not.toMatch(/ENOENT/);
      const i = cliProcess(['ingest', small, '--case', path.join(tmpDir(), 'nope', 'case.db')]);
      expect(i.code).toBe(2);
      expect(messageLines(i)).toEqual([expect.stringMatching(/^ios-timeline: folder .*nope does not exist; create it first$/)]);
    });
  });

  it('the evidence was never written', () => {
    expect(treeHash(small)).toEqual(smallTree);
    expect(treeHash(big)).toEqual(bigTree);
  });
});
