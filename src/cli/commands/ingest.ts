import path from 'node:path';
import type { Command } from 'commander';
import { ingest, type IngestResult } from '../../pipeline/ingest.js';
import { validateZone } from '../../timeline/query.js';
import { EXTRACTORS } from '../../extractors/registry.js';
import { makeProgress } from '../progress.js';
import { openOptionsFrom } from '../password.js';
import { UsageError, EXIT_EVIDENCE } from '../errors.js';
import { parseAlgorithms } from '../../custody/evidenceHash.js';

export interface CaseOptions {
  case: string;
  caseNumber?: string;
  examiner?: string;
  agency?: string;
  tz: string;
  region: string;
  only?: string;
  password?: string;
  keyFile?: string;
  quiet?: boolean;
  hash?: string;
  recover?: boolean;
  add?: boolean;
}

export function checkRegion(region: string): string {
  if (!/^[A-Za-z]{2}$/.test(region)) throw new UsageError(`--region must be a two-letter country code such as US or DE, not "${region}"`);
  return region.toUpperCase();
}

export async function runIngest(backupDir: string, o: CaseOptions): Promise<IngestResult> {
  let tz: string;
  try {
    tz = validateZone(o.tz);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const only = o.only ? o.only.split(',').map((s) => s.trim()) : undefined;
  for (const id of only ?? []) if (!EXTRACTORS.some((x) => x.id === id)) throw new UsageError(`unknown extractor "${id}" (known: ${EXTRACTORS.map((x) => x.id).join(', ')})`);
  let algorithms: ReturnType<typeof parseAlgorithms>;
  try {
    algorithms = parseAlgorithms(o.hash);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const say = (s: string) => {
    if (!o.quiet) process.stderr.write(`${s}\n`);
  };
  const progress = makeProgress(o.quiet);
  const hashBar = makeProgress(o.quiet);
  try {
    return await ingest({
      backupDir,
      casePath: o.case,
      caseNumber: o.caseNumber,
      examiner: o.examiner,
      agency: o.agency,
      tz,
      region: checkRegion(o.region),
      only,
      recover: o.recover !== false,
      addToCase: !!o.add,
      open: openOptionsFrom(o, { interactive: true }),
      hashAlgorithms: algorithms,
      onHashProgress: (done, total) => hashBar.update(`Hashing evidence (${algorithms.join(', ')}), MB`, Math.round(done / 1e6), Math.round(total / 1e6)),
      onHashDone: (pass) => {
        hashBar.stop();
        say(
          `  Evidence hashed: ${pass.files} files, ${(pass.bytes / 1e6).toFixed(1)} MB${pass.unlisted ? `, ${pass.unlisted} not in the manifest` : ''}${pass.missing ? `, ${pass.missing} listed but missing` : ''}`,
        );
      },
      onProgress: (ex, done, total) => progress.update(ex.title, done, total),
      onExtractorDone: (ex, status, events) => {
        progress.stop();
        say(`  ${ex.title}: ${status}, ${events} events`);
      },
    });
  } finally {
    hashBar.stop();
    progress.stop();
  }
}

export function addCaseOptions(cmd: Command): Command {
  return cmd
    .option('--case-number <id>', 'case number shown on every report page', '')
    .option('--examiner <name>', 'examiner name, recorded in the custody log', '')
    .option('--agency <name>', 'agency or lab name for the report cover', '')
    .option('--tz <zone>', 'case time zone (IANA name) used to show times', 'UTC')
    .option('--region <cc>', 'country used to read national phone numbers', 'US')
    .option('--only <ids>', `run only these extractors (${EXTRACTORS.map((x) => x.id).join(', ')})`)
    .option('--password <pw>', 'backup password for an encrypted backup (or IOS_TIMELINE_PASSWORD, or a prompt)')
    .option('--key-file <file>', 'derived key file saved earlier with save-key')
    .option('-q, --quiet', 'no progress output');
}

export function registerIngest(program: Command): void {
  addCaseOptions(
    program
      .command('ingest')
      .description(
        'Read a backup, a file-system folder, or a tar/tar.gz/zip of one into a new case file, or with --add into an existing case as another device (the evidence is never written).',
      )
      .argument('<evidence>', 'backup folder, file-system folder (holding private/var/mobile under any prefix), or .tar/.tar.gz/.tgz/.zip of one')
      .requiredOption('--case <file>', 'case file to create (SQLite), or to add to with --add')
      .option('--add', "add this evidence to an existing case as another device (the case's zone and region are kept)")
      .option('--hash <algorithms>', 'hash every evidence file with these, comma-separated: sha256 (always), md5, sha1', 'sha256')
      .option('--no-recover', 'skip deleted-record recovery (on by default: every recovered event is flagged with its source and confidence)')
      .option('--json', 'print the summary as JSON on stdout'),
  ).action(async (dir: string, o: CaseOptions & { json?: boolean }) => {
    const r = await runIngest(dir, o);
    const failed = r.summaries.filter((s) => s.status === 'failed');
    // Exit 0 when every extractor is ok, not-present or partial (rows read, with warnings); 1 when any failed
    // outright: that artifact is absent from the case, and a script must not take the case as whole.
    if (failed.length) process.exitCode = EXIT_EVIDENCE;
    if (o.json) {
      const summary = {
        case: r.casePath,
        status: failed.length ? 'partial' : 'complete',
        events: r.events,
        warnings: r.warnings,
        recovered: r.recovered,
        also_ran: r.addedDependencies,
        device_id: r.deviceId,
        devices: r.devices,
        linked_duplicate_messages: r.linkedDuplicates,
        extractors: r.summaries.map((x) => ({ id: x.extractor, status: x.status, events: x.events, warnings: x.warnings, message: x.message ?? null })),
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    process.stdout.write(`Case file ${path.relative(process.cwd(), r.casePath) || r.casePath}: ${r.events} events, ${r.warnings} warnings\n`);
    if (r.devices > 1)
      process.stdout.write(
        `  device ${r.deviceId} of ${r.devices} in this case${r.linkedDuplicates ? `; ${r.linkedDuplicates} messages also read from another device, linked (duplicate_of)` : ''}\n`,
      );
    if (r.recovered.databases)
      process.stdout.write(
        `  recovered  ${String(r.recovered.events).padStart(8)} events from deleted or superseded data in ${r.recovered.databases} database(s), each flagged with its source and confidence\n`,
      );
    if (r.addedDependencies.length)
      process.stdout.write(`  (also ran ${r.addedDependencies.join(', ')}: --only ${o.only} depends on ${r.addedDependencies.length > 1 ? 'them' : 'it'})\n`);
    const absent = r.summaries.filter((x) => x.status === 'not-present');
    for (const s of r.summaries) {
      if (s.status === 'not-present') continue;
      process.stdout.write(
        `  ${s.extractor.padEnd(17)} ${s.status.padEnd(8)} ${String(s.events).padStart(8)} events${s.warnings ? `, ${s.warnings} warnings` : ''}${s.message && s.status !== 'ok' ? ` — ${s.message}` : ''}\n`,
      );
    }
    if (absent.length)
      process.stdout.write(`  not in this backup: ${absent.map((x) => x.extractor).join(', ')} (the files each looked for are in the case file's extractor_runs)\n`);
    if (failed.length)
      process.stderr.write(
        `PARTIAL INGEST: ${failed.length} extractor${failed.length > 1 ? 's' : ''} failed completely (${failed.map((s) => s.extractor).join(', ')}): the case file lacks ${failed.length > 1 ? 'those artifacts' : 'that artifact'}; see its warnings\n`,
      );
  });
}
