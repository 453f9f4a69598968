// The full evidence hash pass at ingest: every file under the backup folder is hashed (not only the ones the
// extractors read) and recorded in `files`:
//   origin 'manifest'  a payload listed in Manifest.db (status 'missing' when listed but absent on disk),
//   origin 'backup'    the backup's own files: Info.plist, Manifest.plist, Status.plist, Manifest.db (+ -wal/-shm),
//   origin 'unlisted'  anything else on disk that the manifest does not list (left-overs, planted files).
// Extractors later record the files they read with the hash of the bytes they read; `checkReads` compares the
// two and warns when they differ ("file changed during ingest").
import path from 'node:path';
import type { Backup } from '../backup/backup.js';
import type { EvidenceSource } from '../backup/source.js';
import { TreeSource } from '../sources/tree.js';
import { hashTreeEvidence } from './treeEvidence.js';
import { resolveInside, linkNote, readHead } from '../backup/safePath.js';
import { inspectWal, walWarning, sqlitePageSize } from '../backup/wal.js';
import type { CaseFile } from '../timeline/caseFile.js';
import { hashFiles, type HashJob } from './evidenceHash.js';
import { listFiles, type ListingEntry } from './listing.js';
import type { FileHashes, HashAlgorithm } from './hashWorker.js';

/** Repeated per-file problems named one by one before they are summed up. */
const MAX_NAMED = 50;

export const BACKUP_OWN_FILES = new Set(['Info.plist', 'Manifest.plist', 'Status.plist', 'Manifest.db', 'Manifest.db-wal', 'Manifest.db-shm', 'Manifest.mbdb']);

export interface EvidenceFile {
  /** Relative to the backup root, '/'-separated. */
  diskPath: string;
  size: number;
  origin: 'manifest' | 'backup' | 'unlisted';
  domain: string | null;
  relativePath: string;
  fileId: string | null;
  flags: number | null;
  /** Set when the file is not hashed: a link out of the backup, a dangling link, anything but a regular file. */
  refused?: string;
  /** Absolute real path to hash (a link inside the backup resolved); absent when refused. */
  readPath?: string;
  /** Recorded in the files row: a link inside the backup that was followed, a duplicate manifest row… */
  note?: string;
  /** The warning for a refused file when it says more than `refused` (where a link leads). */
  warn?: string;
}

export interface EvidenceInventory {
  files: EvidenceFile[];
  /** Listed in Manifest.db as regular files but absent on disk (or refused). */
  missing: { domain: string; relativePath: string; fileId: string; note: string; status: 'missing' | 'unreadable' }[];
}

/** Page size of the database a WAL belongs to (from its evidence header), to count a ruined WAL in frames. */
function mainPageSize(backup: Backup, domain: string, relativePath: string): number | null {
  const e = backup.get(domain, relativePath);
  const loc = e ? backup.locate(e) : null;
  if (!loc?.path) return null;
  try {
    return sqlitePageSize(readHead(loc.path, 100));
  } catch {
    return null;
  }
}

/** How a file on disk is read: through resolveInside, so a link is followed only inside the backup folder. */
/** Up to this many listed-but-absent payloads get a warning each; beyond it, one warning counts them by domain. */
export const MAX_NAMED_MISSING = 50;

function diskFile(root: string, rel: string): Pick<EvidenceFile, 'refused' | 'readPath' | 'note' | 'size' | 'warn'> {
  const r = resolveInside(root, rel);
  // A link out of the backup (or nowhere): the files row keeps the plain fact, the warning says where it leads.
  if (r.refused && r.kind === 'symbolic link') return { refused: 'symbolic link, not followed', warn: r.refused, size: 0 };
  if (r.refused || !r.path) return { refused: r.refused ?? `${rel} is missing`, size: 0 };
  return { readPath: r.path, note: linkNote(r) ?? undefined, size: r.size };
}

/** Match what is on disk with what Manifest.db lists. */
export async function inventory(backup: Backup, listing?: ListingEntry[]): Promise<EvidenceInventory> {
  const root = backup.root;
  const onDisk = new Map((listing ?? (await listFiles(root))).map((e) => [e.path, e]));
  const claimed = new Set<string>();
  const files: EvidenceFile[] = [];
  const missing: EvidenceInventory['missing'] = [];
  for (const name of BACKUP_OWN_FILES) {
    if (!onDisk.has(name)) continue;
    claimed.add(name);
    files.push({ diskPath: name, origin: 'backup', domain: null, relativePath: name, fileId: null, flags: null, ...diskFile(root, name) });
  }
  for (const entry of backup.allEntries()) {
    if (entry.flags !== 1) continue; // folders and links have no payload
    const loc = backup.locate(entry);
    if (loc.rel) claimed.add(loc.rel);
    if (loc.status !== 'ok' || !loc.path || !loc.rel) {
      // Refused (a link out of the backup, a FIFO, a folder…) or absent: recorded with the reason, never read.
      if (backup.isCurrent(entry))
        missing.push({
          domain: entry.domain,
          relativePath: entry.relativePath,
          fileId: entry.fileID,
          note: loc.note ?? loc.status,
          status: loc.status === 'missing' ? 'missing' : 'unreadable',
        });
      continue;
    }
    if (!backup.isCurrent(entry)) {
      // The losing row of a duplicate: its payload is evidence too, hashed and recorded under its disk path.
      const kept = backup.get(entry.domain, entry.relativePath)!;
      files.push({
        diskPath: loc.rel,
        size: loc.size,
        readPath: loc.path,
        origin: 'manifest',
        domain: null,
        relativePath: loc.rel,
        fileId: entry.fileID,
        flags: entry.flags,
        note: `payload of a duplicate Manifest.db row for ${entry.domain}/${entry.relativePath}; not read by extractors (the row with fileID ${kept.fileID} is used)`,
      });
      continue;
    }
    // A link that stays inside the backup is followed: hash the target, as an extractor reads it, and say so.
    files.push({
      diskPath: loc.rel,
      size: loc.size,
      readPath: loc.path,
      origin: 'manifest',
      domain: entry.domain,
      relativePath: entry.relativePath,
      fileId: entry.fileID,
      flags: entry.flags,
      note: loc.note ?? undefined,
    });
  }
  for (const [rel, e] of onDisk) {
    if (claimed.has(rel)) continue;
    const d = e.special ? { refused: `${rel} is not a regular file (${e.special}); not read`, size: 0 } : diskFile(root, rel);
    files.push({ diskPath: rel, origin: 'unlisted', domain: null, relativePath: rel, fileId: null, flags: null, ...d });
  }
  return { files, missing };
}

export interface EvidencePassResult {
  algorithms: HashAlgorithm[];
  files: number;
  bytes: number;
  seconds: number;
  unlisted: number;
  missing: number;
  errors: number;
  /** files.id → sha256 from this pass, to compare with what extractors read later. */
  byRowId: Map<number, string>;
}

export interface EvidencePassOptions {
  algorithms?: HashAlgorithm[];
  /**
   * Payloads the extractors will read ("domain/relativePath"): in a plain backup each is copied into the work
   * folder by the same read that hashes it, and Backup.read hands that copy over (one read, one hash per file).
   */
  copies?: Set<string>;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  workers?: number;
}

/** Hash every evidence file and record it in the case file. */
export async function hashEvidence(source: EvidenceSource, cf: CaseFile, opts: EvidencePassOptions = {}): Promise<EvidencePassResult> {
  if (source instanceof TreeSource) return hashTreeEvidence(source, cf, opts);
  const backup = source as Backup;
  const algorithms = opts.algorithms ?? ['sha256'];
  const t0 = performance.now();
  const inv = await inventory(backup);
  const toHash = inv.files.filter((f) => !f.refused);
  const copyOf = (f: EvidenceFile) => !backup.encrypted && f.origin === 'manifest' && f.domain !== null && !!opts.copies?.has(`${f.domain}/${f.relativePath}`);
  const jobs: HashJob[] = toHash.map((f) => ({ path: f.readPath ?? path.join(backup.root, f.diskPath), size: f.size, copyTo: copyOf(f) ? backup.precopyPath() : undefined }));
  const hashing = hashFiles(jobs, { algorithms, onProgress: opts.onProgress, workers: opts.workers });
  // Meanwhile, read each payload's size and mtime from its Manifest.db record (the main thread is idle
  // while the workers hash; yield often so their replies are not held up).
  // Undecodable MBFile blobs and WAL frames SQLite would drop are found here too, as named warnings.
  const manifestInfo = new Map<string, { size: number | null; mtimeUs: number | null }>();
  const later: { diskPath: string; message: string }[] = [];
  let badBlobs = 0;
  let k = 0;
  for (const f of toHash) {
    if (f.origin !== 'manifest' || !f.domain) continue;
    const entry = backup.get(f.domain, f.relativePath);
    const mb = entry ? backup.decode(entry) : null;
    if (mb) manifestInfo.set(f.diskPath, { size: mb.size, mtimeUs: mb.lastModified != null ? mb.lastModified * 1_000_000 : null });
    else if (entry?.blob && ++badBlobs <= MAX_NAMED) later.push({ diskPath: f.diskPath, message: `${f.domain}/${f.relativePath}: ${backup.decodeProblem(entry)}` });
    // A plain backup's WAL is checked on the evidence itself (an encrypted one only after decryption, in Backup.read).
    if (!backup.encrypted && f.relativePath.endsWith('-wal') && f.readPath) {
      try {
        const w = walWarning(`${f.domain}/${f.relativePath}`, inspectWal(f.readPath, mainPageSize(backup, f.domain, f.relativePath.slice(0, -4))));
        if (w) later.push({ diskPath: f.diskPath, message: w });
      } catch (e) {
        later.push({ diskPath: f.diskPath, message: `${f.domain}/${f.relativePath}: WAL cannot be checked (${(e as Error).message})` });
      }
    }
    if (++k % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  if (badBlobs > MAX_NAMED)
    later.push({ diskPath: '', message: `${badBlobs - MAX_NAMED} more MBFile records in Manifest.db cannot be decoded (only the first ${MAX_NAMED} are named)` });
  const results = await hashing;
  results.forEach((r, i) => {
    const f = toHash[i];
    const j = jobs[i];
    if (j.copyTo && r?.copied && r.sha256 && !r.error && f.domain !== null)
      backup.adoptPrecopy(f.domain, f.relativePath, { path: j.copyTo, source: j.path, sha256: r.sha256, size: r.size, mtimeMs: r.copied.mtimeMs });
  });
  const byRowId = new Map<number, string>();
  let errors = 0;
  let bytes = 0;

  const db = cf.db;
  const upsert =
    db.prepare(`INSERT INTO files (domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, note, origin, disk_path, block_prefixes, device_id)
    VALUES (@domain, @relativePath, @fileId, @flags, @size, @manifestSize, @mtimeUs, @sha256, @md5, @sha1, @status, @note, @origin, @diskPath, @prefixes, ${cf.deviceId === null ? 'NULL' : Math.trunc(cf.deviceId)})
    ON CONFLICT (device_id, domain, relative_path) DO UPDATE SET file_id = excluded.file_id, flags = excluded.flags, size = excluded.size,
      manifest_size = COALESCE(excluded.manifest_size, manifest_size), mtime_utc_us = COALESCE(excluded.mtime_utc_us, mtime_utc_us),
      sha256 = excluded.sha256, md5 = excluded.md5, sha1 = excluded.sha1, status = excluded.status, note = COALESCE(excluded.note, note),
      origin = excluded.origin, disk_path = excluded.disk_path, block_prefixes = excluded.block_prefixes
    RETURNING id`);
  // Rows with a NULL domain never conflict under UNIQUE (SQLite treats NULLs as distinct): find them by path.
  const findNullDomain = db.prepare('SELECT id FROM files WHERE domain IS NULL AND relative_path = ? AND device_id IS ?');
  const updateById = db.prepare(`UPDATE files SET size = @size, sha256 = @sha256, md5 = @md5, sha1 = @sha1, status = @status,
    note = COALESCE(@note, note), origin = @origin, disk_path = @diskPath, block_prefixes = @prefixes WHERE id = @id`);

  const rowIdByDisk = new Map<string, number>();
  const write = db.transaction(() => {
    const record = (f: EvidenceFile, r: FileHashes | null) => {
      const failed = !r || !!r.error;
      if (failed) errors++;
      else bytes += r.size;
      const row = {
        domain: f.domain,
        relativePath: f.relativePath,
        fileId: f.fileId,
        flags: f.flags,
        size: r && !r.error ? r.size : f.size,
        sha256: r?.sha256 ?? null,
        md5: r?.md5 ?? null,
        sha1: r?.sha1 ?? null,
        status: failed ? 'unreadable' : 'ok',
        note: [f.refused ?? r?.error ?? (f.origin === 'unlisted' ? 'on disk but not listed in Manifest.db' : null), f.note].filter(Boolean).join('; ') || null,
        origin: f.origin,
        diskPath: f.diskPath,
        prefixes: r?.prefixes ?? null,
        manifestSize: manifestInfo.get(f.diskPath)?.size ?? null,
        mtimeUs: manifestInfo.get(f.diskPath)?.mtimeUs ?? null,
      };
      let id: number;
      if (f.domain === null) {
        const existing = findNullDomain.get(f.relativePath, cf.deviceId) as { id: number } | undefined;
        if (existing) {
          updateById.run({ ...row, id: existing.id });
          id = existing.id;
        } else id = Number((upsert.get(row) as { id: number | bigint }).id);
      } else id = Number((upsert.get(row) as { id: number | bigint }).id);
      if (row.sha256) byRowId.set(id, row.sha256);
      rowIdByDisk.set(f.diskPath, id);
    };
    toHash.forEach((f, i) => record(f, results[i]));
    for (const f of inv.files) if (f.refused) record(f, null);
    for (const m of inv.missing) {
      upsert.get({
        domain: m.domain,
        relativePath: m.relativePath,
        fileId: m.fileId,
        flags: 1,
        size: null,
        manifestSize: null,
        mtimeUs: null,
        sha256: null,
        md5: null,
        sha1: null,
        status: m.status,
        note: m.note,
        origin: 'manifest',
        diskPath: null,
        prefixes: null,
      });
    }
  });
  write();

  // The backup's own files were read (and hashed) once already when the backup was opened.
  for (const f of toHash) {
    if (f.origin !== 'backup') continue;
    const opened = backup.topLevelHashes[f.diskPath];
    const now = results[toHash.indexOf(f)]?.sha256;
    if (opened && now && opened !== now) {
      cf.addWarning({ extractor: 'custody', severity: 'error', message: `${f.diskPath} changed during ingest: sha256 ${opened} when opened, ${now} in the full hash pass` });
    }
  }
  // A listed-but-absent payload is named one by one while there are few; a backup missing thousands (a partial
  // or filtered copy) gets one warning counting them by domain: each is still a files row with status 'missing',
  // and the report lists them all in missing-files.csv.
  const absent = inv.missing.filter((m) => m.status === 'missing');
  for (const m of inv.missing)
    if (m.status !== 'missing' || absent.length <= MAX_NAMED_MISSING)
      cf.addWarning({ extractor: 'custody', severity: m.status === 'missing' ? 'warning' : 'error', message: `${m.domain}/${m.relativePath}: ${m.note}` });
  if (absent.length > MAX_NAMED_MISSING) {
    const byDomain = new Map<string, number>();
    for (const m of absent) byDomain.set(m.domain, (byDomain.get(m.domain) ?? 0) + 1);
    const counts = [...byDomain.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([d, n]) => `${d} ${n}`);
    cf.addWarning({
      extractor: 'custody',
      severity: 'warning',
      message: `${absent.length} files listed in the manifest are not present in the backup folder (by domain: ${counts.join(', ')}); each is recorded in the files table with status 'missing'`,
    });
  }
  // Files on disk that were refused (links out of the backup, FIFOs, devices): an evidence problem, named.
  for (const f of inv.files)
    if (f.refused) cf.addWarning({ extractor: 'custody', fileId: rowIdByDisk.get(f.diskPath) ?? null, severity: 'error', message: `${f.diskPath}: ${f.warn ?? f.refused}` });
  for (const l of later) cf.addWarning({ extractor: 'backup', fileId: rowIdByDisk.get(l.diskPath) ?? null, severity: 'warning', message: l.message });
  const unlisted = inv.files.filter((f) => f.origin === 'unlisted').length;
  if (unlisted)
    cf.addWarning({
      extractor: 'custody',
      severity: 'info',
      message: `${unlisted} file(s) under the backup folder are not listed in Manifest.db; hashed and recorded with origin 'unlisted'`,
    });
  return { algorithms, files: toHash.length, bytes, seconds: (performance.now() - t0) / 1000, unlisted, missing: inv.missing.length, errors, byRowId };
}

/** After extraction: every file an extractor read must hash as it did in the full pass. */
export function checkReads(cf: CaseFile, pass: EvidencePassResult): { compared: number; changed: string[] } {
  const rows = cf.db.prepare('SELECT id, domain, relative_path, sha256 FROM files WHERE read_by IS NOT NULL AND sha256 IS NOT NULL AND device_id IS ?').all(cf.deviceId) as {
    id: number;
    domain: string | null;
    relative_path: string;
    sha256: string;
  }[];
  const changed: string[] = [];
  let compared = 0;
  for (const r of rows) {
    const full = pass.byRowId.get(r.id);
    if (!full) continue;
    compared++;
    if (full !== r.sha256) {
      const name = `${r.domain ? `${r.domain}/` : ''}${r.relative_path}`;
      changed.push(name);
      cf.addWarning({
        extractor: 'custody',
        fileId: r.id,
        severity: 'error',
        message: `file changed during ingest: ${name} hashed ${full} in the full pass but ${r.sha256} when the extractor read it`,
      });
    }
  }
  return { compared, changed };
}

/** What the ingest custody row records about the pass. */
export function passDetail(pass: EvidencePassResult, reads: { compared: number; changed: string[] }): Record<string, unknown> {
  return {
    evidence_hash_pass: {
      algorithms: pass.algorithms,
      files: pass.files,
      bytes: pass.bytes,
      unlisted: pass.unlisted,
      missing: pass.missing,
      unreadable: pass.errors,
      mb_per_s: pass.seconds > 0 ? Math.round(pass.bytes / 1e6 / pass.seconds) : null,
      extractor_reads_compared: reads.compared,
      changed_during_ingest: reads.changed,
    },
  };
}
