// Shared test helpers: fixture backups in temp folders, running the CLI, proving evidence is untouched.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildBackup, type BuildOptions, type FixtureTruth } from '../fixtures/build.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Real third-party iOS files (never copied into the repo). */
export const REALDATA = path.resolve(REPO, '../shared/realdata');
export const HAVE_REALDATA = fs.existsSync(path.join(REALDATA, 'README.md'));
export const REALDATA_SKIP_REASON = `real-data folder ${REALDATA} is absent: real-data tests skipped`;
if (!HAVE_REALDATA) console.warn(REALDATA_SKIP_REASON);

const made: string[] = [];

/** Remove every folder tmpDir made (test/setup.ts calls it after each test file): a suite run must not leave
 *  gigabytes in the temp folder of a machine that runs it again and again. */
export function removeTmpDirs(): void {
  for (const d of made.splice(0)) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* a folder a test made read-only, or already gone */
    }
  }
}

export function tmpDir(prefix = 'iot-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Build a fixture backup in a fresh temp folder. */
export function fixture(opts: Omit<BuildOptions, 'root'> = {}): FixtureTruth {
  return buildBackup({ root: path.join(tmpDir(), 'backup'), ...opts });
}

/** sha256 of every file under a folder, with sizes: equal before and after means byte-identical. */
export function treeHash(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (dist/) in a child process, as a user would: for tests where the process is the point
 *  (signals, a prompt, start-up). `npm test` builds first. */
export function cliProcess(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist/src/cli/run.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'Pacific/Kiritimati', ...env },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run the CLI in this process through main(argv), capturing stdout and stderr: the same code path as the
 *  binary without paying Node's start-up per call. The machine zone is set to an odd one (Kiritimati, UTC+14)
 *  for the call, so a time that leaks the local zone shows. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { main } = await import('../src/cli/main.js');
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ TZ: 'Pacific/Kiritimati', ...env })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'ios-timeline', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Copy real files into a backup layout (for running real data through the whole pipeline). */
export { wrapRealFiles } from '../fixtures/wrapReal.js';

/** Run the independent validator on a backup folder; returns its output (throws when python3 is absent). */
export function checkBackup(root: string, password?: string): { ok: boolean; output: string } {
  const r = spawnSync('python3', [path.join(REPO, '../shared/tools/check-backup.py'), root, ...(password ? ['--password', password] : [])], { encoding: 'utf8' });
  return { ok: r.status === 0, output: r.stdout + r.stderr };
}
