import { packagePath } from '../../paths.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runIngest } from './ingest.js';
import { CaseFile, lockCase } from '../../timeline/caseFile.js';
import { custodyHeadsPath } from '../../timeline/custodyLog.js';
import { assertOutsideEvidence } from '../../custody/outputs.js';
import { exportEvents } from '../../report/exports.js';
import { runReport } from './report.js';
import { writeOutputManifest, MANIFEST_NAME, SUMS_NAME, SIGNATURE_NAME } from '../../custody/outputs.js';

/** The sample backup shipped with the tool (fixtures/sample-backup, built by `npm run sample`). */
export function sampleBackupPath(): string {
  const p = packagePath('fixtures/sample-backup', 'Manifest.db');
  if (!p) throw new Error('the sample backup (fixtures/sample-backup) is missing from this installation');
  return p;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the whole flow on the bundled sample backup: case file, exports and reports.')
    .option('--out <dir>', 'output folder (its earlier demo files are replaced)', 'demo-output')
    .option('--tz <zone>', 'case time zone', 'America/New_York')
    .action(async (o: { out: string; tz: string }) => {
      const out = path.resolve(o.out);
      const backup = sampleBackupPath();
      assertOutsideEvidence(out, backup, 'the demo folder'); // before anything is created
      fs.mkdirSync(out, { recursive: true });
      const casePath = path.join(out, 'case.db');
      const lock = lockCase(casePath, 'demo'); // not while another command uses the old demo case
      try {
        fs.rmSync(casePath, { force: true });
        fs.rmSync(custodyHeadsPath(casePath), { force: true });
      } finally {
        lock.release();
      }
      // A manifest from an earlier demo names custody rows of the deleted case file: start the folder afresh.
      for (const f of [MANIFEST_NAME, SUMS_NAME, SIGNATURE_NAME, 'report.html', 'report.pdf']) fs.rmSync(path.join(out, f), { force: true });
      process.stderr.write(`Sample backup: ${backup}\n`);
      const r = await runIngest(backup, { case: casePath, caseNumber: 'DEMO-2024-001', examiner: 'Demo Examiner', agency: 'ios-timeline demo lab', tz: o.tz, region: 'US' });
      const exportLock = lockCase(casePath, 'demo export');
      const cf = CaseFile.open(casePath);
      try {
        const exported: string[] = [];
        for (const fmt of ['jsonl', 'csv'] as const) {
          const file = path.join(out, `timeline.${fmt}`);
          const n = exportEvents(cf.db, fmt, file);
          exported.push(file);
          process.stderr.write(`  ${path.basename(file)}: ${n} events\n`);
        }
        await writeOutputManifest(out, exported, cf, { action: 'export', detail: { formats: ['jsonl', 'csv'] } });
      } finally {
        cf.close();
        exportLock.release();
      }
      const rep = await runReport({ case: casePath, out, formats: ['html', 'pdf'], quiet: true });
      for (const x of rep.outputs) process.stderr.write(`  ${path.basename(x.path)}: sha256 ${x.sha256}\n`);
      process.stdout.write(`Demo case: ${casePath} (${r.events} events, ${r.warnings} warnings)\nOutputs in ${out}\n`);
    });
}
