import { readFileSync } from 'node:fs';
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
