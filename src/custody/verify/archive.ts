// verify ARCHIVE --case: the archive is re-hashed, and read again member by member (each member re-hashed and
// compared with its `files` row by disk_path), plus the case itself. Nothing is unpacked but into a temp folder.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ArchiveSource } from '../../sources/archive.js';
import { newReport, finish, openReadOnly, type VerifyReport } from './common.js';
import { checkCaseDb } from './case.js';

interface Row {
  domain: string | null;
  relative_path: string;
  sha256: string | null;
  origin: string | null;
  disk_path: string | null;
}

export async function verifyArchive(file: string, casePath: string): Promise<VerifyReport> {
  const r = newReport(file, 'archive');
  const db = openReadOnly(casePath);
  let rows: Row[];
  try {
    checkCaseDb(db, r);
    // A case may hold several devices: the archive is checked against the evidence row made from it (else the first).
    const evs = db.prepare('SELECT id, backup_path FROM evidence ORDER BY id').all() as { id: number; backup_path: string }[];
    const ev = evs.find((e) => path.resolve(e.backup_path) === file) ?? evs[0];
    rows = db.prepare('SELECT domain, relative_path, sha256, origin, disk_path FROM files WHERE disk_path IS NOT NULL AND device_id IS ?').all(ev?.id ?? null) as Row[];
    if (ev && path.resolve(ev.backup_path) !== file) r.notes.push(`the case was made from ${ev.backup_path}; checking the copy at ${file}`);
  } finally {
    db.close();
  }
  let src: ArchiveSource;
  try {
    src = await ArchiveSource.open(file, { want: [] });
  } catch (e) {
    r.problems.push({ area: 'evidence', item: path.basename(file), message: (e as Error).message });
    return finish(r);
  }
  try {
    const name = path.basename(file);
    const now = new Map<string, string | null>(src.files.map((f) => [f.diskPath, f.sha256 ?? null]));
    const archiveRow = rows.find((x) => x.origin === 'archive');
    // The archive itself, whatever the copy is called now.
    now.set(archiveRow?.disk_path ?? name, src.topLevelHashes[name] ?? null);
    if (!archiveRow) r.problems.push({ area: 'evidence', item: name, message: 'the case records no archive row: it was not made from an archive' });
    let matched = 0;
    let expected = 0;
    for (const row of rows) {
      if (!row.sha256 || !row.disk_path) continue;
      expected++;
      const item = row === archiveRow ? `${name} (the archive itself)` : row.domain ? `${row.disk_path} (${row.domain}/${row.relative_path})` : row.disk_path;
      if (!now.has(row.disk_path)) r.problems.push({ area: 'evidence', item, message: 'recorded at ingest but not in the archive now' });
      else if (now.get(row.disk_path) !== row.sha256)
        r.problems.push({
          area: 'evidence',
          item,
          message: `content differs (sha256 ${row.sha256.slice(0, 16)}… recorded, ${(now.get(row.disk_path) ?? 'unreadable').slice(0, 16)}… now)`,
        });
      else matched++;
    }
    const recorded = new Set(rows.map((x) => x.disk_path));
    for (const f of src.files)
      if (!recorded.has(f.diskPath)) r.problems.push({ area: 'evidence', item: f.diskPath, message: 'a member not recorded in the case file (added after ingest?)' });
    const listing = createHash('sha256');
    [...now.entries()]
      .map(([p, h]) => `${p}\t${h ?? 'unreadable'}\n`)
      .sort()
      .forEach((l) => listing.update(l));
    r.inputs.push({ name: 'archive members re-hashed (sha256 over sorted "member<TAB>sha256" lines)', sha256: listing.digest('hex') });
    const line = `${matched} of ${expected} recorded files match (the archive and its members re-hashed, sha256)`;
    if (matched === expected && !r.problems.length) r.checks.push(`evidence: ${line}`);
    else r.notes.push(`evidence: only ${line}; the differences are listed above`);
  } finally {
    src.close();
  }
  return finish(r);
}
