// Set A artifacts bench: Safari History.db with 200,000 × scale visits (400 URLs, iOS 17 schema), ingested with
// `--only safari` in a separate process (bench/ingestChild.ts). Two figures: the safari extractor alone (from its
// extractor_runs row: copy + hash of History.db, the query with redirect joins, one event per visit) and the whole
// ingest (evidence listing and hashing, indexes, full-text index, case digest). Target: ≥ 50,000 events/s.
// Runs as a bench section (`artifactsBench`) or alone: `node dist/bench/artifacts.js [--scale S]`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { benchVisits, fillHistory } from '../fixtures/artifacts/safari.js';
import { runIngestChild, type BenchRow, type BenchSection } from './types.js';

function buildBackup(root: string, tmp: string, visits: number): number {
  const dbPath = path.join(tmp, 'History.db');
  const db = new Database(dbPath);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  fillHistory(db, 'ios17', benchVisits(visits));
  db.close();
  const w = new BackupWriter(root, {
    deviceName: 'Bench iPhone',
    productType: 'iPhone15,2',
    productVersion: '17.4.1',
    buildVersion: '21E236',
    serialNumber: 'BENCH',
    udid: 'bench'.padEnd(40, '0'),
    backupDate: new Date(Date.UTC(2024, 2, 15)),
  });
  const bytes = fs.readFileSync(dbPath);
  w.addDatabase('HomeDomain', 'Library/Safari/History.db', { db: bytes });
  w.finish();
  fs.rmSync(dbPath);
  return bytes.length;
}

export const artifactsBench: BenchSection = {
  id: 'artifacts',
  title: 'Set A artifacts (Safari History.db visits)',
  async run({ scale, tmp }) {
    const visits = Math.max(1000, Math.round(200_000 * scale));
    const root = path.join(tmp, 'backup-safari');
    let t = performance.now();
    const size = buildBackup(root, tmp, visits);
    const buildS = (performance.now() - t) / 1000;
    const casePath = path.join(tmp, 'case-safari.db');
    t = performance.now();
    const r = runIngestChild(root, casePath, 'safari');
    const cf = new Database(casePath, { readonly: true });
    const run = cf.prepare("SELECT events, status, started_at, finished_at FROM extractor_runs WHERE extractor = 'safari'").get() as {
      events: number;
      status: string;
      started_at: string;
      finished_at: string;
    };
    cf.close();
    const extractS = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
    const rows: BenchRow[] = [
      {
        area: 'artifacts',
        metric: 'fixture build (Safari History.db)',
        value: buildS,
        unit: 's',
        note: `${visits.toLocaleString('en-US')} visits, History.db ${(size / 1e6).toFixed(1)} MB`,
      },
      {
        area: 'artifacts',
        metric: 'safari extractor events/s',
        value: run.events / extractS,
        unit: 'events/s',
        note: `${run.events.toLocaleString('en-US')} events in ${extractS.toFixed(2)} s (copy + hash of History.db included), status ${run.status}; target ≥ 50,000`,
      },
      {
        area: 'artifacts',
        metric: 'safari whole ingest events/s',
        value: run.events / r.seconds,
        unit: 'events/s',
        note: `whole ingest ${r.seconds.toFixed(2)} s, ${r.cpuS.toFixed(2)} CPU-s: ${Object.entries(r.timings)
          .map(([k, v]) => `${k} ${v} s`)
          .join(', ')}`,
      },
      { area: 'artifacts', metric: 'safari ingest peak RSS', value: r.rssMb, unit: 'MB', note: 'the ingest process alone' },
    ];
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(casePath, { force: true });
    return rows;
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const i = process.argv.indexOf('--scale');
  const scale = i >= 0 ? Number(process.argv[i + 1]) : 1;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-artifacts-'));
  try {
    const rows = await artifactsBench.run({ scale, tmp });
    console.log(`ios-timeline Set A bench — scale ${scale}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
    for (const row of rows)
      console.log(
        `| ${row.area} | ${row.metric} | ${Math.abs(row.value) >= 100 ? Math.round(row.value).toLocaleString('en-US') : row.value.toFixed(2)} | ${row.unit} | ${row.note ?? ''} |`,
      );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
