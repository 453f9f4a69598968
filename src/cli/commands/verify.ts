// ios-timeline verify <case.db | output folder | backup folder>: exit 0 when everything matches, 1 on any mismatch.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { evidenceRoot } from '../../sources/open.js';
import { sniffArchive } from '../../sources/archive.js';
import { CaseFile, CaseInUseError, lockCase, type CaseLock } from '../../timeline/caseFile.js';
import { verifyBackup, verifyCase, verifyOutputs, type VerifyKind, type VerifyReport } from '../../custody/verify.js';
import { isSqliteFile } from '../../sqlite.js';
import { MANIFEST_NAME } from '../../custody/outputs.js';
import { loadPublicKey } from '../../custody/sign.js';
import { makeProgress } from '../progress.js';
import { checkCaseBeforeWriting } from '../caseAccess.js';
import { UsageError, EXIT_EVIDENCE } from '../errors.js';

interface VerifyOptions {
  case?: string;
  pubKey?: string;
  json?: boolean;
  record?: boolean;
  examiner?: string;
  quiet?: boolean;
}

function kindOf(target: string): VerifyKind {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw new UsageError(`${target} does not exist`);
  }
  if (st.isFile()) {
    if (isSqliteFile(target)) return 'case';
    if (sniffArchive(target)) return 'backup'; // an archive of a file system: evidence, checked against --case
    throw new UsageError(`${target} is neither a case file, an archive, an output folder nor an evidence folder`);
  }
  if (fs.existsSync(path.join(target, MANIFEST_NAME))) return 'outputs';
  try {
    evidenceRoot(target);
    return 'backup';
  } catch {
    /* fall through */
  }
  throw new UsageError(`${target} has no ${MANIFEST_NAME} and is neither a backup folder nor a file-system extraction`);
}

/** Append the verification to the case's custody log; verify itself never fails because the case is read-only. */
function record(casePath: string, report: VerifyReport, examiner: string | undefined): string {
  try {
    const cf = CaseFile.open(casePath);
    try {
      const row = cf.custody({
        action: 'verify',
        actor: examiner || undefined,
        detail: {
          target: report.target,
          kind: report.kind,
          result: report.ok ? 'ok' : 'mismatch',
          problems: report.problems.length,
          first_problems: report.problems.slice(0, 20).map((p) => `${p.item}: ${p.message}`),
        },
        inputs: report.inputs,
      });
      return `recorded as custody row ${row.seq}`;
    } finally {
      cf.close();
    }
  } catch (e) {
    return `not recorded in the custody log (${(e as Error).message})`;
  }
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Re-hash and re-check a case file, an output folder (manifest.json) or a backup folder (with --case); say exactly what differs.')
    .argument('<target>', 'case file, report/export folder, or backup folder')
    .option('--case <file>', "case file to check a backup folder against (required for a backup) or an output folder's custody rows")
    .option('--pub-key <file>', 'Ed25519 public key (PEM) to check manifest.json.sig')
    .option('--examiner <name>', 'examiner recorded in the custody log')
    .option('--no-record', "do not append a verify row to the case file's custody log")
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress output')
    .action(async (target: string, o: VerifyOptions) => {
      const kind = kindOf(target);
      if (kind === 'backup' && !o.case) throw new UsageError('verifying evidence (a backup, a file-system folder or archive) needs the case file made from it: --case <file>');
      if (o.pubKey) {
        try {
          loadPublicKey(o.pubKey);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const casePath = kind === 'case' ? target : o.case;
      // Recording appends a custody row: lock the case first, so a running command is never raced.
      let lock: CaseLock | null = null;
      let unrecordable: string | null = null;
      if (casePath && o.record !== false && fs.existsSync(casePath)) {
        try {
          // A case inside its own evidence is read, never written; an unfinished one is left as the killed ingest left it.
          if (checkCaseBeforeWriting(casePath, [], true).complete) lock = lockCase(casePath, `verify ${path.resolve(target)}`);
          else unrecordable = 'not recorded in the custody log (the case is incomplete)';
        } catch (e) {
          if (e instanceof CaseInUseError) throw e;
          unrecordable = `not recorded in the custody log (${(e as Error).message})`; // read-only media: verify still runs
        }
      }
      try {
        await runVerify(target, kind, casePath, o, unrecordable);
      } finally {
        lock?.release();
      }
    });
}

async function runVerify(target: string, kind: VerifyKind, casePath: string | undefined, o: VerifyOptions, unrecordable: string | null): Promise<void> {
  let report: VerifyReport;
  if (kind === 'case') report = await verifyCase(target);
  else if (kind === 'outputs') report = await verifyOutputs(target, { pubKeyPath: o.pubKey, casePath: o.case });
  else {
    const bar = makeProgress(o.quiet || o.json);
    try {
      report = await verifyBackup(target, o.case!, { onProgress: (d, t) => bar.update('Re-hashing evidence, MB', Math.round(d / 1e6), Math.round(t / 1e6)) });
    } finally {
      bar.stop();
    }
  }
  const recorded = casePath && o.record !== false ? (unrecordable ?? record(casePath, report, o.examiner)) : null;

  if (o.json) process.stdout.write(JSON.stringify({ ...report, custody: recorded }, null, 2) + '\n');
  else {
    const lines: string[] = [];
    for (const c of report.checks) lines.push(`  ✓ ${c}`);
    for (const p of report.problems) lines.push(`  ✗ ${p.item}: ${p.message}`);
    for (const n of report.notes) lines.push(`  · ${n}`);
    if (recorded) lines.push(`  · ${recorded}`);
    const head = report.ok
      ? `OK: ${report.target} (${report.kind}) verified`
      : `MISMATCH: ${report.target} (${report.kind}): ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`;
    process.stdout.write([head, ...lines].join('\n') + '\n');
  }
  if (!report.ok) process.exitCode = EXIT_EVIDENCE;
}
