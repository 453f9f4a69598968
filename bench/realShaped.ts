// Real-shaped ingest: a grown phone cloned from real rows (fixtures/realShaped.ts: hickman's sms.db,
// CallHistory, Photos.sqlite; 1M messages / 100k calls / 50k photos at scale 1), ingested whole, with a
// per-phase table and, measured in the same run on the same files, the floors of each phase:
//   - hash pass   ↔ `openssl dgst -sha256` over every evidence file (two processes, as we use two cores) + `cp` of
//                   the databases the pass copies for the extractors (the pass writes them from the bytes it hashes);
//   - extractors  ↔ a `sqlite3` scan of every source table they read + `sqlite3` inserting their events
//                   (the same rows, into the same case schema, from the finished case);
//   - indexes and full-text ↔ `sqlite3` running the same CREATE INDEX / FTS statements;
//   - digest      ↔ `openssl dgst -sha256` over the case file.
// The synthetic messages fixture (fillBulkSmsDb, the same message count) is the second column.
//   - export      ↔ the sqlite3 CLI writing every event with json_object, in the same time order (index walks).
// HTML and PDF of large cases are measured by the exports section (bench/exportSection.ts).
// Skipped, with a note, when ../shared/realdata is absent.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { fillBulkSmsDb } from '../fixtures/artifacts/messages.js';
import { buildRealShapedBackup, type RealShapedTruth } from '../fixtures/realShaped.js';
import { POST_INGEST_SQL } from '../src/timeline/schema.js';
import { jsonObjectExportFloor, runIngestChild, type BenchRow, type BenchSection, type ChildIngest } from './types.js';

const REALDATA = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../shared/realdata');
const REALDATA_ALT = path.resolve(process.cwd(), '../shared/realdata');

/** One line of the per-phase table. */
export interface PhaseRow {
  phase: string;
  seconds: number;
  floor?: { seconds: number; what: string };
  synthetic?: number;
}

const secs = (t0: number) => (performance.now() - t0) / 1000;

function sqlite3(db: string, sql: string, opts: { readonly?: boolean } = {}): number {
  const t0 = performance.now();
  const args = opts.readonly ? ['-readonly', `file:${db}?immutable=1`] : [db];
  const r = spawnSync('sqlite3', [...args], { input: sql, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr.slice(0, 300)}`);
  return secs(t0);
}

/** Two openssl processes side by side, each with half the bytes. */
async function opensslFloor(files: string[]): Promise<number> {
  const lanes: { files: string[]; bytes: number }[] = [
    { files: [], bytes: 0 },
    { files: [], bytes: 0 },
  ];
  for (const f of files.map((p) => ({ p, s: fs.statSync(p).size })).sort((a, b) => b.s - a.s)) {
    const lane = lanes[0].bytes <= lanes[1].bytes ? lanes[0] : lanes[1];
    lane.files.push(f.p);
    lane.bytes += f.s;
  }
  const t0 = performance.now();
  await Promise.all(
    lanes
      .filter((l) => l.files.length)
      .map(
        (l) =>
          new Promise<void>((resolve, reject) => {
            const p = spawn('openssl', ['dgst', '-sha256', '-r', ...l.files], { stdio: ['ignore', 'ignore', 'inherit'] });
            p.on('error', reject);
            p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl exited ${code}`))));
          }),
      ),
  );
  return secs(t0);
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(root);
  return out;
}

/** The payload path of domain/relativePath in a plain backup (fileID = sha1 of "domain-relativePath"). */
function payload(root: string, domain: string, rel: string): string {
  const db = new Database(path.join(root, 'Manifest.db'), { readonly: true });
  const id = db.prepare('SELECT fileID FROM Files WHERE domain = ? AND relativePath = ?').pluck().get(domain, rel) as string;
  db.close();
  return path.join(root, id.slice(0, 2), id);
}

function extractorSeconds(casePath: string): Map<string, { seconds: number; events: number }> {
  const cf = new Database(casePath, { readonly: true });
  const rows = cf.prepare('SELECT extractor, events, started_at, finished_at FROM extractor_runs').all() as {
    extractor: string;
    events: number;
    started_at: string;
    finished_at: string;
  }[];
  cf.close();
  return new Map(rows.map((r) => [r.extractor, { seconds: (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000, events: r.events }]));
}

/** `sqlite3` writing the case's content rows into a fresh file with the same schema, per extractor; then the indexes and full-text index. */
function insertFloors(casePath: string, tmp: string, extractors: string[]): { perExtractor: Map<string, number>; indexes: number; fts: number } {
  const cf = new Database(casePath, { readonly: true });
  // The tables as created at the start of an ingest: the post-ingest indexes and the FTS table come later.
  const post = new Set(['events_ts', 'events_kind', 'events_thread', 'attachments_event']);
  const ddl = (
    cf.prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'events_fts%' AND name NOT LIKE 'sqlite_%'").all() as {
      type: string;
      name: string;
      sql: string;
    }[]
  )
    .filter((r) => !post.has(r.name) && r.type !== 'trigger')
    .map((r) => `${r.sql};`)
    .join('\n');
  cf.close();
  const floorDb = path.join(tmp, 'floor-case.db');
  fs.rmSync(floorDb, { force: true });
  sqlite3(floorDb, `PRAGMA journal_mode = WAL;\n${ddl}`);
  const perExtractor = new Map<string, number>();
  const pragmas = `PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; ATTACH '${casePath.replace(/'/g, "''")}' AS c;`;
  for (const ex of extractors) {
    perExtractor.set(
      ex,
      sqlite3(
        floorDb,
        `${pragmas}
        BEGIN; INSERT INTO main.events SELECT * FROM c.events WHERE extractor = '${ex}';
        INSERT INTO main.attachments SELECT a.* FROM c.attachments a JOIN c.events e ON e.id = a.event_id WHERE e.extractor = '${ex}'; COMMIT;`,
      ),
    );
  }
  const [idx, fts] = POST_INGEST_SQL.split(/(?=CREATE VIRTUAL TABLE)/);
  const indexes = sqlite3(floorDb, `PRAGMA threads = 2; ${idx}`);
  const ftsS = sqlite3(floorDb, fts);
  fs.rmSync(floorDb, { force: true });
  return { perExtractor, indexes, fts: ftsS };
}

/**
 * What delivered/read receipts as events of their own cost (docs/performance.md, "event model"): `sqlite3`
 * writing all events, then the same without the receipt events, each with the post-ingest indexes; file sizes.
 */
function receiptCost(casePath: string, tmp: string): { receipts: number; all: number; rows: { events: number; insert: number; indexes: number; mb: number }[] } {
  const cf = new Database(casePath, { readonly: true });
  const eventsSql = (cf.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").pluck().get() as string) + ';';
  const receipts = Number(cf.prepare("SELECT count(*) FROM events WHERE extractor = 'messages' AND action IN ('delivered', 'read')").pluck().get());
  const all = Number(cf.prepare('SELECT count(*) FROM events').pluck().get());
  cf.close();
  const [idx] = POST_INGEST_SQL.split(/(?=CREATE VIRTUAL TABLE)/);
  const rows = [];
  for (const where of ['1', "NOT (extractor = 'messages' AND action IN ('delivered', 'read'))"]) {
    const db = path.join(tmp, 'receipts-floor.db');
    fs.rmSync(db, { force: true });
    sqlite3(db, eventsSql);
    const insert = sqlite3(db, `PRAGMA synchronous = OFF; ATTACH '${casePath.replace(/'/g, "''")}' AS c; INSERT INTO main.events SELECT * FROM c.events WHERE ${where};`);
    const indexes = sqlite3(db, `PRAGMA threads = 2; ${idx.replace(/CREATE INDEX IF NOT EXISTS attachments_event ON attachments\(event_id\);/, '')}`);
    rows.push({ events: where === '1' ? all : all - receipts, insert, indexes, mb: fs.statSync(db).size / 1e6 });
    fs.rmSync(db, { force: true });
  }
  return { receipts, all, rows };
}

/** `export --format jsonl` of the finished case in a child process: wall and CPU seconds, peak RSS, bytes. */
function exportChild(casePath: string, out: string): { seconds: number; cpuS: number; rssMb: number; bytes: number } {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  spawnSync('sync');
  const cli = new URL('../src/cli/run.js', import.meta.url).pathname;
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, cli, 'export', '--case', casePath, '--format', 'jsonl', '--out', out], { encoding: 'utf8' });
  const seconds = secs(t0);
  if (r.status !== 0) throw new Error(`export failed: ${r.stderr.slice(-500)}`);
  const [u, sys, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  const bytes = fs.statSync(out).size;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return { seconds, cpuS: u + sys, rssMb: kb / 1024, bytes };
}

function syntheticBackup(root: string, tmp: string, count: number): void {
  const dbPath = path.join(tmp, 'sms-synthetic.db');
  const db = new Database(dbPath);
  fillBulkSmsDb(db, { count, attributedOnly: false });
  db.close();
  const w = new BackupWriter(root, {
    deviceName: 'Bench iPhone',
    productType: 'iPhone12,3',
    productVersion: '14.3',
    buildVersion: '18C66',
    serialNumber: 'BENCH',
    udid: 'bench'.padEnd(40, '0'),
    backupDate: new Date(Date.UTC(2024, 2, 15)),
  });
  w.addDatabase('HomeDomain', 'Library/SMS/sms.db', { db: fs.readFileSync(dbPath) });
  w.finish();
  fs.rmSync(dbPath);
}

const fmt = (v: number) => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The per-phase table, as Markdown (printed to stderr and kept in the bench notes). */
export function phaseTable(rows: PhaseRow[]): string {
  const lines = ['| phase | real-shaped s | floor s | × floor | floor measured | synthetic s |', '|---|---:|---:|---:|---|---:|'];
  for (const r of rows)
    lines.push(
      `| ${r.phase} | ${fmt(r.seconds)} | ${r.floor ? fmt(r.floor.seconds) : ''} | ${r.floor && r.floor.seconds > 0 ? (r.seconds / r.floor.seconds).toFixed(1) : ''} | ${r.floor?.what ?? ''} | ${r.synthetic !== undefined ? fmt(r.synthetic) : ''} |`,
    );
  return lines.join('\n');
}

export const realShapedBench: BenchSection = {
  id: 'realshaped',
  title: 'Real-shaped ingest (hickman rows replicated): per-phase table with floors',
  async run({ scale, tmp }) {
    const realdata = [REALDATA, REALDATA_ALT].find((d) => fs.existsSync(path.join(d, 'hickman-ios14')));
    if (!realdata) return [{ area: 'realshaped', metric: 'skipped', value: 0, unit: '', note: `real data absent (${REALDATA}): the real-shaped bench needs hickman-ios14` }];
    const sizes = { messages: Math.round(1_000_000 * scale), calls: Math.round(100_000 * scale), photos: Math.round(50_000 * scale) };
    const root = path.join(tmp, 'grown');
    let t0 = performance.now();
    const truth: RealShapedTruth = buildRealShapedBackup(realdata, root, tmp, sizes);
    const buildS = secs(t0);
    // The fixture's gigabytes are still being written back: flush them, or the hash pass (which writes the working
    // copies) pays for the build's writeback.
    spawnSync('sync');
    const casePath = path.join(tmp, 'case.db');
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const tuning = process.env.BENCH_TUNING ?? '';
    const r: ChildIngest = runIngestChild(root, casePath);
    const ex = extractorSeconds(casePath);

    // Floors, on the same files, in the same run.
    const evidence = filesUnder(root);
    const hashFloor = await opensslFloor(evidence);
    const dbs = {
      sms: payload(root, 'HomeDomain', 'Library/SMS/sms.db'),
      calls: payload(root, 'HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata'),
      photos: payload(root, 'CameraRollDomain', 'Media/PhotoData/Photos.sqlite'),
      contacts: payload(root, 'HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb'),
    };
    t0 = performance.now();
    for (const p of Object.values(dbs)) fs.copyFileSync(p, path.join(tmp, 'cp-floor'));
    const cpFloor = secs(t0);
    fs.rmSync(path.join(tmp, 'cp-floor'), { force: true });
    const scan = (key: 'sms' | 'calls' | 'photos', tables: string[]) =>
      sqlite3(dbs[key], `.output /dev/null\n${tables.map((t) => `SELECT * FROM "${t}";`).join('\n')}`, { readonly: true });
    const scans = { sms: scan('sms', truth.sourceTables.sms), calls: scan('calls', truth.sourceTables.calls), photos: scan('photos', truth.sourceTables.photos) };
    const ins = insertFloors(casePath, tmp, ['messages', 'calls', 'photos']);
    t0 = performance.now();
    spawnSync('openssl', ['dgst', '-sha256', casePath], { stdio: 'ignore' });
    const digestFloor = secs(t0);

    // The synthetic fixture: the same number of messages, generated.
    const synRoot = path.join(tmp, 'synthetic');
    syntheticBackup(synRoot, tmp, truth.rows['sms.message']);
    const synCase = path.join(tmp, 'case-synthetic.db');
    const syn = runIngestChild(synRoot, synCase);
    const synEx = extractorSeconds(synCase);

    const phases: PhaseRow[] = [
      {
        // The pass also writes the working copies of the databases the extractors read (one read of the evidence).
        phase: 'evidence hash pass (+ working copies)',
        seconds: r.timings.evidence_hashing,
        floor: { seconds: hashFloor + cpFloor, what: `openssl dgst -sha256 ×2 over the evidence ${fmt(hashFloor)} s + cp of the 4 databases ${fmt(cpFloor)} s` },
        synthetic: syn.timings.evidence_hashing,
      },
      {
        phase: 'working copies left for extraction',
        seconds: r.timings.working_copies ?? 0,
        synthetic: syn.timings.working_copies,
      },
      ...(['messages', 'calls', 'photos'] as const).map((id) => {
        const key = id === 'messages' ? 'sms' : id;
        const floor = scans[key] + (ins.perExtractor.get(id) ?? 0);
        return {
          phase: `extractor ${id} (${(ex.get(id)?.events ?? 0).toLocaleString('en-US')} events)`,
          seconds: ex.get(id)?.seconds ?? 0,
          floor: { seconds: floor, what: `sqlite3 scan ${fmt(scans[key])} s + sqlite3 insert ${fmt(ins.perExtractor.get(id) ?? 0)} s` },
          synthetic: id === 'messages' ? synEx.get(id)?.seconds : undefined,
        };
      }),
      {
        phase: 'other extractors',
        seconds: [...ex].filter(([k]) => !['messages', 'calls', 'photos'].includes(k)).reduce((s, [, v]) => s + v.seconds, 0),
      },
      {
        phase: 'indexes + full-text index',
        seconds: r.timings.indexes_and_full_text,
        floor: { seconds: ins.indexes + ins.fts, what: `sqlite3 CREATE INDEX ${fmt(ins.indexes)} s + FTS ${fmt(ins.fts)} s` },
        synthetic: syn.timings.indexes_and_full_text,
      },
      {
        phase: 'case digest (after indexes; overlapped)',
        seconds: r.timings.case_digest_wait,
        floor: { seconds: digestFloor, what: 'openssl dgst -sha256 of the case file' },
        synthetic: syn.timings.case_digest_wait,
      },
      { phase: 'whole ingest', seconds: r.seconds, synthetic: syn.seconds },
    ];
    const rc = receiptCost(casePath, tmp);
    const [withR, withoutR] = rc.rows;
    const receiptNote = `${rc.receipts.toLocaleString('en-US')} of ${rc.all.toLocaleString('en-US')} events are delivered/read receipts; sqlite3 insert + indexes ${fmt(withR.insert + withR.indexes)} s and ${withR.mb.toFixed(0)} MB with them, ${fmt(withoutR.insert + withoutR.indexes)} s and ${withoutR.mb.toFixed(0)} MB without`;
    process.stderr.write(`\nevent model: ${receiptNote}\n`);
    // Export of the real-shaped case, beside its floor; then ingest + export, the figure the issue's targets name.
    const exp = exportChild(casePath, path.join(tmp, 'export', 'events.jsonl'));
    const expFloor = jsonObjectExportFloor(casePath, path.join(tmp, 'floor.jsonl')).seconds;
    phases.push(
      {
        phase: `export jsonl (${(exp.bytes / 1e6).toFixed(0)} MB, peak RSS ${exp.rssMb.toFixed(0)} MB, ${exp.cpuS.toFixed(1)} CPU-s)`,
        seconds: exp.seconds,
        floor: { seconds: expFloor, what: 'sqlite3 json_object in time order' },
      },
      { phase: 'ingest + export (target ≤ 30 s at scale 1)', seconds: r.seconds + exp.seconds },
    );
    const table = phaseTable(phases);
    process.stderr.write(
      `\nreal-shaped: ${Object.entries(truth.rows)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(
          ', ',
        )}; build ${buildS.toFixed(1)} s; load ${load}; ${tuning ? `tuning ${tuning}; ` : ''}peak RSS ${r.rssMb.toFixed(0)} MB (synthetic ${syn.rssMb.toFixed(0)} MB)\n${table}\n`,
    );
    const rows: BenchRow[] = phases.map((p) => ({
      area: 'realshaped',
      metric: p.phase,
      value: p.seconds,
      unit: 's',
      note: [
        p.floor ? `floor ${fmt(p.floor.seconds)} s (${p.floor.what}), ×${(p.seconds / p.floor.seconds).toFixed(1)}` : '',
        p.synthetic !== undefined ? `synthetic ${fmt(p.synthetic)} s` : '',
      ]
        .filter(Boolean)
        .join('; '),
    }));
    rows.push(
      {
        area: 'realshaped',
        metric: 'fixture build',
        value: buildS,
        unit: 's',
        note: `${truth.rows['sms.message'].toLocaleString('en-US')} messages, ${truth.rows['calls.ZCALLRECORD'].toLocaleString('en-US')} calls, ${truth.rows['photos.ZASSET'].toLocaleString('en-US')} assets`,
      },
      { area: 'realshaped', metric: 'peak RSS', value: r.rssMb, unit: 'MB', note: `synthetic ${syn.rssMb.toFixed(0)} MB; target < 500 MB` },
      { area: 'realshaped', metric: 'CPU seconds / wall seconds', value: r.cpuS / r.seconds, unit: 'cores', note: `load ${load}` },
      { area: 'realshaped', metric: 'events', value: r.events, unit: 'events', note: `synthetic ${syn.events.toLocaleString('en-US')}` },
      { area: 'realshaped', metric: 'receipt events share', value: (100 * rc.receipts) / rc.all, unit: '%', note: receiptNote },
    );
    return rows;
  },
};
