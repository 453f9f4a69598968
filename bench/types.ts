import fs, { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
export interface BenchRow {
  area: string;
  metric: string;
  value: number;
  unit: string;
  note?: string;
}
export interface BenchOptions {
  /** 1 = the sizes the issues name (e.g. 1,000,000 messages); smaller for a quick look. */
  scale: number;
  /** A private temp folder for this section; removed afterwards. */
  tmp: string;
}
export interface BenchSection {
  id: string;
  title: string;
  run(opts: BenchOptions): Promise<BenchRow[]>;
}

/** Peak RSS of this process so far, in MB (Linux: VmHWM). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.memoryUsage().rss / 1024 / 1024;
}

export interface ChildIngest {
  seconds: number;
  cpuS: number;
  rssMb: number;
  events: number;
  summaries: { extractor: string; status: string; events: number }[];
  timings: Record<string, number>;
}

/** Ingest in a separate process (bench/ingestChild.ts) and return its timing and own peak RSS. */
export function runIngestChild(backupDir: string, casePath: string, only?: string, opts: { recover?: boolean } = {}): ChildIngest {
  // Settle what building the fixture left behind, so the figure is the ingest's own: this process's garbage
  // (its collector otherwise runs on the second core during the ingest: 1M messages took 10.5 s instead of
  // 8.5 s) and the fixture's dirty pages (the kernel would write them back during the ingest).
  (globalThis as { gc?: () => void }).gc?.();
  spawnSync('sync');
  const script = new URL('./ingestChild.js', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [script, backupDir, casePath, only ?? '', opts.recover === false ? 'no-recover' : ''], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`ingest child failed: ${r.stderr.slice(-500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildIngest;
}

/**
 * The export's floor: the sqlite3 CLI writing the export's fields with json_object, in the export's order (dated
 * events by the time index, then the undated), with the same joins. Wall and CPU seconds.
 */
export function jsonObjectExportFloor(casePath: string, out: string): { seconds: number; cpuS: number } {
  const line = `json_object('datetime', strftime('%Y-%m-%dT%H:%M:%fZ', e.ts_utc_us / 1e6, 'unixepoch'), 'timestamp', e.ts_utc_us,
    'kind', e.kind, 'action', e.action, 'title', e.title, 'text', e.body, 'direction', e.direction, 'counterpart', e.counterpart,
    'counterpart_name', e.counterpart_name, 'service', e.service, 'thread', t.display_name, 'duration_s', e.duration_s,
    'latitude', e.latitude, 'longitude', e.longitude, 'accuracy_m', e.accuracy_m, 'ts_raw', e.ts_raw, 'ts_epoch', e.ts_epoch,
    'extractor', e.extractor, 'source_domain', f.domain, 'source_path', f.relative_path, 'source_table', e.source_table,
    'source_rowid', e.source_rowid, 'source_sha256', f.sha256, 'event_id', e.id, 'recovered', e.recovered,
    'recovered_from', e.recovered_from, 'confidence', e.confidence)`;
  const from = 'FROM events e LEFT JOIN files f ON f.id = e.source_file_id LEFT JOIN threads t ON t.id = e.thread_id';
  const sql = `SELECT ${line} ${from} WHERE e.ts_utc_us IS NOT NULL ORDER BY e.ts_utc_us, e.id;\nSELECT ${line} ${from} WHERE e.ts_utc_us IS NULL ORDER BY e.id;\n`;
  const fd = fs.openSync(out, 'w');
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'sqlite3', '-readonly', casePath], { input: sql, stdio: ['pipe', fd, 'pipe'], encoding: 'utf8' });
  const seconds = (performance.now() - t) / 1000;
  fs.closeSync(fd);
  fs.rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${String(r.stderr).slice(0, 300)}`);
  const [u, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, cpuS: u + sys };
}
