// Every read of the evidence goes through resolveInside: a path is resolved to its real location first and
// refused when that leaves the evidence root (a link anywhere on the way, the shard folder included) or when it
// is not a regular file (a FIFO would block a read forever, a device could be endless). A link that stays
// inside the root is followed, and says so, so provenance is never silently rewritten.
import fs from 'node:fs';
import path from 'node:path';

export type FileKind = 'file' | 'directory' | 'symbolic link' | 'fifo' | 'socket' | 'character device' | 'block device' | 'unknown';

export function kindOf(st: fs.Stats): FileKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'unknown';
}

export interface Resolved {
  /** As asked, '/'-separated, relative to the root. */
  rel: string;
  /** Where to read it: the real path (links resolved). null when absent or refused. */
  path: string | null;
  /** 'missing' when nothing is there (a dangling link counts as a refusal, not as missing). */
  kind: FileKind | 'missing';
  size: number;
  /** A link on the way was followed and stayed inside the root: the real path, relative to the root. */
  linkedTo: string | null;
  /** Why it is not read (leaves the root, not a regular file, bad name); null when it may be read. */
  refused: string | null;
}

const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (!r) {
    r = fs.realpathSync.native(root);
    realRoots.set(root, r);
  }
  return r;
}

/** Is `p` the root or below it? (Both real paths.) */
export function isInside(rootReal: string, p: string): boolean {
  return p === rootReal || p.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep);
}

/**
 * Resolve `rel` under the evidence `root`. Never throws for what is on disk; the caller records `refused` as a
 * warning naming the file. Only `kind === 'file' && !refused` may be opened (with openRegular).
 */
export function resolveInside(root: string, rel: string): Resolved {
  const out: Resolved = { rel, path: null, kind: 'missing', size: 0, linkedTo: null, refused: null };
  if (rel.includes('\0') || path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) {
    out.kind = 'unknown';
    out.refused = `${JSON.stringify(rel)} is not a plain path inside the backup folder; refused`;
    return out;
  }
  const rootReal = realRoot(root);
  const abs = path.join(root, rel);
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(abs);
  } catch {
    // Absent, or a parent on the way is a dangling link / not a folder: nothing there to read.
    return out;
  }
  let real: string;
  try {
    real = fs.realpathSync.native(abs);
  } catch (e) {
    out.kind = kindOf(lst);
    out.refused = `${rel} is a symbolic link that leads nowhere (${(e as NodeJS.ErrnoException).code ?? 'unresolvable'}); refused`;
    return out;
  }
  if (!isInside(rootReal, real)) {
    out.kind = 'symbolic link';
    out.refused = `${rel} leads out of the backup folder (to ${real}) through a symbolic link; refused, not read`;
    return out;
  }
  const expected = path.join(rootReal, rel);
  if (real !== expected) out.linkedTo = path.relative(rootReal, real).split(path.sep).join('/');
  const st = real === expected && !lst.isSymbolicLink() ? lst : fs.statSync(real); // no link on the way: lstat said it all
  out.kind = kindOf(st);
  out.size = st.size;
  if (out.kind !== 'file') {
    out.refused = `${rel} is not a regular file (${out.kind})${out.linkedTo ? ` (through a link to ${out.linkedTo})` : ''}; not read`;
    return out;
  }
  out.path = real;
  return out;
}

/** The note a files row carries for a link that was followed inside the root. */
export function linkNote(r: Resolved): string | null {
  return r.linkedTo ? `symbolic link inside the backup folder followed: ${r.rel} → ${r.linkedTo}` : null;
}

export class RefusedError extends Error {}

/**
 * Open for reading without ever blocking: O_NONBLOCK makes opening a FIFO return at once, and the fstat check
 * refuses anything that is not a regular file even if the path was swapped after resolveInside looked at it.
 */
export function openRegular(p: string): number {
  const fd = fs.openSync(p, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new RefusedError(`${p} is not a regular file (${kindOf(st)}); not read`);
  }
  return fd;
}

/** Read a whole regular file (see openRegular). */
export function readRegular(p: string): Buffer {
  const fd = openRegular(p);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `n` bytes of a regular file (see openRegular). */
export function readHead(p: string, n: number): Buffer {
  const fd = openRegular(p);
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, fs.readSync(fd, b, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Resolve and read one evidence file; throws RefusedError naming the file when it may not be read. */
export function readInside(root: string, rel: string): { data: Buffer; resolved: Resolved } {
  const r = resolveInside(root, rel);
  if (r.refused) throw new RefusedError(r.refused);
  if (!r.path) throw new RefusedError(`${rel} is missing`);
  return { data: readRegular(r.path), resolved: r };
}
