// The full evidence hash pass at ingest: every file under the backup folder is hashed (not only the ones the
// extractors read) and recorded in `files`:
//   origin 'manifest'  a payload listed in Manifest.db (status 'missing' when listed but absent on disk),
//   origin 'backup'    the backup's own files: Info.plist, Manifest.plist, Status.plist, Manifest.db (+ -wal/-shm),
//   origin 'unlisted'  anything else on disk that the manifest does not list (left-overs, planted files).
// Extractors later record the files they read with the hash of the bytes they read; `checkReads` compares the
// two and warns when they differ ("file changed during ingest").
import path from 'node:path';
import type { Backup } from '../backup/backup.js';
import type { CaseFile } from '../timeline/caseFile.js';
import { hashFiles, type HashJob } from './evidenceHash.js';
import { listFiles, type ListingEntry } from './listing.js';
import type { FileHashes, HashAlgorithm } from './hashWorker.js';

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
  /** Set when the file is not hashed (a symbolic link is never followed). */
  refused?: string;
}

export interface EvidenceInventory {
  files: EvidenceFile[];
  /** Listed in Manifest.db as regular files but absent on disk (or refused). */
  missing: { domain: string; relativePath: string; fileId: string; note: string; status: 'missing' | 'unreadable' }[];
}

/** Match what is on disk with what Manifest.db lists. */
export async function inventory(backup: Backup, listing?: ListingEntry[]): Promise<EvidenceInventory> {
  const root = backup.root;
  const onDisk = new Map((listing ?? await listFiles(root)).map((e) => [e.path, e]));
  const claimed = new Set<string>();
  const files: EvidenceFile[] = [];
  const missing: EvidenceInventory['missing'] = [];
  for (const name of BACKUP_OWN_FILES) {
    const e = onDisk.get(name);
    if (!e) continue;
    claimed.add(name);
    files.push({ diskPath: name, size: e.size, origin: 'backup', domain: null, relativePath: name, fileId: null, flags: null, refused: e.link ? 'symbolic link, not followed' : undefined });
  }
  for (const entry of backup.allEntries()) {
    if (entry.flags !== 1) continue; // folders and links have no payload
    let abs: string | null;
    try { abs = backup.payloadPath(entry); } catch (err) {
      missing.push({ domain: entry.domain, relativePath: entry.relativePath, fileId: entry.fileID, note: (err as Error).message, status: 'unreadable' });
      continue;
    }
    if (!abs) {
      missing.push({ domain: entry.domain, relativePath: entry.relativePath, fileId: entry.fileID, note: 'listed in Manifest.db but not present in the backup folder', status: 'missing' });
      continue;
    }
    const rel = path.relative(root, abs).split(path.sep).join('/');
    const e = onDisk.get(rel);
    claimed.add(rel);
    // payloadPath follows a link that stays inside the backup; hash the target, as an extractor would read it.
    files.push({ diskPath: rel, size: e?.size ?? 0, origin: 'manifest', domain: entry.domain, relativePath: entry.relativePath, fileId: entry.fileID, flags: entry.flags });
  }
  for (const [rel, e] of onDisk) {
    if (claimed.has(rel)) continue;
    files.push({ diskPath: rel, size: e.size, origin: 'unlisted', domain: null, relativePath: rel, fileId: null, flags: null, refused: e.link ? 'symbolic link, not followed' : undefined });
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

export interface EvidencePassOptions { algorithms?: HashAlgorithm[]; onProgress?: (doneBytes: number, totalBytes: number) => void; workers?: number }

/** Hash every evidence file and record it in the case file. */
export async function hashEvidence(backup: Backup, cf: CaseFile, opts: EvidencePassOptions = {}): Promise<EvidencePassResult> {
  const algorithms = opts.algorithms ?? ['sha256'];
  const t0 = performance.now();
  const inv = await inventory(backup);
  const toHash = inv.files.filter((f) => !f.refused);
  const jobs: HashJob[] = toHash.map((f) => ({ path: path.join(backup.root, f.diskPath), size: f.size }));
  const hashing = hashFiles(jobs, { algorithms, onProgress: opts.onProgress, workers: opts.workers });
  // Meanwhile, read each payload's size and mtime from its Manifest.db record (the main thread is idle
  // while the workers hash; yield often so their replies are not held up).
  const manifestInfo = new Map<string, { size: number | null; mtimeUs: number | null }>();
  let k = 0;
  for (const f of toHash) {
    if (f.origin !== 'manifest' || !f.domain) continue;
    const entry = backup.get(f.domain, f.relativePath);
    const mb = entry ? backup.decode(entry) : null;
    if (mb) manifestInfo.set(f.diskPath, { size: mb.size, mtimeUs: mb.lastModified != null ? mb.lastModified * 1_000_000 : null });
    if (++k % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  const results = await hashing;
  const byRowId = new Map<number, string>();
  let errors = 0;
  let bytes = 0;

  const db = cf.db;
  const upsert = db.prepare(`INSERT INTO files (domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, note, origin, disk_path, block_prefixes)
    VALUES (@domain, @relativePath, @fileId, @flags, @size, @manifestSize, @mtimeUs, @sha256, @md5, @sha1, @status, @note, @origin, @diskPath, @prefixes)
    ON CONFLICT (domain, relative_path) DO UPDATE SET file_id = excluded.file_id, flags = excluded.flags, size = excluded.size,
      manifest_size = COALESCE(excluded.manifest_size, manifest_size), mtime_utc_us = COALESCE(excluded.mtime_utc_us, mtime_utc_us),
      sha256 = excluded.sha256, md5 = excluded.md5, sha1 = excluded.sha1, status = excluded.status, note = COALESCE(excluded.note, note),
      origin = excluded.origin, disk_path = excluded.disk_path, block_prefixes = excluded.block_prefixes
    RETURNING id`);
  // Rows with a NULL domain never conflict under UNIQUE (SQLite treats NULLs as distinct): find them by path.
  const findNullDomain = db.prepare('SELECT id FROM files WHERE domain IS NULL AND relative_path = ?');
  const updateById = db.prepare(`UPDATE files SET size = @size, sha256 = @sha256, md5 = @md5, sha1 = @sha1, status = @status,
    note = COALESCE(@note, note), origin = @origin, disk_path = @diskPath, block_prefixes = @prefixes WHERE id = @id`);

  const write = db.transaction(() => {
    const record = (f: EvidenceFile, r: FileHashes | null) => {
      const failed = !r || !!r.error;
      if (failed) errors++;
      else bytes += r.size;
      const row = {
        domain: f.domain, relativePath: f.relativePath, fileId: f.fileId, flags: f.flags, size: r && !r.error ? r.size : f.size,
        sha256: r?.sha256 ?? null, md5: r?.md5 ?? null, sha1: r?.sha1 ?? null,
        status: failed ? 'unreadable' : 'ok', note: f.refused ?? r?.error ?? (f.origin === 'unlisted' ? 'on disk but not listed in Manifest.db' : null),
        origin: f.origin, diskPath: f.diskPath, prefixes: r?.prefixes ?? null,
        manifestSize: manifestInfo.get(f.diskPath)?.size ?? null, mtimeUs: manifestInfo.get(f.diskPath)?.mtimeUs ?? null,
      };
      let id: number;
      if (f.domain === null) {
        const existing = findNullDomain.get(f.relativePath) as { id: number } | undefined;
        if (existing) { updateById.run({ ...row, id: existing.id }); id = existing.id; }
        else id = Number((upsert.get(row) as { id: number | bigint }).id);
      } else id = Number((upsert.get(row) as { id: number | bigint }).id);
      if (row.sha256) byRowId.set(id, row.sha256);
    };
    toHash.forEach((f, i) => record(f, results[i]));
    for (const f of inv.files) if (f.refused) record(f, null);
    for (const m of inv.missing) {
      upsert.get({ domain: m.domain, relativePath: m.relativePath, fileId: m.fileId, flags: 1, size: null, manifestSize: null, mtimeUs: null, sha256: null, md5: null, sha1: null,
        status: m.status, note: m.note, origin: 'manifest', diskPath: null, prefixes: null });
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
  for (const m of inv.missing) cf.addWarning({ extractor: 'custody', severity: m.status === 'missing' ? 'warning' : 'error', message: `${m.domain}/${m.relativePath}: ${m.note}` });
  const unlisted = inv.files.filter((f) => f.origin === 'unlisted').length;
  if (unlisted) cf.addWarning({ extractor: 'custody', severity: 'info', message: `${unlisted} file(s) under the backup folder are not listed in Manifest.db; hashed and recorded with origin 'unlisted'` });
  return { algorithms, files: toHash.length, bytes, seconds: (performance.now() - t0) / 1000, unlisted, missing: inv.missing.length, errors, byRowId };
}

/** After extraction: every file an extractor read must hash as it did in the full pass. */
export function checkReads(cf: CaseFile, pass: EvidencePassResult): { compared: number; changed: string[] } {
  const rows = cf.db.prepare("SELECT id, domain, relative_path, sha256 FROM files WHERE read_by IS NOT NULL AND sha256 IS NOT NULL").all() as { id: number; domain: string | null; relative_path: string; sha256: string }[];
  const changed: string[] = [];
  let compared = 0;
  for (const r of rows) {
    const full = pass.byRowId.get(r.id);
    if (!full) continue;
    compared++;
    if (full !== r.sha256) {
      const name = `${r.domain ? `${r.domain}/` : ''}${r.relative_path}`;
      changed.push(name);
      cf.addWarning({ extractor: 'custody', fileId: r.id, severity: 'error', message: `file changed during ingest: ${name} hashed ${full} in the full pass but ${r.sha256} when the extractor read it` });
    }
  }
  return { compared, changed };
}

/** What the ingest custody row records about the pass. */
export function passDetail(pass: EvidencePassResult, reads: { compared: number; changed: string[] }): Record<string, unknown> {
  return {
    evidence_hash_pass: {
      algorithms: pass.algorithms, files: pass.files, bytes: pass.bytes, unlisted: pass.unlisted, missing: pass.missing, unreadable: pass.errors,
      mb_per_s: pass.seconds > 0 ? Math.round(pass.bytes / 1e6 / pass.seconds) : null,
      extractor_reads_compared: reads.compared, changed_during_ingest: reads.changed,
    },
  };
}
