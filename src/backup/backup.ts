// A backup folder, opened read-only. Nothing here ever writes under the backup root: every file an
// extractor needs is copied (or decrypted) into a private temp folder first, hashed on the way.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { makeWorkDir } from '../workdir.js';
import { parsePlist, isDict, PlistError, type PlistValue } from '../formats/plist.js';
import { readManifestDb, decodeMBFile, FILE_ID_RE, type ManifestEntry, type MBFile } from './manifest.js';
import { resolveInside, linkNote, readRegular, readHead, type FileKind } from './safePath.js';
import { inspectWal, walWarning, sqlitePageSize, type WalCheck } from './wal.js';
import { parseMbdb, mbdbEntries, MbdbError } from './mbdb.js';
import type { EvidenceSource } from './source.js';

export class BackupError extends Error {}

export interface DeviceInfo {
  deviceName: string | null;
  productType: string | null;
  productVersion: string | null;
  buildVersion: string | null;
  serialNumber: string | null;
  udid: string | null;
  imei: string | null;
  phoneNumber: string | null;
  lastBackupDate: Date | null;
  iTunesVersion: string | null;
  installedApplications: number | null;
}

export interface StatusInfo {
  snapshotState: string | null;
  isFullBackup: boolean | null;
  date: Date | null;
  version: string | null;
}

/** A problem found while opening: shown by `info`, stored as a warning by `ingest`. */
export interface OpenProblem {
  file: string;
  message: string;
  /** The file was not read: a link out of the backup folder, or not a regular file (an evidence problem). */
  refused?: boolean;
}

/** Where a payload sits on disk, checked by resolveInside. */
export interface PayloadLocation {
  /** Real path to read (null when missing or refused). */
  path: string | null;
  /** Relative to the backup root, '/'-separated, as listed on disk (before following a link). */
  rel: string | null;
  status: 'ok' | 'missing' | 'unreadable';
  kind: FileKind | 'missing';
  size: number;
  /** Why it is refused, or that a link inside the backup was followed. */
  note: string | null;
}

/** Two Manifest.db rows for one (domain, relativePath): which one is read, and which is only recorded. */
export interface DuplicateRow {
  kept: ManifestEntry;
  dropped: ManifestEntry;
  reason: string;
}

/** Caps on repeated per-row problems, so a hostile manifest cannot flood the warnings. */
const MAX_NAMED = 50;

export interface ReadResult {
  entry: ManifestEntry;
  mbfile: MBFile | null;
  /** Path of the working copy (absent when the payload could not be read). */
  path: string | null;
  status: 'ok' | 'missing' | 'unreadable' | 'decrypt-failed';
  size: number | null;
  sha256: string | null;
  note: string | null;
  /** For a `-wal` payload: what SQLite will replay from it and what it will drop. */
  wal?: WalCheck;
}

/** Turns an encrypted payload into plaintext; supplied by the encryption layer for encrypted backups. */
export interface Decryptor {
  decryptManifest(data: Buffer): Buffer;
  decryptFile(src: string, dst: string, mb: MBFile, onCipherChunk: (chunk: Buffer) => void): Promise<{ note: string | null }>;
}

export interface OpenOptions {
  /** Supplies a Decryptor once the backup is known to be encrypted (password prompt, key file…). */
  unlock?: (manifestPlist: Record<string, PlistValue>) => Promise<Decryptor>;
  /** Open an encrypted backup without a key: plists only, no manifest entries (for `info`). */
  allowLocked?: boolean;
  /** A password or key file was given: worth a note when the backup turns out not to need one. */
  keyGiven?: boolean;
}

const HEADER = 'SQLite format 3\0';

export function fileIdFor(domain: string, relativePath: string): string {
  return createHash('sha1').update(`${domain}-${relativePath}`, 'utf8').digest('hex');
}

/** Locate the backup root: the folder itself, or its single child that looks like a backup (a UDID folder). */
export function findBackupRoot(dir: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new BackupError(`${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new BackupError(`${dir} is not a folder (a backup is a folder holding Manifest.db)`);
  const looksLikeBackup = (d: string) => ['Manifest.db', 'Manifest.plist', 'Manifest.mbdb'].some((f) => fs.existsSync(path.join(d, f)));
  if (looksLikeBackup(dir)) return dir;
  const children = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && looksLikeBackup(path.join(dir, d.name)));
  if (children.length === 1) return path.join(dir, children[0].name);
  if (children.length > 1) throw new BackupError(`${dir} holds ${children.length} backups; name one of them: ${children.map((c) => c.name).join(', ')}`);
  throw new BackupError(`${dir} is not an iPhone backup: no Manifest.db, Manifest.plist or Manifest.mbdb in it`);
}

function str(v: PlistValue | undefined): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : null;
}

export class Backup implements EvidenceSource {
  readonly kind = 'backup' as const;
  readonly problems: OpenProblem[] = [];
  info: DeviceInfo | null = null;
  status: StatusInfo | null = null;
  manifestPlist: Record<string, PlistValue> | null = null;
  encrypted = false;
  /** Encrypted and opened without a key: only the plists were read. */
  locked = false;
  /** The file that lists the payloads: Manifest.db (iOS 10+) or Manifest.mbdb (iOS 5–9). */
  manifestName: 'Manifest.db' | 'Manifest.mbdb' = 'Manifest.db';
  /** SHA-256 of the top-level files as they are on disk (evidence, not the decrypted copies). */
  readonly topLevelHashes: Record<string, string> = {};
  private entries: ManifestEntry[] = [];
  private byKey = new Map<string, ManifestEntry>();
  /** Duplicate Files rows found while opening (the kept row is the one get/find return). */
  readonly duplicates: DuplicateRow[] = [];
  private decryptor: Decryptor | null = null;
  readonly workDir: string;
  private copyCounter = 0;
  /** Time spent in read() (copies and decryption) and bytes copied: the ingest reports it as a phase. */
  readonly readStats = { seconds: 0, bytes: 0, reused: 0 };
  /** Copies the evidence pass made while hashing (plain backups): domain/path → copy, its hash, and the source as hashed. */
  private readonly precopies = new Map<string, { path: string; source: string; sha256: string; size: number; mtimeMs: number }>();

  private constructor(readonly root: string) {
    this.workDir = makeWorkDir(); // mode 0700, owner file: removed on exit, interruption, or by the next run
  }

  static async open(dir: string, opts: OpenOptions = {}): Promise<Backup> {
    const root = findBackupRoot(path.resolve(dir));
    const b = new Backup(root);
    try {
      await b.load(opts);
    } catch (e) {
      b.close();
      throw e;
    }
    return b;
  }

  private readTopPlist(name: string): Record<string, PlistValue> | null {
    const r = resolveInside(this.root, name);
    if (r.refused) {
      this.problems.push({ file: name, message: r.refused, refused: true });
      return null;
    }
    if (!r.path) {
      this.problems.push({ file: name, message: `${name} is missing` });
      return null;
    }
    if (r.linkedTo) this.problems.push({ file: name, message: linkNote(r)! });
    try {
      const data = readRegular(r.path);
      this.topLevelHashes[name] = createHash('sha256').update(data).digest('hex');
      const v = parsePlist(data, name);
      if (!isDict(v)) throw new PlistError(`${name} does not hold a dictionary`);
      return v;
    } catch (e) {
      this.problems.push({ file: name, message: (e as Error).message });
      return null;
    }
  }

  private async load(opts: OpenOptions): Promise<void> {
    const info = this.readTopPlist('Info.plist');
    if (info) {
      this.info = {
        deviceName: str(info['Device Name']) ?? str(info['Display Name']),
        productType: str(info['Product Type']),
        productVersion: str(info['Product Version']),
        buildVersion: str(info['Build Version']),
        serialNumber: str(info['Serial Number']),
        udid: str(info['Unique Identifier']) ?? str(info['Target Identifier']),
        imei: str(info['IMEI']),
        phoneNumber: str(info['Phone Number']),
        lastBackupDate: info['Last Backup Date'] instanceof Date ? (info['Last Backup Date'] as Date) : null,
        iTunesVersion: str(info['iTunes Version']),
        installedApplications: Array.isArray(info['Installed Applications']) ? (info['Installed Applications'] as unknown[]).length : null,
      };
    }
    this.manifestPlist = this.readTopPlist('Manifest.plist');
    const status = this.readTopPlist('Status.plist');
    if (status) {
      this.status = {
        snapshotState: str(status['SnapshotState']),
        isFullBackup: typeof status['IsFullBackup'] === 'boolean' ? (status['IsFullBackup'] as boolean) : null,
        date: status['Date'] instanceof Date ? (status['Date'] as Date) : null,
        version: str(status['Version']),
      };
      if (this.status.snapshotState && this.status.snapshotState !== 'finished') {
        this.problems.push({ file: 'Status.plist', message: `SnapshotState is "${this.status.snapshotState}", not "finished": the backup may be incomplete` });
      }
    }
    // Fall back to Manifest.plist's Lockdown for the iOS version when Info.plist is absent.
    const lockdown = this.manifestPlist?.['Lockdown'];
    if (!this.info && isDict(lockdown)) {
      this.info = {
        deviceName: str(lockdown['DeviceName']),
        productType: str(lockdown['ProductType']),
        productVersion: str(lockdown['ProductVersion']),
        buildVersion: str(lockdown['BuildVersion']),
        serialNumber: str(lockdown['SerialNumber']),
        udid: str(lockdown['UniqueDeviceID']),
        imei: null,
        phoneNumber: null,
        lastBackupDate: null,
        iTunesVersion: null,
        installedApplications: null,
      };
    }

    const manifest = resolveInside(this.root, 'Manifest.db');
    if (manifest.refused) throw new BackupError(`Manifest.db: ${manifest.refused}`);
    if (!manifest.path) {
      if (resolveInside(this.root, 'Manifest.mbdb').kind !== 'missing') return this.loadMbdb(opts);
      throw new BackupError(`Manifest.db is missing from ${this.root}`);
    }
    if (manifest.linkedTo) this.problems.push({ file: 'Manifest.db', message: linkNote(manifest)! });
    if (resolveInside(this.root, 'Manifest.mbdb').kind !== 'missing') {
      this.problems.push({ file: 'Manifest.mbdb', message: 'also present (left from a pre-iOS 10 backup?): not read, Manifest.db lists the files' });
    }
    const raw = readRegular(manifest.path);
    this.topLevelHashes['Manifest.db'] = createHash('sha256').update(raw).digest('hex');
    const flagged = this.manifestPlist?.['IsEncrypted'] === true;
    const isSqlite = raw.subarray(0, 16).toString('latin1') === HEADER;
    let plain: Buffer = raw;
    if (!isSqlite && flagged) {
      this.encrypted = true;
      if (!opts.unlock && opts.allowLocked) {
        this.locked = true;
        return;
      }
      if (!opts.unlock) throw new BackupError('this backup is encrypted: give the backup password (--password, IOS_TIMELINE_PASSWORD or the prompt)');
      this.decryptor = await opts.unlock(this.manifestPlist!);
      plain = this.decryptor.decryptManifest(raw);
      if (plain.subarray(0, 16).toString('latin1') !== HEADER) throw new BackupError('Manifest.db did not decrypt to an SQLite database: the key is wrong or the file is damaged');
    } else if (!isSqlite) {
      if (raw.length === 0) throw new BackupError('Manifest.db is empty');
      throw new BackupError('Manifest.db is not an SQLite database (and Manifest.plist does not say the backup is encrypted)');
    } else if (flagged && this.manifestPlist?.['BackupKeyBag'] && !this.manifestPlist['ManifestKey']) {
      // iOS 10.0-10.1: encrypted payloads, but Manifest.db itself is plain (no ManifestKey yet).
      this.encrypted = true;
      if (opts.unlock) this.decryptor = await opts.unlock(this.manifestPlist);
      else if (!opts.allowLocked) throw new BackupError('this backup is encrypted: give the backup password (--password, IOS_TIMELINE_PASSWORD or the prompt)');
    } else if (opts.keyGiven && !flagged) {
      this.problems.push({ file: 'Manifest.plist', message: 'a password or key file was given, but this backup is not encrypted: it was not used' });
    } else if (flagged) {
      this.problems.push({ file: 'Manifest.plist', message: 'IsEncrypted is true but Manifest.db is plain SQLite; reading it as unencrypted' });
    }
    // Copy to the work dir: Manifest.db is often in WAL mode, and an open would create -wal/-shm beside the evidence.
    const copy = path.join(this.workDir, 'Manifest.db');
    await fsp.writeFile(copy, plain);
    for (const side of ['-wal', '-shm']) {
      const name = `Manifest.db${side}`;
      const s = resolveInside(this.root, name);
      if (s.refused) {
        this.problems.push({ file: name, message: s.refused, refused: true });
        continue;
      }
      if (!s.path) continue;
      // An encrypted backup's sidecar would be ciphertext, or stale beside the re-encrypted database: never mix it in.
      if (this.encrypted) this.problems.push({ file: name, message: 'present beside an encrypted Manifest.db; not used' });
      else await fsp.writeFile(copy + side, readRegular(s.path));
    }
    this.entries = readManifestDb(copy);
    this.indexEntries();
  }

  /**
   * iOS 5–9: Manifest.mbdb lists the files; it is never encrypted, even in an encrypted backup, whose per-file keys
   * sit in the records and whose class keys come from Manifest.plist's BackupKeyBag (no ManifestKey).
   */
  private async loadMbdb(opts: OpenOptions): Promise<void> {
    const r = resolveInside(this.root, 'Manifest.mbdb');
    if (r.refused) throw new BackupError(`Manifest.mbdb: ${r.refused}`);
    if (!r.path) throw new BackupError(`Manifest.mbdb is missing from ${this.root}`);
    if (r.linkedTo) this.problems.push({ file: 'Manifest.mbdb', message: linkNote(r)! });
    this.manifestName = 'Manifest.mbdb';
    const raw = readRegular(r.path);
    this.topLevelHashes['Manifest.mbdb'] = createHash('sha256').update(raw).digest('hex');
    let parsed: ReturnType<typeof parseMbdb>;
    try {
      parsed = parseMbdb(raw);
    } catch (e) {
      if (e instanceof MbdbError) throw new BackupError(e.message);
      throw e;
    }
    if (parsed.problem) this.problems.push({ file: 'Manifest.mbdb', message: parsed.problem });
    if (this.manifestPlist?.['IsEncrypted'] === true) {
      this.encrypted = true;
      // Locked (no key, for `info`): the file list is still read, since Manifest.mbdb is plain; payloads are not.
      if (opts.unlock) this.decryptor = await opts.unlock(this.manifestPlist);
      else if (opts.allowLocked) this.locked = true;
      else throw new BackupError('this backup is encrypted: give the backup password (--password, IOS_TIMELINE_PASSWORD or the prompt)');
    } else if (opts.keyGiven) {
      this.problems.push({ file: 'Manifest.plist', message: 'a password or key file was given, but this backup is not encrypted: it was not used' });
    }
    this.entries = mbdbEntries(parsed.records);
    this.indexEntries();
  }

  /** Build the (domain, relativePath) index; flag duplicate rows and paths that try to climb out. */
  private indexEntries(): void {
    let badPaths = 0;
    for (const e of this.entries) {
      const bad = e.relativePath.includes('\0')
        ? 'a NUL character'
        : e.relativePath.startsWith('/')
          ? 'an absolute path'
          : e.relativePath.split('/').includes('..')
            ? 'a "../" component'
            : null;
      if (bad && ++badPaths <= MAX_NAMED) {
        this.problems.push({
          file: shownPath(e),
          message: `${this.manifestName} row ${e.fileID} has ${bad} in its relativePath; the payload is found by fileID only, the path is never used to place a file`,
        });
      }
      const key = `${e.domain}\u0000${e.relativePath}`;
      const prev = this.byKey.get(key);
      if (!prev) {
        this.byKey.set(key, e);
        continue;
      }
      const dup = this.pickDuplicate(prev, e);
      this.byKey.set(key, dup.kept);
      this.duplicates.push(dup);
      if (this.duplicates.length <= MAX_NAMED) {
        this.problems.push({
          file: shownPath(e),
          message: `listed twice in ${this.manifestName}, with fileIDs ${prev.fileID} and ${e.fileID}: using ${dup.kept.fileID} (${dup.reason}); ${dup.dropped.fileID} is recorded but not read`,
        });
      }
    }
    if (badPaths > MAX_NAMED)
      this.problems.push({
        file: this.manifestName,
        message: `${badPaths - MAX_NAMED} more rows have "../", NUL or absolute relativePaths (only the first ${MAX_NAMED} are named)`,
      });
    if (this.duplicates.length > MAX_NAMED)
      this.problems.push({
        file: this.manifestName,
        message: `${this.duplicates.length - MAX_NAMED} more duplicate (domain, relativePath) rows (only the first ${MAX_NAMED} are named)`,
      });
  }

  /** Of two rows for one path, keep the one whose payload can be read, then the one whose fileID is the path's SHA-1; else the first. */
  private pickDuplicate(a: ManifestEntry, b: ManifestEntry): DuplicateRow {
    const readable = (e: ManifestEntry) => e.flags === 1 && this.locate(e).status === 'ok';
    const rightId = (e: ManifestEntry) => e.fileID === fileIdFor(e.domain, e.relativePath);
    if (readable(a) !== readable(b)) {
      const [kept, dropped] = readable(a) ? [a, b] : [b, a];
      return { kept, dropped, reason: "its payload is present and readable, the other's is not" };
    }
    if (rightId(a) !== rightId(b)) {
      const [kept, dropped] = rightId(a) ? [a, b] : [b, a];
      return { kept, dropped, reason: 'its fileID is the SHA-1 of domain-relativePath' };
    }
    return { kept: a, dropped: b, reason: 'the first row; neither is better' };
  }

  /** Is this row the one get()/find() return for its path (false for the losing row of a duplicate)? */
  isCurrent(entry: ManifestEntry): boolean {
    return this.byKey.get(`${entry.domain}\u0000${entry.relativePath}`) === entry;
  }

  get iosVersion(): string | null {
    return this.info?.productVersion ?? null;
  }

  /** Every Files row (files, folders, symlinks). */
  allEntries(): readonly ManifestEntry[] {
    return this.entries;
  }

  get(domain: string, relativePath: string): ManifestEntry | undefined {
    return this.byKey.get(`${domain}\u0000${relativePath}`);
  }

  /** Find regular files by domain and path; `*` matches within a path segment, `**` across segments. */
  find(domain: string, pattern: string): ManifestEntry[] {
    if (!pattern.includes('*')) {
      const e = this.get(domain, pattern);
      return e && e.flags === 1 ? [e] : [];
    }
    const re = globToRegExp(pattern);
    return this.entries.filter((e) => e.flags === 1 && e.domain === domain && re.test(e.relativePath) && this.isCurrent(e));
  }

  decode(entry: ManifestEntry): MBFile | null {
    if (entry.mbfile) return entry.mbfile;
    if (!entry.blob) return null;
    try {
      return decodeMBFile(entry.blob);
    } catch {
      return null;
    }
  }

  /** Why a row's MBFile blob cannot be decoded (null when it decodes or there is none). */
  decodeProblem(entry: ManifestEntry): string | null {
    if (!entry.blob) return null;
    try {
      decodeMBFile(entry.blob);
      return null;
    } catch (e) {
      return `its MBFile record in Manifest.db cannot be decoded (${(e as Error).message}): size, times and key unknown`;
    }
  }

  /**
   * Where a payload lives: `<id[0:2]>/<id>`, else `<id>` (flat, older layouts). Every path goes through resolveInside:
   * a link out of the backup (the shard folder included) or anything but a regular file is refused, with its reason.
   */
  locate(entry: ManifestEntry): PayloadLocation {
    if (!FILE_ID_RE.test(entry.fileID)) {
      return {
        path: null,
        rel: null,
        status: 'unreadable',
        kind: 'missing',
        size: 0,
        note: `invalid fileID ${JSON.stringify(entry.fileID.slice(0, 60))} for ${entry.domain}/${entry.relativePath}`,
      };
    }
    for (const rel of [`${entry.fileID.slice(0, 2)}/${entry.fileID}`, entry.fileID]) {
      const r = resolveInside(this.root, rel);
      if (r.refused) return { path: null, rel, status: 'unreadable', kind: r.kind, size: 0, note: r.refused };
      if (r.path) return { path: r.path, rel, status: 'ok', kind: r.kind, size: r.size, note: linkNote(r) };
    }
    return { path: null, rel: null, status: 'missing', kind: 'missing', size: 0, note: `listed in ${this.manifestName} but not present in the backup folder` };
  }

  /** Where a payload lives (null when absent); throws BackupError when it is refused (see locate). */
  payloadPath(entry: ManifestEntry): string | null {
    const l = this.locate(entry);
    if (l.status === 'unreadable') throw new BackupError(l.note ?? 'refused');
    return l.path;
  }

  /**
   * Copy (or decrypt) one payload into the work folder, hashing the evidence bytes on the way.
   * `dest` names the copy inside a fresh private folder, so siblings (-wal, -shm) can sit beside it.
   */
  async read(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult> {
    const t0 = performance.now();
    const r = await this.readTimed(entry, dest);
    this.readStats.seconds += (performance.now() - t0) / 1000;
    this.readStats.bytes += r.size ?? 0;
    return r;
  }

  /** A fresh path in the work folder where the evidence pass may copy a payload while hashing it. */
  precopyPath(): string {
    return path.join(fs.mkdtempSync(path.join(this.workDir, 'pass-')), 'payload');
  }

  /**
   * The evidence pass copied `source` (the payload of domain/relativePath) to `copy` while hashing it: read()
   * hands that copy and hash to the extractor instead of reading and hashing the evidence a second time.
   */
  adoptPrecopy(domain: string, relativePath: string, p: { path: string; source: string; sha256: string; size: number; mtimeMs: number }): void {
    if (this.encrypted) return;
    this.precopies.set(`${domain}\u0000${relativePath}`, p);
  }

  /** The pass's copy of this payload, if the evidence still has the size and mtime it had when hashed. */
  private takePrecopy(entry: ManifestEntry, src: string): { path: string; sha256: string; size: number } | null {
    const key = `${entry.domain}\u0000${entry.relativePath}`;
    const pre = this.precopies.get(key);
    if (!pre) return null;
    this.precopies.delete(key);
    try {
      const st = fs.statSync(src);
      if (pre.source === src && st.isFile() && st.size === pre.size && st.mtimeMs === pre.mtimeMs && fs.existsSync(pre.path)) return pre;
    } catch {
      /* gone: read it the ordinary way, which reports it */
    }
    fs.rmSync(pre.path, { force: true });
    return null;
  }

  private async readTimed(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult> {
    const mbfile = this.decode(entry);
    const base: ReadResult = { entry, mbfile, path: null, status: 'missing', size: null, sha256: null, note: null };
    const loc = this.locate(entry);
    if (loc.status !== 'ok' || !loc.path) return { ...base, status: loc.status, note: loc.note };
    const src = loc.path;
    // Notes that hold whatever happens next: a followed link, an undecodable MBFile.
    const notes = [loc.note, mbfile ? null : this.decodeProblem(entry)].filter((n): n is string => !!n);
    const withNotes = (n: string | null) => [...notes, ...(n ? [n] : [])].join('; ') || null;
    const dir = dest?.dir ?? fs.mkdtempSync(path.join(this.workDir, `f${++this.copyCounter}-`));
    const out = path.join(dir, dest?.name ?? 'payload');
    const hash = createHash('sha256');
    let size = 0;
    try {
      if (this.encrypted && mbfile?.encryptionKey) {
        if (!this.decryptor) throw new BackupError('encrypted payload, and no password or key file was given');
        try {
          const r = await this.decryptor.decryptFile(src, out, mbfile, (c) => {
            hash.update(c);
            size += c.length;
          });
          return this.checkWal({ ...base, path: out, status: 'ok', size, sha256: hash.digest('hex'), note: withNotes(r.note) });
        } catch (e) {
          // The decryptor reads the whole payload through the hash even when it cannot decrypt it: keep that hash.
          const whole = size > 0 && size === fs.statSync(src).size;
          return { ...base, status: 'decrypt-failed', size: whole ? size : null, sha256: whole ? hash.digest('hex') : null, note: withNotes((e as Error).message) };
        }
      }
      // The evidence pass already copied these bytes while hashing them: move the copy in, keep its hash.
      const pre = this.takePrecopy(entry, src);
      if (pre) {
        fs.renameSync(pre.path, out);
        this.readStats.reused++;
        const note = mbfile?.size != null && mbfile.size !== pre.size ? `size on disk ${pre.size} differs from the manifest's ${mbfile.size}` : null;
        return this.checkWal({ ...base, path: out, status: 'ok', size: pre.size, sha256: pre.sha256, note: withNotes(note) });
      }
      await copyHashing(src, out, (c) => {
        hash.update(c);
        size += c.length;
      });
      const note = mbfile?.size != null && mbfile.size !== size ? `size on disk ${size} differs from the manifest's ${mbfile.size}` : null;
      return this.checkWal({ ...base, path: out, status: 'ok', size, sha256: hash.digest('hex'), note: withNotes(note) });
    } catch (e) {
      return { ...base, status: 'unreadable', note: withNotes((e as Error).message) };
    }
  }

  /**
   * A `-wal` copy: count the frames SQLite will drop. For a plain backup the evidence pass already warns about
   * them (evidencePass); an encrypted WAL can only be checked here, after decryption, so the note carries it.
   */
  private checkWal(r: ReadResult): ReadResult {
    if (!r.path || !r.entry.relativePath.endsWith('-wal')) return r;
    try {
      const main = path.join(path.dirname(r.path), path.basename(r.path).replace(/-wal$/, ''));
      let head: Buffer | null = null;
      try {
        head = fs.existsSync(main) ? readHead(main, 100) : null;
      } catch {
        /* no hint */
      }
      const wal = inspectWal(r.path, head ? sqlitePageSize(head) : null);
      const w = walWarning(`${r.entry.domain}/${r.entry.relativePath}`, wal);
      return { ...r, wal, note: this.encrypted && w ? [r.note, w].filter(Boolean).join('; ') : r.note };
    } catch {
      return r;
    }
  }

  /** Remove every working copy. The evidence folder is never touched. */
  close(): void {
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** domain/relativePath for messages, with control characters (NUL…) escaped as JSON does. */
function shownPath(e: ManifestEntry): string {
  return `${e.domain}/${JSON.stringify(e.relativePath).slice(1, -1)}`;
}

export async function copyHashing(src: string, dst: string, onChunk: (c: Buffer) => void): Promise<void> {
  // openRegular: never blocks on a FIFO swapped in after locate() looked, and refuses anything not a regular file.
  const inFd = await fsp.open(src, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const st = await inFd.stat();
  if (!st.isFile()) {
    await inFd.close();
    throw new BackupError(`${src} is not a regular file; not read`);
  }
  const outFd = await fsp.open(dst, 'w');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await inFd.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      onChunk(chunk);
      await outFd.write(chunk);
    }
  } finally {
    await inFd.close();
    await outFd.close();
  }
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
