import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startReviewServer } from '../../serve/server.js';
import { FilterError } from '../../timeline/query.js';
import { CaseFile } from '../../timeline/caseFile.js';
import { onAbort } from '../../workdir.js';
import { UsageError } from '../errors.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Open a case for review in the browser: a page on 127.0.0.1 only, with a random token in its URL. Tags and notes are written with custody rows.')
    .requiredOption('--case <file>', 'case file')
    .option('--port <n>', 'port on 127.0.0.1 (default: any free port)')
    .option('--tz <zone>', 'time zone for dates and the histogram (default: the case zone)')
    .option('--examiner <name>', "examiner recorded in the custody rows of tag and note changes (default: the case's examiner)")
    .option('--exhibits-dir <dir>', "where 'make exhibit report' writes (default: beside the case file)")
    .option('--allow-incomplete', 'open a case whose ingest did not finish')
    .action(async (o: { case: string; port?: string; tz?: string; examiner?: string; exhibitsDir?: string; allowIncomplete?: boolean }) => {
      if (!fs.existsSync(o.case)) throw new UsageError(`case file ${o.case} does not exist`);
      const port = o.port === undefined ? 0 : Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, not "${o.port}"`);
      const ro = CaseFile.open(o.case, { readonly: true });
      try {
        ro.requireComplete(o.allowIncomplete);
      } finally {
        ro.db.close();
      }
      let server: Awaited<ReturnType<typeof startReviewServer>>;
      try {
        server = await startReviewServer({
          casePath: o.case,
          port,
          tz: o.tz,
          examiner: o.examiner,
          exhibits: exhibitReport(o.case, o.exhibitsDir ?? path.dirname(path.resolve(o.case)), o.examiner),
        });
      } catch (e) {
        if (e instanceof FilterError) throw new UsageError(e.message);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} on 127.0.0.1 is in use; choose another --port or leave it out`);
        throw e;
      }
      // Ctrl-C and SIGTERM run the interrupt cleanups: stop listening and close the case.
      // The open server keeps the process alive after this action returns.
      onAbort(() => {
        if (server.closeNow()) process.stderr.write('review page stopped; case closed\n');
      });
      process.stdout.write(`Review page for ${o.case} (only this machine can open it; the link is the key, keep it private):\n${server.url}\nPress Ctrl-C to stop.\n`);
    });
}

/**
 * "Make exhibit report" on the page runs `ios-timeline report --exhibits --tag T` as its own process (the same
 * command a reviewer would type: its checks, lock, manifest and custody row), into a new folder named after the
 * tag and the time. Null when this is not the built CLI (in-process tests), whose run.js it needs.
 */
function exhibitReport(casePath: string, dir: string, examiner?: string): ((tag: string) => Promise<{ out: string; message: string }>) | null {
  const run = fileURLToPath(new URL('../run.js', import.meta.url));
  if (!run.endsWith('.js') || !fs.existsSync(run)) return null;
  return (tag) => {
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const out = path.join(dir, `exhibits-${tag.replace(/[^\p{L}\p{N}_-]+/gu, '_').slice(0, 40)}-${stamp}`);
    const args = [run, 'report', '--case', casePath, '--exhibits', '--tag', tag, '--out', out, ...(examiner ? ['--examiner', examiner] : [])];
    return new Promise((resolve, reject) => {
      execFile(process.execPath, args, { timeout: 15 * 60_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
        if (err) reject(Object.assign(new Error(stderr.trim().split('\n').pop() || err.message), { status: 500 }));
        else resolve({ out, message: `Exhibit report of "${tag}" written to ${out}. ${stdout.trim().split('\n').pop() ?? ''}`.trim() });
      });
    });
  };
}
