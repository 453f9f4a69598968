// The evidence hash pass for a file-system folder or archive. Every file of the evidence gets a `files` row:
//   origin 'filesystem'  a file a backup domain covers, under that (domain, relativePath),
//   origin 'unlisted'    anything else (the system volume, app bundles, CLBX metadata): domain NULL, its disk path,
//   origin 'archive'     the archive file itself.
// disk_path is where the file sits: relative to the folder, or the member name in the archive. A folder's files
// are hashed now on all cores; an archive's members were hashed in the one pass that indexed them.
import path from 'node:path';
import fs from 'node:fs';
import { resolveInside, readHead } from '../backup/safePath.js';
import { inspectWal, walWarning, sqlitePageSize } from '../backup/wal.js';
import type { TreeFile, TreeSource } from '../sources/tree.js';
import type { CaseFile } from '../timeline/caseFile.js';
import { hashFiles } from './evidenceHash.js';
import type { EvidencePassOptions, EvidencePassResult } from './evidencePass.js';
import type { FileHashes } from './hashWorker.js';

/** Repeated per-file problems named one by one before they are summed up. */
const MAX_NAMED = 50;

export async function hashTreeEvidence(src: TreeSource, cf: CaseFile, opts: EvidencePassOptions = {}): Promise<EvidencePassResult> {
  const t0 = performance.now();
  const archive = src.kind !== 'folder';
  const algorithms = archive ? (['sha256'] as const).slice() : (opts.algorithms ?? ['sha256']);
  const readable = src.files.filter((f) => f.kind === 'file' && !f.refused);
  const readPath = new Map<TreeFile, string>();
  if (!archive)
    for (const f of readable) {
      const r = resolveInside(src.root, f.diskPath);
      if (r.path) readPath.set(f, r.path);
      else f.refused = r.refused ?? 'gone from the folder since it was indexed';
    }
  const toHash = archive ? [] : readable.filter((f) => readPath.has(f));
  const results: FileHashes[] = await hashFiles(
    toHash.map((f) => ({ path: readPath.get(f)!, size: f.size })),
    { algorithms, onProgress: opts.onProgress, workers: opts.workers },
  );
  const hashOf = new Map<TreeFile, FileHashes>(toHash.map((f, i) => [f, results[i]]));

  const upsert =
    cf.db.prepare(`INSERT INTO files (domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, note, origin, disk_path, block_prefixes, device_id)
    VALUES (@domain, @relativePath, @fileId, @flags, @size, @size, @mtimeUs, @sha256, @md5, @sha1, @status, @note, @origin, @diskPath, @prefixes, ${cf.deviceId === null ? 'NULL' : Math.trunc(cf.deviceId)})
    ON CONFLICT (device_id, domain, relative_path) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, md5 = excluded.md5, sha1 = excluded.sha1,
      status = excluded.status, note = COALESCE(excluded.note, note), origin = excluded.origin, disk_path = excluded.disk_path, block_prefixes = excluded.block_prefixes
    RETURNING id`);
  const findNullDomain = cf.db.prepare('SELECT id FROM files WHERE domain IS NULL AND relative_path = ? AND device_id IS ?');
  const updateById = cf.db.prepare(`UPDATE files SET size = @size, sha256 = @sha256, md5 = @md5, sha1 = @sha1, status = @status,
    note = COALESCE(@note, note), origin = @origin, disk_path = @diskPath, block_prefixes = @prefixes WHERE id = @id`);
  const byRowId = new Map<number, string>();
  const warnings: { diskPath: string; severity: 'error' | 'warning'; message: string }[] = [];
  const rowIdByDisk = new Map<string, number>();
  let bytes = 0;
  let errors = 0;
  let unlisted = 0;
  const record = (row: Record<string, unknown> & { domain: string | null; relativePath: string; diskPath: string; sha256: string | null }) => {
    let id: number;
    const existing = row.domain === null ? (findNullDomain.get(row.relativePath, cf.deviceId) as { id: number } | undefined) : undefined;
    if (existing) {
      updateById.run({ ...row, id: existing.id });
      id = Number(existing.id);
    } else id = Number((upsert.get(row) as { id: number | bigint }).id);
    if (row.sha256) byRowId.set(id, row.sha256);
    rowIdByDisk.set(row.diskPath, id);
  };
  cf.db.transaction(() => {
    if (archive) {
      const name = path.basename(src.root);
      const sha256 = src.topLevelHashes[name] ?? null;
      const size = fs.statSync(src.root).size;
      bytes += size;
      record({
        domain: null,
        relativePath: name,
        fileId: null,
        flags: null,
        size,
        mtimeUs: null,
        sha256,
        md5: null,
        sha1: null,
        status: 'ok',
        note: `the ${src.kind} archive itself`,
        origin: 'archive',
        diskPath: name,
        prefixes: null,
      });
    }
    for (const f of src.files) {
      const d = src.domainOf(f);
      const h = hashOf.get(f);
      const sha256 = archive ? (f.sha256 ?? null) : (h?.sha256 ?? null);
      const failed = !!f.refused || (f.kind === 'file' && !archive && (!h || !!h.error));
      if (failed) errors++;
      else if (sha256) bytes += h?.size ?? f.size;
      if (!d) unlisted++;
      const note = [f.refused ?? h?.error, f.note, d ? null : f.fsPath === null ? 'outside the file-system tree' : 'in the file-system tree, under no backup domain']
        .filter(Boolean)
        .join('; ');
      record({
        domain: d?.domain ?? null,
        relativePath: d?.relativePath ?? f.diskPath,
        fileId: d ? (src.get(d.domain, d.relativePath)?.fileID ?? null) : null,
        flags: f.kind === 'file' ? 1 : f.kind === 'symlink' ? 4 : null,
        size: h && !h.error ? h.size : f.size,
        mtimeUs: f.mtime !== null ? f.mtime * 1_000_000 : null,
        sha256,
        md5: h?.md5 ?? null,
        sha1: h?.sha1 ?? null,
        status: failed ? 'unreadable' : f.kind === 'file' ? (sha256 || archive ? 'ok' : 'unreadable') : 'listed-only',
        note: note || null,
        origin: d ? 'filesystem' : 'unlisted',
        diskPath: f.diskPath,
        prefixes: h?.prefixes ?? null,
      });
      if (f.refused && warnings.length < MAX_NAMED) warnings.push({ diskPath: f.diskPath, severity: 'error', message: `${f.diskPath}: ${f.refused}` });
    }
  })();
  // WAL frames SQLite would drop, checked on the evidence (a folder) or the copy made while indexing (an archive).
  const byDisk = new Map(src.files.map((f) => [f.diskPath, f]));
  for (const f of readable) {
    if (!f.diskPath.endsWith('-wal')) continue;
    const wal = archive ? (f as TreeFile & { extracted?: string }).extracted : readPath.get(f);
    if (!wal) continue;
    const mainFile = byDisk.get(f.diskPath.slice(0, -4));
    const main = mainFile ? (archive ? (mainFile as TreeFile & { extracted?: string }).extracted : readPath.get(mainFile)) : undefined;
    try {
      let pageSize: number | null = null;
      if (main) pageSize = sqlitePageSize(readHead(main, 100));
      const w = walWarning(f.diskPath, inspectWal(wal, pageSize));
      if (w) warnings.push({ diskPath: f.diskPath, severity: 'warning', message: w });
    } catch (e) {
      warnings.push({ diskPath: f.diskPath, severity: 'warning', message: `${f.diskPath}: WAL cannot be checked (${(e as Error).message})` });
    }
  }
  for (const w of warnings) cf.addWarning({ extractor: 'custody', fileId: rowIdByDisk.get(w.diskPath) ?? null, severity: w.severity, message: w.message });
  if (archive && (opts.algorithms ?? []).some((a) => a !== 'sha256'))
    cf.addWarning({
      extractor: 'custody',
      severity: 'info',
      message: `archive members are hashed with SHA-256 only (in the one pass that indexes them); ${(opts.algorithms ?? []).filter((a) => a !== 'sha256').join(', ')} not computed`,
    });
  if (unlisted)
    cf.addWarning({
      extractor: 'custody',
      severity: 'info',
      message: `${unlisted} file(s) of the ${src.kind === 'folder' ? 'folder' : 'archive'} lie under no backup domain (system files, app bundles…); hashed and recorded with origin 'unlisted'`,
    });
  const files = archive ? src.files.filter((f) => f.sha256).length + 1 : toHash.length;
  return { algorithms: [...algorithms], files, bytes, seconds: (performance.now() - t0) / 1000, unlisted, missing: 0, errors, byRowId };
}
