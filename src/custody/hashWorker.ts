// Hashing of whole files, run inside worker threads (see evidenceHash.ts) or in-thread as a fallback.
// Files are read with plain synchronous reads into one reusable 1 MiB buffer: in a worker thread that is
// the cheapest way to read many small files (no promise or stream per file).
import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export type HashAlgorithm = 'sha256' | 'md5' | 'sha1';
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'md5', 'sha1'];

/** Every file is read in chunks of this size; block prefixes are taken at these boundaries. */
export const READ_CHUNK = 1 << 20;

export interface FileHashes {
  size: number;
  sha256?: string;
  md5?: string;
  sha1?: string;
  /**
   * SHA-256 of every prefix [0, k·blockSize) for k = 1… (the last partial block excluded), each cut to 16 hex
   * characters and concatenated. Taken by copying the running hash state at each boundary, so it costs
   * almost nothing; on re-hashing, the first prefix that differs names the first block that changed.
   * Absent for files of one block or less. Integrity rests on the full hashes; prefixes only locate.
   */
  prefixes?: string;
  error?: string;
  /** The bytes hashed were also written to the job's copyTo; the file's mtime when it was opened. */
  copied?: { mtimeMs: number };
}

export const PREFIX_HEX = 16;

/**
 * Hash one file with the given algorithms (sha256 always first). `blockSize` must be a multiple of READ_CHUNK or a divisor of it.
 * With `copyTo`, every chunk is also written there right after it is hashed, from the same buffer: the copy holds
 * exactly the bytes hashed (one read of the evidence serves both). A failed copy is removed and named in `copyError`.
 */
export function hashFileSync(file: string, algorithms: readonly HashAlgorithm[], blockSize: number, buf: Buffer, onBytes?: (n: number) => void, copyTo?: string): FileHashes {
  let fd: number;
  // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; then only a regular file is read.
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    return { size: 0, error: (e as Error).message };
  }
  let out: number | null = null;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { size: 0, error: `not a regular file (${kindName(st)}); not read` };
    if (copyTo) {
      try {
        out = fs.openSync(copyTo, 'wx', 0o600);
      } catch {
        out = null;
      }
    }
    const hashes: Hash[] = algorithms.map((a) => createHash(a));
    const sha = hashes[algorithms.indexOf('sha256')];
    let size = 0;
    let prefixes = '';
    // Read at most one block at a time so every block boundary falls at the end of a read.
    const want = Math.min(buf.length, blockSize);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, want, null);
      if (n === 0) break;
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      for (const h of hashes) h.update(chunk);
      if (out !== null) {
        try {
          fs.writeSync(out, chunk);
        } catch {
          fs.closeSync(out);
          fs.rmSync(copyTo!, { force: true });
          out = null;
        }
      }
      size += n;
      if (size % blockSize === 0 && sha) prefixes += sha.copy().digest('hex').slice(0, PREFIX_HEX);
      onBytes?.(n);
      // A short read of a regular file means end of file: saves one system call per small file.
      if (n < want) break;
    }
    const res: FileHashes = { size };
    algorithms.forEach((a, i) => {
      res[a] = hashes[i].digest('hex');
    });
    // A prefix at the very end equals the full hash: drop it, and keep none for one-block files.
    if (size % blockSize === 0 && prefixes) prefixes = prefixes.slice(0, -PREFIX_HEX);
    if (prefixes) res.prefixes = prefixes;
    if (out !== null) {
      fs.closeSync(out);
      out = null;
      // Size and mtime as opened: a later reader uses the copy only if the evidence still matches them.
      res.copied = { mtimeMs: st.mtimeMs };
    }
    return res;
  } catch (e) {
    // A read that failed half-way leaves no half copy behind.
    if (out !== null) {
      fs.closeSync(out);
      fs.rmSync(copyTo!, { force: true });
    }
    return { size: 0, error: (e as Error).message };
  } finally {
    fs.closeSync(fd);
  }
}

function kindName(st: fs.Stats): string {
  return st.isDirectory()
    ? 'directory'
    : st.isFIFO()
      ? 'fifo'
      : st.isSocket()
        ? 'socket'
        : st.isCharacterDevice()
          ? 'character device'
          : st.isBlockDevice()
            ? 'block device'
            : 'unknown';
}

/** Compare stored prefixes with freshly computed ones: index of the first block that differs (or the one after the common prefixes). */
export function firstDifferingBlock(stored: string | null | undefined, fresh: string | null | undefined): number {
  const a = stored ?? '';
  const b = fresh ?? '';
  const n = Math.min(a.length, b.length) / PREFIX_HEX;
  for (let k = 0; k < n; k++) {
    if (a.slice(k * PREFIX_HEX, (k + 1) * PREFIX_HEX) !== b.slice(k * PREFIX_HEX, (k + 1) * PREFIX_HEX)) return k;
  }
  // All common prefixes agree: the difference lies in the block after them.
  return n;
}

export interface BatchRequest {
  id: number;
  files: string[];
  /** Where to copy each file while hashing it (null: hash only). */
  copies?: (string | null)[];
  algorithms: HashAlgorithm[];
  blockSize: number;
}
export interface BatchReply {
  id: number;
  results: FileHashes[];
}
export interface ProgressReply {
  progress: number;
}

// Worker side: hash each batch and report bytes read every 64 MiB so the bar moves during large files.
if (!isMainThread && parentPort && (workerData as { role?: string } | null)?.role === 'ios-timeline-hash') {
  const port = parentPort;
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let unreported = 0;
  port.on('message', (req: BatchRequest) => {
    const results = req.files.map((f, i) =>
      hashFileSync(
        f,
        req.algorithms,
        req.blockSize,
        buf,
        (n) => {
          unreported += n;
          if (unreported >= 64 << 20) {
            port.postMessage({ progress: unreported } satisfies ProgressReply);
            unreported = 0;
          }
        },
        req.copies?.[i] ?? undefined,
      ),
    );
    if (unreported) {
      port.postMessage({ progress: unreported } satisfies ProgressReply);
      unreported = 0;
    }
    port.postMessage({ id: req.id, results } satisfies BatchReply);
  });
}
