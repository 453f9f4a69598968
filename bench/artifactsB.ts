// Set B artifacts bench: WhatsApp events/s with 100,000 × scale messages (target ≥ 50,000 events/s) and Notes notes/s
// with 10,000 × scale notes (target ≥ 5,000 notes/s). Each extractor runs alone through runExtractors() on a fresh
// case file (its own work only: copying and hashing its database, reading it, writing events), measured as wall time
// and as process CPU time. On a shared machine the wall figure moves with the load average (printed); the CPU figure
// is the one to compare across runs. The whole ingest (listing, hash pass, indexes, digest) is timed separately.
// Run: npm run bench (section artifacts-b), or alone: npm run build && node dist/bench/artifactsB.js [--scale 0.1]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { Rng } from '../fixtures/random.js';
import { addWhatsApp } from '../fixtures/artifacts/whatsapp.js';
import { addNotes } from '../fixtures/artifacts/notes.js';
import { Backup } from '../src/backup/backup.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { runExtractors } from '../src/pipeline/runExtractors.js';
import { ingest } from '../src/pipeline/ingest.js';
import { whatsapp } from '../src/extractors/artifacts/whatsapp.js';
import { notes } from '../src/extractors/artifacts/notes.js';
import type { Extractor } from '../src/extractors/types.js';
import type { BenchRow, BenchSection } from './types.js';

const end = new Date(Date.UTC(2024, 2, 15));

function writer(root: string): BackupWriter {
  return new BackupWriter(root, {
    deviceName: 'Bench iPhone',
    productType: 'iPhone15,2',
    productVersion: '17.4.1',
    buildVersion: '21E236',
    serialNumber: 'BENCH',
    udid: 'benchb'.padEnd(40, '0'),
    backupDate: end,
  });
}

async function measure(root: string, tmp: string, ex: Extractor): Promise<{ events: number; wallS: number; cpuS: number; ingestS: number; status: string }> {
  const backup = await Backup.open(root);
  const cf = CaseFile.create(path.join(tmp, `${ex.id}-alone.db`));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const [s] = await runExtractors(backup, cf, [ex], { tz: 'UTC', region: 'US' });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  cf.close();
  backup.close();
  const t1 = performance.now();
  await ingest({ backupDir: root, casePath: path.join(tmp, `${ex.id}-ingest.db`), tz: 'UTC', region: 'US', only: [ex.id] });
  return { events: s.events, wallS, cpuS: (cpu.user + cpu.system) / 1e6, ingestS: (performance.now() - t1) / 1000, status: s.status };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Result {
  label: string;
  count: number;
  unit: string;
  events: number;
  wallS: number;
  cpuS: number;
  ingestS: number;
  status: string;
}

async function runAll(scale: number, tmp: string): Promise<Result[]> {
  const out: Result[] = [];
  {
    const n = Math.round(100_000 * scale);
    const root = path.join(tmp, 'wa');
    const w = writer(root);
    addWhatsApp(w, new Rng(7), tmp, {
      generation: 'current',
      end,
      nameByNumber: new Map([
        ['+19195550123', 'Bench Contact'],
        ['+19195550124', 'Other Contact'],
      ]),
      strangers: ['+14155550999', '+14155550998'],
      bulk: n,
      inWal: 0,
    });
    w.finish();
    const r = await measure(root, tmp, whatsapp);
    out.push({ label: `WhatsApp (${fmt(n)} messages)`, count: r.events, unit: 'events', ...r });
  }
  {
    const n = Math.round(10_000 * scale);
    const root = path.join(tmp, 'notes');
    const w = writer(root);
    const truth = addNotes(w, new Rng(9), tmp, { generation: 'ios16', end, bulk: n, bomb: false });
    w.finish();
    const r = await measure(root, tmp, notes);
    // The fixture's hand-made notes (locked, corrupt, …) come on top of the bulk ones.
    out.push({ label: `Notes (${fmt(truth.notes.length)} notes)`, count: truth.notes.length, unit: 'notes', ...r });
  }
  return out;
}

/** The section `npm run bench` runs (bench/sections.ts). */
export const artifactsBBench: BenchSection = {
  id: 'artifacts-b',
  title: 'Set B artifacts (WhatsApp events/s with 100k messages, Notes notes/s with 10k notes)',
  async run({ scale, tmp }) {
    const rows: BenchRow[] = [];
    for (const r of await runAll(scale, tmp)) {
      const note = `${fmt(r.events)} events, ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU, status ${r.status}; whole ingest ${r.ingestS.toFixed(2)} s; load average ${os.loadavg()[0].toFixed(1)}`;
      rows.push(
        { area: 'artifacts-b', metric: `${r.label} ${r.unit}/s`, value: r.count / r.wallS, unit: `${r.unit}/s`, note },
        { area: 'artifacts-b', metric: `${r.label} ${r.unit}/CPU-s`, value: r.count / r.cpuS, unit: `${r.unit}/CPU-s`, note: 'process CPU time of the extractor run' },
      );
    }
    return rows;
  },
};

// Run directly: node dist/bench/artifactsB.js [--scale 0.1]
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const scaleArg = process.argv.indexOf('--scale');
  const scale = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 1;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-artifacts-b-'));
  try {
    const results = await runAll(scale, tmp);
    console.log(
      `Set B artifacts bench (scale ${scale}, ${os.cpus().length} cores, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}, node ${process.version})\n`,
    );
    console.log('| artifact | wall rate | CPU rate | target | detail |\n|---|---|---|---|---|');
    for (const r of results) {
      const target = r.unit === 'events' ? '≥ 50,000 events/s' : '≥ 5,000 notes/s';
      console.log(
        `| ${r.label} | ${fmt(r.count / r.wallS)} ${r.unit}/s | ${fmt(r.count / r.cpuS)} ${r.unit}/CPU-s | ${target} | ${fmt(r.events)} events, ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU, status ${r.status}; whole ingest ${r.ingestS.toFixed(2)} s |`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
