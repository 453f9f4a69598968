// A tar, tar.gz or zip of a file-system extraction (and a Cellebrite-style CLBX zip: `filesystem*/` plus
// `metadata*/metadata.msgpack`). Indexed in one pass: the archive itself and every member are hashed, and only
// the members extractors need (with their -wal/-shm/-journal) are copied out, each under a numbered name in
// the work folder: a member's name never places a file, so `..`, absolute names and links cannot escape.
// A member asked for later is read again: zip by its central-directory entry, tar by streaming up to it.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { decode as msgpackDecode } from '@msgpack/msgpack';
import { copyHashing, type PayloadLocation, type ReadResult } from '../backup/backup.js';
import type { ManifestEntry } from '../backup/manifest.js';
import { openRegular } from '../backup/safePath.js';
import { FS_MARKER } from './domains.js';
import { SourceError, TreeSource, wantedMatcher, type SourceOptions, type TreeFile } from './tree.js';

const GIB = 1024 ** 3;
/** CLBX metadata members, always copied out (small, and needed to place the tree). */
const CLBX_META = /^metadata[^/]*\/(metadata|filesystem)\.msgpack$/;
const MAX_MSGPACK = 512 * 1024 * 1024;
const DEFAULTS = { maxMemberBytes: 64 * GIB, maxRatio: 1000, ratioFloorBytes: 16 * 1024 * 1024 };
/** Repeated per-member problems named one by one before they are summed up. */
const MAX_NAMED = 50;

export type ArchiveKind = 'tar' | 'tgz' | 'zip';

/** What an archive is, by its first bytes (never by its name). */
export function sniffArchive(file: string): ArchiveKind | null {
  const fd = openRegular(file);
  try {
    const b = Buffer.alloc(512);
    const n = fs.readSync(fd, b, 0, 512, 0);
    if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tgz';
    if (n >= 4 && b.readUInt32LE(0) === 0x04034b50) return 'zip';
    if (n >= 4 && b.readUInt32LE(0) === 0x06054b50) return 'zip'; // an empty zip
    if (n >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** A member name made safe to match on: `./` and leading `/` dropped; `..` and NUL refused. */
export function normalizeMemberName(raw: string): { name: string; refused?: string; note?: string } {
  if (raw.includes('\0')) return { name: raw, refused: `member name ${JSON.stringify(raw)} holds a NUL character; refused, never written` };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { name: raw, refused: `member name ${JSON.stringify(raw)} climbs out with ".."; refused, never written` };
  const name = parts.join('/');
  return raw.startsWith('/') ? { name, note: `absolute member name ${JSON.stringify(raw)} read as ${JSON.stringify(name)}` } : { name };
}

/** Where a link target leads, relative to the archive root (null: outside it). */
function linkTarget(member: string, target: string): string | null {
  if (target.startsWith('/')) return null;
  const parts = member.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!parts.length) return null;
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}

interface Member extends TreeFile {
  /** Position in the archive (0-based), to find it again in a tar stream. */
  ordinal: number;
  /** Normalized member name. */
  name: string;
  /** Working copy made during the index pass. */
  extracted?: string;
  /** An earlier member of the same name: recorded and hashed, never read. */
  superseded?: boolean;
  zipEntry?: yauzl.Entry;
}

export class ArchiveSource extends TreeSource {
  private zip: yauzl.ZipFile | null = null;
  private worker: Worker | null = null;
  private copies = 0;
  private readonly seen = new Map<string, Member>();
  private named = 0;
  private readonly opts: Required<Omit<SourceOptions, 'want' | 'indexOnly'>> & { indexOnly: boolean };
  private readonly wanted: (fsPath: string) => boolean;
  /** Bytes the archive holds once inflated, and the archive bytes read so far (a gzip bomb check). */
  private inflated = 0;

  private constructor(kind: ArchiveKind | 'clbx', root: string, o: SourceOptions) {
    super(kind, root);
    this.opts = { ...DEFAULTS, ...o, indexOnly: !!o.indexOnly };
    this.wanted = wantedMatcher(o.indexOnly ? [] : (o.want ?? []));
  }

  static async open(file: string, o: SourceOptions = {}): Promise<ArchiveSource> {
    const root = path.resolve(file);
    const kind = sniffArchive(root);
    if (!kind) throw new SourceError(`${root} is not a tar, tar.gz or zip archive (by its first bytes)`);
    const s = new ArchiveSource(kind, root, o);
    try {
      if (kind === 'zip') await s.indexZip();
      else await s.indexTar(kind === 'tgz');
      if (kind === 'zip' && s.files.some((f) => CLBX_META.test(f.diskPath))) s.placeClbx();
      else s.placeTree();
      if (kind === 'zip') await s.fetchSmall();
      s.finishIndex();
    } catch (e) {
      s.close();
      throw e instanceof SourceError ? e : new SourceError(`${path.basename(root)}: ${(e as Error).message}`);
    }
    return s;
  }

  private problem(file: string, message: string, refused = false): void {
    if (++this.named <= MAX_NAMED) this.problems.push({ file, message, refused });
    else if (this.named === MAX_NAMED + 1) this.problems.push({ file: path.basename(this.root), message: `more member problems (only the first ${MAX_NAMED} are named)` });
  }

  /** A member found in the index pass: name checks, duplicates, links. Returns it, or null for a folder. */
  private addMember(raw: string, ordinal: number, kind: TreeFile['kind'] | 'directory', size: number, mtime: number | null, mode: number | null, link?: string): Member | null {
    if (kind === 'directory') return null;
    const n = normalizeMemberName(raw);
    const m: Member = { ordinal, name: n.name, diskPath: n.name, fsPath: null, size, mtime, mode, kind, note: n.note };
    if (n.refused) {
      m.refused = n.refused;
      m.diskPath = `${JSON.stringify(raw).slice(1, -1)} (member #${ordinal + 1})`;
      this.problem(m.diskPath, n.refused, true);
    }
    if (kind === 'symlink' && link !== undefined && !m.refused) {
      const to = linkTarget(n.name, link);
      m.note = [m.note, `symbolic link to ${JSON.stringify(link)}; not followed`].filter(Boolean).join('; ');
      if (to === null) this.problem(n.name, `symbolic link to ${JSON.stringify(link)} points outside the archive; not followed`, true);
    }
    const prev = !m.refused ? this.seen.get(n.name) : undefined;
    if (prev) {
      // Like tar itself, the later member wins; the earlier one is still hashed and recorded under its own name.
      prev.diskPath = `${prev.name} (member #${prev.ordinal + 1})`;
      prev.note = [prev.note, `duplicate member name: member #${ordinal + 1} of the same name is the one read`].filter(Boolean).join('; ');
      prev.superseded = true;
      this.problem(n.name, `appears twice in the archive (members #${prev.ordinal + 1} and #${ordinal + 1}); the later one is read, both are hashed`);
    }
    if (!m.refused) this.seen.set(n.name, m);
    this.files.push(m);
    return m;
  }

  /** Candidate tree path of a member before the prefix is known: from its `private/var/` or `System/` on. */
  private candidate(name: string): string | null {
    for (const anchor of ['private/var/', 'System/Library/CoreServices/']) {
      if (name.startsWith(anchor)) return name;
      const i = name.indexOf(`/${anchor}`);
      if (i >= 0) return name.slice(i + 1);
    }
    return null;
  }

  /** Should this member be copied out now? (Always its bytes are hashed, unless only indexing.) */
  private wants(m: Member): boolean {
    if (m.kind !== 'file' || m.refused) return false;
    const c = this.candidate(m.name);
    return c !== null && this.wanted(c);
  }

  private tooBig(m: Member, compressed: number | null): string | null {
    if (m.size > this.opts.maxMemberBytes) return `member is ${m.size} bytes, over the ${this.opts.maxMemberBytes}-byte budget; refused, not inflated`;
    if (compressed !== null && m.size > this.opts.ratioFloorBytes && m.size > this.opts.maxRatio * Math.max(compressed, 1))
      return `member inflates ${Math.round(m.size / Math.max(compressed, 1))}× (${compressed} → ${m.size} bytes), over the ${this.opts.maxRatio}× limit: a zip bomb? refused, not inflated`;
    return null;
  }

  /** Hash a member's bytes (and copy them out when wanted); checks the inflated total against the archive read so far. */
  private async consume(m: Member, stream: Readable, copy: boolean, archiveRead: () => number): Promise<void> {
    const h: Hash | null = this.opts.indexOnly ? null : createHash('sha256');
    const out = copy ? path.join(this.memberDir(), `m${++this.copies}`) : null;
    const fd = out ? fs.openSync(out, 'wx', 0o600) : null;
    let size = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        this.inflated += chunk.length;
        h?.update(chunk);
        if (fd !== null) fs.writeSync(fd, chunk);
        if (this.inflated > this.opts.ratioFloorBytes && this.inflated > this.opts.maxRatio * Math.max(archiveRead(), 1))
          throw new SourceError(
            `${path.basename(this.root)} inflates over ${this.opts.maxRatio}× its size (${this.inflated} bytes from ${archiveRead()}): a compression bomb? stopped`,
          );
      }
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
    if (h) m.sha256 = h.digest('hex');
    if (size !== m.size) m.note = [m.note, `header says ${m.size} bytes, ${size} read`].filter(Boolean).join('; ');
    m.size = size;
    if (out) m.extracted = out;
  }

  private memberDir(): string {
    const d = path.join(this.workDir, 'members');
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  }

  /** Stream the archive once: hash it, index every member, hand each member stream to `onMember`. */
  private async streamTar(
    gz: boolean,
    onMember: (h: tarStream.Header, stream: Readable, ordinal: number, archiveRead: () => number) => Promise<boolean | undefined>,
  ): Promise<void> {
    const fd = openRegular(this.root);
    const input = fs.createReadStream('', { fd, highWaterMark: 1 << 20 });
    let read = 0;
    input.on('data', (c) => {
      read += (c as Buffer).length;
    });
    const extract = tarStream.extract();
    const streams = gz ? [input, zlib.createGunzip(), extract] : [input, extract];
    let failed: Error | null = null;
    const done = (pipeline as (...s: unknown[]) => Promise<void>)(...streams).catch((e: Error) => {
      failed = e;
    });
    let ordinal = 0;
    let stopped = false;
    try {
      for await (const entry of extract) {
        if (stopped) {
          entry.resume();
          continue;
        }
        if ((await onMember(entry.header, entry as unknown as Readable, ordinal++, () => read)) === true) {
          stopped = true;
          input.destroy();
          break;
        }
        entry.resume(); // whatever the handler left unread
      }
    } catch (e) {
      input.destroy();
      await done;
      throw e instanceof SourceError ? e : (failed ?? e);
    }
    if (stopped) return;
    await done;
    if (failed) throw failed;
  }

  private async indexTar(gz: boolean): Promise<void> {
    try {
      // The archive's own hash on a second core while this thread parses and hashes the members.
      const hashing = this.hashArchive();
      await this.streamTar(gz, async (h, stream, ordinal, archiveRead) => {
        const type = h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'symlink' ? 'symlink' : h.type === 'directory' ? 'directory' : 'other';
        const mtime = h.mtime ? Math.floor(h.mtime.getTime() / 1000) : null;
        const m = this.addMember(h.name, ordinal, type, h.size ?? 0, mtime, h.mode ?? null, h.linkname ?? undefined);
        if (!m) return;
        if (h.type === 'link') m.note = [m.note, `hard link to ${JSON.stringify(h.linkname ?? '')}; its bytes are that member's`].filter(Boolean).join('; ');
        const big = m.kind === 'file' && !m.refused ? this.tooBig(m, null) : null;
        if (big) {
          m.refused = big;
          this.problem(m.diskPath, big, true);
        }
        if (m.kind === 'file' && !m.refused) await this.consume(m, stream, this.wants(m), archiveRead);
      });
      const sha = await hashing;
      if (sha) this.topLevelHashes[path.basename(this.root)] = sha;
    } catch (e) {
      if (e instanceof SourceError) throw e;
      throw new SourceError(`${path.basename(this.root)} cannot be read to the end (${describeTarError(e as Error)}); nothing was ingested from it`);
    }
  }

  private async indexZip(): Promise<void> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(this.root, { decodeStrings: false, autoClose: false, validateEntrySizes: true });
    } catch (e) {
      throw new SourceError(`${path.basename(this.root)} is not a readable zip archive (${(e as Error).message})`);
    }
    this.zip = zip;
    // The archive's own hash: one sequential read beside the member reads (the zip is read by its central directory).
    const hashing = this.hashArchive();
    let ordinal = 0;
    for (;;) {
      let entry: yauzl.Entry | null;
      try {
        entry = await nextEntry(zip);
      } catch (e) {
        throw new SourceError(`${path.basename(this.root)}: its central directory is damaged after ${ordinal} members (${(e as Error).message})`);
      }
      if (!entry) break;
      const raw = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const unixMode = (entry.externalFileAttributes >>> 16) & 0o177777;
      const fmt = unixMode & 0o170000;
      const kind = raw.endsWith('/') || fmt === 0o040000 ? 'directory' : fmt === 0o120000 ? 'symlink' : 'file';
      const mtime = safeDate(entry);
      let link: string | undefined;
      if (kind === 'symlink' && entry.uncompressedSize <= 4096 && !entry.isEncrypted()) {
        try {
          link = (await readAll(await openStream(zip, entry, this.root))).toString('utf8');
        } catch {
          /* the target stays unknown */
        }
      }
      const m = this.addMember(raw, ordinal++, kind, entry.uncompressedSize, mtime, unixMode || null, link);
      if (!m) continue;
      m.zipEntry = entry;
      if (m.kind !== 'file' || m.refused) continue;
      const why = entry.isEncrypted() ? 'member is encrypted (zip password); not read' : this.tooBig(m, entry.compressedSize);
      if (why) {
        m.refused = why;
        this.problem(m.diskPath, why, true);
        continue;
      }
      const copy = this.wants(m) || CLBX_META.test(m.name);
      if (this.opts.indexOnly && !copy) continue;
      try {
        await this.consume(m, await openStream(zip, entry, this.root), copy, () => Number.MAX_SAFE_INTEGER);
      } catch (e) {
        m.refused = `cannot be inflated (${(e as Error).message}); not read`;
        delete m.sha256;
        this.problem(m.diskPath, m.refused, true);
      }
    }
    const sha = await hashing;
    if (sha) this.topLevelHashes[path.basename(this.root)] = sha;
  }

  /** The archive's SHA-256, on a worker thread (null for `info`, which only indexes). */
  private hashArchive(): Promise<string | null> {
    if (this.opts.indexOnly) return Promise.resolve(null);
    const { promise, worker } = hashFileInWorker(this.root);
    this.worker = worker;
    promise.catch(() => undefined); // awaited after the member pass; a failure before then must not go unhandled
    return promise;
  }

  /** Find the tree inside the archive: the prefix before the first `private/var/mobile`. */
  private placeTree(): void {
    const marker = this.files.find((f) => !f.refused && (f.diskPath.startsWith(`${FS_MARKER}/`) || f.diskPath.includes(`/${FS_MARKER}/`)));
    if (!marker) {
      throw new SourceError(`${path.basename(this.root)} holds no ${FS_MARKER}/ folder: not a file-system extraction (${this.files.length} members)`);
    }
    const i = marker.diskPath.startsWith(`${FS_MARKER}/`) ? 0 : marker.diskPath.indexOf(`/${FS_MARKER}/`) + 1;
    this.prefix = marker.diskPath.slice(0, i).replace(/\/$/, '');
    let outside = 0;
    for (const f of this.files as Member[]) {
      if (f.refused || f.superseded) continue;
      f.fsPath = !this.prefix ? f.name : f.name.startsWith(`${this.prefix}/`) ? f.name.slice(this.prefix.length + 1) : null;
      if (f.fsPath === null) outside++;
    }
    if (outside)
      this.problems.push({
        file: path.basename(this.root),
        message: `${outside} member(s) lie outside the file-system tree (${this.prefix || 'top'}/${FS_MARKER}): hashed and recorded, not mapped to any domain`,
      });
  }

  /**
   * A CLBX zip: `filesystem{suffix}/` trees, each mounted where its `metadata{suffix}/filesystem.msgpack` says
   * (`/` when absent: the system partition; `/private/var` for the data partition), and `metadata.msgpack`, the
   * authoritative per-file metadata, whose modification times replace the zip's.
   */
  private placeClbx(): void {
    (this as { kind: string }).kind = 'clbx';
    const byName = new Map((this.files as Member[]).map((f) => [f.diskPath, f]));
    const suffixes = new Set<string>();
    for (const f of this.files) {
      const m = /^filesystem([^/]*)\//.exec(f.diskPath);
      if (m) suffixes.add(m[1]);
    }
    let mapped = 0;
    for (const suffix of suffixes) {
      const fsMeta = this.msgpackOf(byName.get(`metadata${suffix}/filesystem.msgpack`));
      const mount = typeof fsMeta?.mount_point === 'string' ? fsMeta.mount_point.replace(/^\/+|\/+$/g, '') : '';
      const top = `filesystem${suffix}/`;
      const perFile = this.msgpackOf(byName.get(`metadata${suffix}/metadata.msgpack`));
      for (const f of this.files as Member[]) {
        if (f.refused || f.superseded || !f.name.startsWith(top)) continue;
        const rel = f.name.slice(top.length);
        f.fsPath = mount ? `${mount}/${rel}` : rel;
        mapped++;
        const meta = perFile?.[rel] ?? perFile?.[`/${rel}`];
        const ns = meta && typeof meta === 'object' ? (meta as Record<string, unknown>).mtime : undefined;
        if (typeof ns === 'bigint' || typeof ns === 'number') {
          f.mtime = Math.floor(Number(ns) / 1e9);
          f.note = [f.note, 'modification time from metadata.msgpack'].filter(Boolean).join('; ');
        }
      }
    }
    if (!(this.files as Member[]).some((f) => f.fsPath?.startsWith(`${FS_MARKER}/`)))
      throw new SourceError(`${path.basename(this.root)} is a CLBX archive without ${FS_MARKER}/ in any of its ${suffixes.size} file system(s)`);
    this.prefix = [...suffixes].map((s) => `filesystem${s}`).join(', ');
    const outside = this.files.length - mapped;
    if (outside)
      this.problems.push({
        file: path.basename(this.root),
        message: `${outside} member(s) lie outside the filesystem*/ folders (CLBX metadata, version…): hashed and recorded, not mapped to any domain`,
      });
  }

  /** A MessagePack dictionary copied out while indexing (CLBX metadata), or null with a named problem. */
  private msgpackOf(f: Member | undefined): Record<string, unknown> | null {
    if (!f?.extracted) return null;
    if (f.size > MAX_MSGPACK) {
      this.problems.push({ file: f.diskPath, message: `${f.size} bytes, over the ${MAX_MSGPACK}-byte budget for CLBX metadata; not decoded (the zip's own times are used)` });
      return null;
    }
    try {
      const v = msgpackDecode(fs.readFileSync(f.extracted), { useBigInt64: true });
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch (e) {
      this.problems.push({ file: f.diskPath, message: `not readable MessagePack (${(e as Error).message}); the zip's own times are used` });
      return null;
    }
  }

  /** Small files the index needs (container metadata, device plists) that were not copied out in the first pass. */
  private async fetchSmall(): Promise<void> {
    const need = wantedMatcher([]);
    for (const m of this.files as Member[]) {
      if (m.extracted || m.refused || m.kind !== 'file' || !m.zipEntry || !this.zip || m.fsPath === null || !need(m.fsPath)) continue;
      const out = path.join(this.memberDir(), `m${++this.copies}`);
      await writeStream(await openStream(this.zip, m.zipEntry, this.root), out, () => undefined);
      m.extracted = out;
    }
  }

  protected readSmall(f: TreeFile): Buffer | null {
    const m = f as Member;
    if (!m.extracted) return null;
    return fs.readFileSync(m.extracted);
  }

  locate(entry: ManifestEntry): PayloadLocation {
    const m = this.fileFor(entry) as Member | undefined;
    if (!m) return { path: null, rel: null, status: 'missing', kind: 'missing', size: 0, note: 'not in the archive' };
    if (m.refused) return { path: null, rel: m.diskPath, status: 'unreadable', kind: 'file', size: 0, note: m.refused };
    if (m.kind !== 'file') return { path: null, rel: m.diskPath, status: 'unreadable', kind: 'symbolic link', size: 0, note: m.note ?? 'not a regular file' };
    // An archive member has no path of its own until it is copied out: the archive is where it lives.
    return { path: m.extracted ?? this.root, rel: m.diskPath, status: 'ok', kind: 'file', size: m.size, note: null };
  }

  async read(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult> {
    const mbfile = this.decode(entry);
    const base: ReadResult = { entry, mbfile, path: null, status: 'missing', size: null, sha256: null, note: null };
    const loc = this.locate(entry);
    const m = this.fileFor(entry) as Member | undefined;
    if (loc.status !== 'ok' || !m) return { ...base, status: loc.status, note: loc.note };
    const dir = dest?.dir ?? fs.mkdtempSync(path.join(this.workDir, 'f-'));
    const out = path.join(dir, dest?.name ?? 'payload');
    const hash = createHash('sha256');
    let size = 0;
    const onChunk = (c: Buffer) => {
      hash.update(c);
      size += c.length;
    };
    try {
      if (m.extracted) await copyHashing(m.extracted, out, onChunk);
      else if (m.zipEntry && this.zip) await writeStream(await openStream(this.zip, m.zipEntry, this.root), out, onChunk);
      else await this.fromTar(m, out, onChunk);
      const sha256 = hash.digest('hex');
      const note = m.sha256 && m.sha256 !== sha256 ? `member ${m.diskPath} hashed ${m.sha256} when indexed but ${sha256} now` : (m.note ?? null);
      return { ...base, path: out, status: 'ok', size, sha256, note };
    } catch (e) {
      return { ...base, status: 'unreadable', note: `${m.diskPath}: ${(e as Error).message}` };
    }
  }

  /** A member not copied out in the index pass: stream the tar again up to it. */
  private async fromTar(m: Member, out: string, onChunk: (c: Buffer) => void): Promise<void> {
    let found = false;
    await this.streamTar(this.kind === 'tgz', async (_h, stream, ordinal) => {
      if (ordinal !== m.ordinal) return;
      await writeStream(stream, out, onChunk);
      found = true;
      return true;
    });
    if (!found) throw new SourceError('member not found on a second read of the archive');
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
    this.zip?.close();
    this.zip = null;
    super.close();
  }
}

function describeTarError(e: Error): string {
  const msg = e.message;
  if (/unexpected end of (data|file)/i.test(msg)) return 'truncated: it ends in the middle of a member';
  return msg;
}

function safeDate(entry: yauzl.Entry): number | null {
  try {
    const t = entry.getLastModDate().getTime();
    return Number.isFinite(t) ? Math.floor(t / 1000) : null;
  } catch {
    return null;
  }
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.removeListener('entry', onEntry);
      zip.removeListener('end', onEnd);
      zip.removeListener('error', onError);
    };
    const onEntry = (e: yauzl.Entry) => {
      cleanup();
      resolve(e);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    zip.once('entry', onEntry);
    zip.once('end', onEnd);
    zip.once('error', onError);
    zip.readEntry();
  });
}

/** Members above this size are inflated by our own zlib stream with 1 MiB chunks (see openStream). */
const BIG_MEMBER = 1 << 20;

/**
 * A member's bytes. yauzl inflates with zlib's default 16 KiB chunks, one thread-pool round trip each: two 64 MiB
 * movies in a 155 MB zip left the main thread idle 5.8 s of a 10 s ingest. Large deflated members are read raw and
 * inflated here with 1 MiB chunks instead, their size checked against the central directory as yauzl would.
 */
function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry, archive: string): Promise<Readable> {
  const ours = (entry.compressionMethod === 8 || entry.compressionMethod === 0) && entry.uncompressedSize > BIG_MEMBER;
  if (!ours) return new Promise((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
  // Where the member's data starts (after its local header), then one 1 MiB-buffered read of exactly its bytes.
  return new Promise((resolve, reject) =>
    zip.readLocalFileHeader(entry, { minimal: true }, (err, header) => {
      if (err) return reject(err);
      const start = header.fileDataStart;
      const raw = fs.createReadStream(archive, { start, end: start + entry.compressedSize - 1, highWaterMark: 1 << 20 });
      if (entry.compressionMethod === 0) return resolve(Readable.from(sizeChecked(raw, entry.uncompressedSize)));
      const inflate = zlib.createInflateRaw({ chunkSize: 1 << 20 });
      raw.on('error', (e) => inflate.destroy(e));
      resolve(Readable.from(sizeChecked(raw.pipe(inflate), entry.uncompressedSize)));
    }),
  );
}

/** The inflated bytes of a member, failing as soon as they exceed, or end short of, the size its header gives. */
async function* sizeChecked(s: Readable, expected: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > expected) throw new Error(`too many bytes in the stream: expected ${expected}, got at least ${n}`);
    yield c;
  }
  if (n !== expected) throw new Error(`too few bytes in the stream: expected ${expected}, got ${n}`);
}

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

async function writeStream(s: Readable, out: string, onChunk: (c: Buffer) => void): Promise<void> {
  const fd = fs.openSync(out, 'wx', 0o600);
  try {
    for await (const c of s as AsyncIterable<Buffer>) {
      onChunk(c);
      fs.writeSync(fd, c);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** SHA-256 of a regular file, read and hashed on a worker thread (a second core beside the member pass). */
function hashFileInWorker(p: string): { promise: Promise<string>; worker: Worker } {
  const worker = new Worker(HASH_WORKER, { eval: true, workerData: p });
  const promise = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { sha256?: string; error?: string }) => (m.sha256 ? resolve(m.sha256) : reject(new SourceError(m.error ?? 'hash failed'))));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new SourceError(`archive hash worker exited ${code}`)));
  });
  return { promise, worker };
}

// Opened O_NONBLOCK and checked with fstat, as openRegular does: never blocks on a FIFO swapped in.
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
try {
  const fd = fs.openSync(workerData, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  if (!fs.fstatSync(fd).isFile()) throw new Error(workerData + ' is not a regular file');
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
  }
  fs.closeSync(fd);
  parentPort.postMessage({ sha256: h.digest('hex') });
} catch (e) {
  parentPort.postMessage({ error: e.message });
}
`;
