// Messages bench: ingest of a 1,000,000 × scale message sms.db, twice — plain-text rows (iOS 14 layout, `text`
// only) and rows whose text is only in attributedBody (iOS 17 layout, every body needs the typedstream decoder).
// Incoming rows carry a read time and outgoing rows a delivery time, so each message gives two events.
// The figure is the whole `ingest()` (evidence listing and hashing, copying sms.db, extraction, indexes and
// full-text index, case digest), i.e. what a user waits for. Peak RSS is that of a separate process running
// only the ingest (bench/ingestChild.ts), so memory left over from building the fixture does not count.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { fillBulkSmsDb } from '../fixtures/artifacts/messages.js';
import { runIngestChild, type BenchRow, type BenchSection } from './types.js';

function buildBackup(root: string, tmp: string, count: number, attributedOnly: boolean): number {
  const dbPath = path.join(tmp, `sms-${attributedOnly ? 'ab' : 'text'}.db`);
  const db = new Database(dbPath);
  fillBulkSmsDb(db, { count, attributedOnly });
  db.close();
  const w = new BackupWriter(root, {
    deviceName: 'Bench iPhone',
    productType: 'iPhone15,2',
    productVersion: attributedOnly ? '17.4.1' : '14.8.1',
    buildVersion: attributedOnly ? '21E236' : '18H107',
    serialNumber: 'BENCH',
    udid: 'bench'.padEnd(40, '0'),
    backupDate: new Date(Date.UTC(2024, 2, 15)),
  });
  let bytes: Buffer | null = fs.readFileSync(dbPath);
  const size = bytes.length;
  w.addDatabase('HomeDomain', 'Library/SMS/sms.db', { db: bytes });
  bytes = null;
  w.finish();
  fs.rmSync(dbPath);
  return size;
}

export const messagesBench: BenchSection = {
  id: 'messages',
  title: 'Messages ingest (sms.db, plain text and attributedBody-only)',
  async run({ scale, tmp }) {
    const count = Math.max(1000, Math.round(1_000_000 * scale));
    const rows: BenchRow[] = [];
    let peak = 0;
    for (const attributedOnly of [false, true]) {
      const label = attributedOnly ? 'attributedBody-only' : 'plain text';
      const root = path.join(tmp, attributedOnly ? 'backup-ab' : 'backup-text');
      const t = performance.now();
      const dbBytes = buildBackup(root, tmp, count, attributedOnly);
      const buildS = (performance.now() - t) / 1000;
      const casePath = path.join(tmp, `case-${attributedOnly ? 'ab' : 'text'}.db`);
      const r = runIngestChild(root, casePath, 'messages');
      const ingestS = r.seconds;
      const cpuS = r.cpuS;
      const rss = r.rssMb;
      peak = Math.max(peak, rss);
      const cf = new Database(casePath, { readonly: true });
      const run = cf.prepare("SELECT events, started_at, finished_at FROM extractor_runs WHERE extractor = 'messages'").get() as {
        events: number;
        started_at: string;
        finished_at: string;
      };
      const decoded = (
        cf
          .prepare(`SELECT count(*) AS n FROM events WHERE source_table = 'message' AND action IN ('sent','received') AND extra_json LIKE '%"body_source":"attributedBody"%'`)
          .get() as { n: number }
      ).n;
      cf.close();
      const extractS = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
      const status = r.summaries.find((s) => s.extractor === 'messages')?.status;
      rows.push(
        {
          area: 'messages',
          metric: `fixture build (${label})`,
          value: buildS,
          unit: 's',
          note: `${count.toLocaleString('en-US')} messages, sms.db ${(dbBytes / 1e6).toFixed(0)} MB`,
        },
        {
          area: 'messages',
          metric: `ingest messages/s (${label})`,
          value: count / ingestS,
          unit: 'messages/s',
          note: `whole ingest ${ingestS.toFixed(2)} s, ${r.events.toLocaleString('en-US')} events, status ${status}${attributedOnly ? `, ${decoded.toLocaleString('en-US')} bodies decoded` : ''}`,
        },
        {
          area: 'messages',
          metric: `extractor messages/s (${label})`,
          value: count / extractS,
          unit: 'messages/s',
          note: `messages extractor alone ${extractS.toFixed(2)} s (copy + hash of sms.db included); rest of ingest ${(ingestS - extractS).toFixed(2)} s: ${Object.entries(
            r.timings,
          )
            .filter(([k]) => k !== 'extraction')
            .map(([k, v]) => `${k} ${v} s`)
            .join(', ')}`,
        },
        {
          area: 'messages',
          metric: `ingest messages per CPU-second (${label})`,
          value: count / cpuS,
          unit: 'messages/s',
          note: `${cpuS.toFixed(2)} CPU-s for the whole ingest: the figure a quiet machine approaches (this one is shared)`,
        },
        { area: 'messages', metric: `peak RSS (${label})`, value: rss, unit: 'MB', note: 'the ingest process alone' },
      );
      if (!attributedOnly) {
        // The same ingest without recovery: what reading every sms.db byte for deleted records costs.
        fs.rmSync(casePath, { force: true });
        const off = runIngestChild(root, casePath, 'messages', { recover: false });
        rows.push({
          area: 'messages',
          metric: 'recovery overhead (plain text)',
          value: (100 * (ingestS - off.seconds)) / off.seconds,
          unit: '%',
          note: `ingest ${ingestS.toFixed(2)} s with recovery, ${off.seconds.toFixed(2)} s with --no-recover (${(cpuS - off.cpuS).toFixed(2)} CPU-s more); target ≤ 15 %`,
        });
      }
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(casePath, { force: true });
    }
    rows.push({ area: 'messages', metric: 'peak RSS (max of both ingests)', value: peak, unit: 'MB', note: 'target < 500 MB' });
    return rows;
  },
};
