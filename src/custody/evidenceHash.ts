// Hash many files on every core: a small pool of worker threads pulling batches from one queue.
// Small files travel many to a message (the per-message cost would otherwise dominate); large files
// go first and alone, so no worker is left with a big file at the end while the others sit idle.
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { hashFileSync, READ_CHUNK, type BatchReply, type BatchRequest, type FileHashes, type HashAlgorithm, type ProgressReply, HASH_ALGORITHMS } from './hashWorker.js';

export interface HashJob {
  path: string;
  size: number;
  /** Also copy the file here while hashing it (the copy holds exactly the bytes hashed). */
  copyTo?: string;
}
export interface HashOptions {
  algorithms?: HashAlgorithm[];
  /** Block size for prefix hashes (default 1 MiB). */
  blockSize?: number;
  /** Worker count (default: one per core). 0 hashes in this thread. */
  workers?: number;
  /** Called with bytes hashed so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const BATCH_FILES = 256;
const BATCH_BYTES = 16 << 20;

/** Parse `--hash sha256,md5,sha1`; SHA-256 is always included. */
export function parseAlgorithms(list: string | undefined): HashAlgorithm[] {
  const names = (list ?? 'sha256')
    .split(',')
    .map((s) => s.trim().toLowerCase().replace('-', ''))
    .filter(Boolean);
  for (const n of names) if (!(HASH_ALGORITHMS as readonly string[]).includes(n)) throw new Error(`unknown hash algorithm "${n}" (use sha256, md5, sha1)`);
  return ['sha256', ...HASH_ALGORITHMS.filter((a) => a !== 'sha256' && names.includes(a))];
}

/** The compiled worker script: next to this module, or under dist/ when running from the TypeScript sources (tests). */
function workerScript(): string | null {
  const here = fileURLToPath(new URL('./hashWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])custody([\\/])hashWorker\.js$/, '$1dist$1src$2custody$3hashWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

/** Hash every job; results come back in the jobs' order. */
export async function hashFiles(jobs: HashJob[], opts: HashOptions = {}): Promise<FileHashes[]> {
  const algorithms = opts.algorithms ?? ['sha256'];
  const blockSize = opts.blockSize ?? READ_CHUNK;
  const total = jobs.reduce((s, j) => s + j.size, 0);
  const results: FileHashes[] = new Array(jobs.length);
  let done = 0;
  const script = workerScript();
  const nWorkers = Math.min(opts.workers ?? os.cpus().length, Math.max(1, jobs.length));
  if (!script || nWorkers === 0 || jobs.length === 0) {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    jobs.forEach((j, i) => {
      results[i] = hashFileSync(
        j.path,
        algorithms,
        blockSize,
        buf,
        (n) => {
          done += n;
        },
        j.copyTo,
      );
      opts.onProgress?.(done, total);
    });
    return results;
  }

  // Largest first; then batches of small files.
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].size - jobs[a].size);
  const batches: number[][] = [];
  let cur: number[] = [];
  let curBytes = 0;
  for (const i of order) {
    if (cur.length && (cur.length >= BATCH_FILES || curBytes + jobs[i].size > BATCH_BYTES)) {
      batches.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(i);
    curBytes += jobs[i].size;
  }
  if (cur.length) batches.push(cur);

  const workers = Array.from({ length: nWorkers }, () => new Worker(script, { workerData: { role: 'ios-timeline-hash' } }));
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let outstanding = 0;
      const send = (w: Worker) => {
        if (next >= batches.length) {
          if (outstanding === 0) resolve();
          return;
        }
        const id = next++;
        outstanding++;
        w.postMessage({ id, files: batches[id].map((i) => jobs[i].path), copies: batches[id].map((i) => jobs[i].copyTo ?? null), algorithms, blockSize } satisfies BatchRequest);
      };
      for (const w of workers) {
        w.on('message', (m: BatchReply | ProgressReply) => {
          if ('progress' in m) {
            done += m.progress;
            opts.onProgress?.(done, total);
            return;
          }
          batches[m.id].forEach((jobIndex, k) => {
            results[jobIndex] = m.results[k];
          });
          outstanding--;
          send(w);
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`hash worker exited with code ${code}`));
        });
      }
      // Two batches in flight per worker, so a worker never waits for the main thread between batches.
      for (let round = 0; round < 2; round++) for (const w of workers) send(w);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
