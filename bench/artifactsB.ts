// Set B artifacts bench: WhatsApp events/s with 100,000 × scale messages (target ≥ 50,000 events/s) and Notes notes/s
// with 10,000 × scale notes (target ≥ 5,000 notes/s). The figure is the extractor's own run (extractor_runs start to
// finish: copying and hashing its database, reading it, writing events), not the whole ingest.
// Run: npm run build && node dist/bench/artifactsB.js [--scale 0.1]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { Rng } from '../fixtures/random.js';
import { addWhatsApp } from '../fixtures/artifacts/whatsapp.js';
import { addNotes } from '../fixtures/artifacts/notes.js';
import { ingest } from '../src/pipeline/ingest.js';

const scaleArg = process.argv.indexOf('--scale');
const scale = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 1;
const end = new Date(Date.UTC(2024, 2, 15));

function writer(root: string): BackupWriter {
  return new BackupWriter(root, { deviceName: 'Bench iPhone', productType: 'iPhone15,2', productVersion: '17.4.1', buildVersion: '21E236', serialNumber: 'BENCH',
    udid: 'benchb'.padEnd(40, '0'), backupDate: end });
}

async function timed(root: string, casePath: string, id: string): Promise<{ events: number; seconds: number; ingestS: number; status: string }> {
  const t = performance.now();
  const r = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: [id] });
  const ingestS = (performance.now() - t) / 1000;
  const db = new Database(casePath, { readonly: true });
  const run = db.prepare('SELECT events, status, started_at, finished_at FROM extractor_runs WHERE extractor = ?').get(id) as { events: number; status: string; started_at: string; finished_at: string };
  db.close();
  void r;
  return { events: run.events, seconds: (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000, ingestS, status: run.status };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-artifacts-b-'));
try {
  const rows: string[] = [];
  {
    const n = Math.round(100_000 * scale);
    const root = path.join(tmp, 'wa');
    const t = performance.now();
    const w = writer(root);
    const rng = new Rng(7);
    addWhatsApp(w, rng, tmp, { generation: 'current', end, nameByNumber: new Map([['+19195550123', 'Bench Contact'], ['+19195550124', 'Other Contact']]), strangers: ['+14155550999', '+14155550998'], bulk: n, inWal: 0 });
    w.finish();
    const buildS = (performance.now() - t) / 1000;
    const r = await timed(root, path.join(tmp, 'wa.db'), 'whatsapp');
    rows.push(`| WhatsApp | ${(r.events / r.seconds).toFixed(0)} events/s | ≥ 50,000 | ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(2)} s (extractor), whole ingest ${r.ingestS.toFixed(2)} s, status ${r.status}; fixture build ${buildS.toFixed(1)} s |`);
  }
  {
    const n = Math.round(10_000 * scale);
    const root = path.join(tmp, 'notes');
    const w = writer(root);
    addNotes(w, new Rng(9), tmp, { generation: 'ios16', end, bulk: n, bomb: false });
    w.finish();
    const r = await timed(root, path.join(tmp, 'notes.db'), 'notes');
    const db = new Database(path.join(tmp, 'notes.db'), { readonly: true });
    const notesCount = (db.prepare("SELECT count(*) AS n FROM events WHERE extractor = 'notes' AND action = 'created'").get() as { n: number }).n;
    db.close();
    rows.push(`| Notes | ${(notesCount / r.seconds).toFixed(0)} notes/s | ≥ 5,000 | ${notesCount.toLocaleString('en-US')} notes (${r.events.toLocaleString('en-US')} events) in ${r.seconds.toFixed(2)} s (extractor), whole ingest ${r.ingestS.toFixed(2)} s, status ${r.status} |`);
  }
  console.log(`Set B artifacts bench (scale ${scale}, ${os.cpus().length} cores, node ${process.version})\n`);
  console.log('| artifact | rate | target | detail |\n|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
