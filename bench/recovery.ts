// Carving throughput of the recovery engine over a large sms.db with 10% of its rows deleted.
//   node dist/bench/recovery.js [--mb 300] [--dir /tmp/recovery-bench] [--rebuild]
// Rows are cloned from the real hickman iOS 14 sms.db (../shared/realdata) when it is present (new ROWID and guid
// per clone), else synthesised. The database is cached in --dir; the floor is `cat > /dev/null` and
// `sqlite3 DB 'PRAGMA integrity_check'` on the same file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { smsTables } from '../fixtures/artifacts/messagesSchema.js';
import { Rng } from '../fixtures/random.js';
import { recoverDatabase } from '../src/recovery/index.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const targetMb = Number(arg('mb', '300'));
const dir = arg('dir', path.join(os.tmpdir(), 'recovery-bench'));
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const realSms = path.resolve(repo, '../shared/realdata/hickman-ios14/sms/sms.db');

function sampleRows(): Record<string, unknown>[] {
  if (!fs.existsSync(realSms)) return [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-'));
  for (const s of ['', '-wal', '-shm']) if (fs.existsSync(realSms + s)) fs.copyFileSync(realSms + s, path.join(tmp, 'sms.db' + s));
  const db = new Database(path.join(tmp, 'sms.db'), { readonly: true });
  db.defaultSafeIntegers(true);
  const rows = db.prepare('SELECT * FROM message').all() as Record<string, unknown>[];
  db.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  return rows;
}

function build(file: string): { rows: number; deleted: number; guids: [number, string, string][] } {
  fs.mkdirSync(dir, { recursive: true });
  for (const s of ['', '-journal', '-wal']) fs.rmSync(file + s, { force: true });
  const rng = new Rng(99);
  const samples = sampleRows();
  const db = new Database(file);
  db.defaultSafeIntegers(true);
  db.pragma('page_size = 4096');
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.exec(smsTables('ios14', { triggers: false }));
  const cols = (db.prepare("SELECT name FROM pragma_table_info('message')").all() as { name: string }[]).map((r) => r.name);
  const use = samples.length ? cols.filter((c) => c in samples[0]) : ['ROWID', 'guid', 'text', 'handle_id', 'service', 'date', 'is_from_me'];
  const ins = db.prepare(`INSERT INTO message (${use.join(',')}) VALUES (${use.map(() => '?').join(',')})`);
  const target = targetMb * 1024 * 1024;
  let n = 0;
  const batch = 20_000;
  for (;;) {
    db.transaction(() => {
      for (let i = 0; i < batch; i++) {
        n++;
        const s = samples.length ? samples[n % samples.length] : null;
        const row = use.map((c) => {
          if (c === 'ROWID') return n;
          if (c === 'guid') return rng.uuid();
          if (s) return s[c];
          if (c === 'text') return `message ${n} ${'x'.repeat(rng.int(10, 300))}`;
          if (c === 'date') return BigInt(600_000_000 + n) * 1_000_000_000n;
          return c === 'service' ? 'SMS' : rng.int(0, 5);
        });
        ins.run(...row);
      }
    })();
    if (fs.statSync(file).size >= target) break;
  }
  db.pragma('journal_mode = DELETE');
  db.pragma('secure_delete = OFF');
  const guids = (db.prepare('SELECT ROWID AS id, guid, text FROM message WHERE ROWID % 10 = 0').all() as { id: bigint; guid: string; text: string | null }[]).map((r) => [
    Number(r.id),
    r.guid,
    (r.text ?? '').slice(0, 12),
  ]);
  const deleted = Number(db.prepare('DELETE FROM message WHERE ROWID % 10 = 0').run().changes);
  db.close();
  fs.writeFileSync(file + '.json', JSON.stringify({ rows: n, deleted, guids }));
  return { rows: n, deleted, guids: guids as [number, string, string][] };
}

function timed(cmd: string, a: string[]): number {
  const t = process.hrtime.bigint();
  spawnSync(cmd, a, { stdio: ['ignore', 'ignore', 'ignore'], shell: false });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const file = path.join(dir, `sms-${targetMb}mb.db`);
let meta: { rows: number; deleted: number; guids: [number, string, string][] };
if (!fs.existsSync(file) || !fs.existsSync(file + '.json') || args.includes('--rebuild')) {
  const t = Date.now();
  meta = build(file);
  console.error(`built ${file} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
} else meta = JSON.parse(fs.readFileSync(file + '.json', 'utf8'));
const size = fs.statSync(file).size;
const mb = size / 1024 / 1024;
timed('cat', [file]); // warm the page cache
const catMs = timed('sh', ['-c', `cat '${file}' > /dev/null`]);
const icMs = timed('sqlite3', [file, 'PRAGMA integrity_check']);
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const r = recoverDatabase({ dbPath: file, walPath: null });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(cpu0);
const rssAfterRecovery = process.resourceUsage().maxRSS / 1024;
const cpuMs = (cpu.user + cpu.system) / 1000;
const msgs = r.records.filter((x) => x.table === 'message' && x.olderVersionOf === undefined);
const deletedIds = msgs.filter((x) => x.rowid !== null && BigInt(x.rowid) % 10n === 0n).length;
const falsePos = msgs.filter((x) => x.rowid !== null && BigInt(x.rowid) % 10n !== 0n).length;
// Ground truth for recall: a deleted row is recoverable at all only while its record bytes (guid followed by the
// start of its text, as the record stores them) survive somewhere in the file.
// One linear pass: every guid-shaped string in the file and the 12 bytes after it (not one indexOf per row).
const text = fs.readFileSync(file).toString('latin1');
const present = new Set<string>();
const wanted = new Map(meta.guids.map(([, g, t]) => [g, t]));
for (const m of text.matchAll(/[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}/g)) {
  const t = wanted.get(m[0]);
  if (t === undefined) continue;
  if (
    Buffer.from(text.slice(m.index! + 36, m.index! + 36 + 24), 'latin1')
      .toString('utf8')
      .startsWith(t)
  )
    present.add(m[0]);
}
const found = new Map(msgs.map((x) => [String(x.values[1]), x]));
let surviving = 0,
  foundSurviving = 0,
  foundWithRowid = 0;
for (const [id, g] of meta.guids) {
  if (!present.has(g)) continue;
  surviving++;
  const hit = found.get(g);
  if (hit) {
    foundSurviving++;
    if (hit.rowid !== null && Number(hit.rowid) === id) foundWithRowid++;
  }
}
const row = (k: string, v: string) => console.log(`${k.padEnd(34)} ${v}`);
row('database', `${file} (${mb.toFixed(1)} MB, ${meta.rows} rows, ${meta.deleted} deleted)`);
row('cat > /dev/null', `${catMs.toFixed(0)} ms  ${(mb / (catMs / 1000)).toFixed(0)} MB/s`);
row("sqlite3 'PRAGMA integrity_check'", `${icMs.toFixed(0)} ms  ${(mb / (icMs / 1000)).toFixed(0)} MB/s`);
row('recoverDatabase (wall)', `${ms.toFixed(0)} ms  ${(mb / (ms / 1000)).toFixed(0)} MB/s`);
row(
  'recoverDatabase (CPU user+sys)',
  `${cpuMs.toFixed(0)} ms  ${(mb / (cpuMs / 1000)).toFixed(0)} MB/s   (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
);
row(
  'message records (not older versions)',
  `${msgs.length}: ${deletedIds} deleted rows with rowid, ${msgs.length - deletedIds - falsePos} without rowid, ${falsePos} with a live rowid (false positives)`,
);
row('recall (deleted rows with rowid)', `${((100 * deletedIds) / meta.deleted).toFixed(1)}% of all deleted rows`);
const idOf = new Map(meta.guids.map(([id, g]) => [g, id]));
const wrongRowid = msgs.filter((x) => x.rowid !== null && idOf.has(String(x.values[1])) && idOf.get(String(x.values[1])) !== Number(x.rowid)).length;
row(
  'recall (rows whose bytes survive)',
  `${foundSurviving} of ${surviving} deleted rows whose record bytes are still in the file (${((100 * foundSurviving) / Math.max(1, surviving)).toFixed(1)}%), ${foundWithRowid} with the right rowid, ${wrongRowid} with a wrong one`,
);
row('peak RSS', `${rssAfterRecovery.toFixed(0)} MB after recovery (${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB with the bench's own recall pass)`);
row(
  'stats',
  JSON.stringify({
    freeblocks: r.stats.freeblocks,
    zero: r.stats.freeblocksZeroFilled,
    unalloc: r.stats.unallocatedBytes,
    rejected: r.stats.rejected,
    dropped: r.stats.droppedIdenticalToLive,
  }),
);
