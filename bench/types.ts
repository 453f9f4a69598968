import { readFileSync } from 'node:fs';
export interface BenchRow { area: string; metric: string; value: number; unit: string; note?: string }
export interface BenchOptions {
  /** 1 = the sizes the issues name (e.g. 1,000,000 messages); smaller for a quick look. */
  scale: number;
  /** A private temp folder for this section; removed afterwards. */
  tmp: string;
}
export interface BenchSection { id: string; title: string; run(opts: BenchOptions): Promise<BenchRow[]> }

/** Peak RSS of this process so far, in MB (Linux: VmHWM). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss / 1024 / 1024;
}
