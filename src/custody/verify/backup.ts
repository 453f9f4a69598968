// verify BACKUP --case: every evidence file against the case's `files` rows (names the file and the first changed
// MiB), plus the case itself. The evidence is only read.
import { columnsOf, colOrNull } from '../../sqlite.js';
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { isDict, parsePlist } from '../../formats/plist.js';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { evidenceRoot } from '../../sources/open.js';
import { verifyArchive } from './archive.js';
import { resolveInside, type Resolved } from '../../backup/safePath.js';
import { hashFiles } from '../evidenceHash.js';
import { READ_CHUNK, type HashAlgorithm } from '../hashWorker.js';
import { listFiles } from '../listing.js';

import { newReport, finish, openReadOnly, rangeText, changedRange, type VerifyReport } from './common.js';
import { checkCaseDb } from './case.js';

interface FileRow {
  id: number;
  domain: string | null;
  relative_path: string | null;
  file_id: string | null;
  size: number | null;
  sha256: string | null;
  md5: string | null;
  sha1: string | null;
  status: string;
  origin: string | null;
  disk_path: string | null;
  block_prefixes: string | null;
  note: string | null;
}

interface EvidenceRow {
  id: number;
  backup_path: string;
  udid: string | null;
  device_name: string | null;
}

/** The backup's UDID as its Info.plist records it (null when it cannot be read). */
function udidOf(root: string): string | null {
  try {
    const info = parsePlist(fs.readFileSync(path.join(root, 'Info.plist')), 'Info.plist');
    if (!isDict(info)) return null;
    const v = info['Unique Identifier'] ?? info['Target Identifier'];
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Which evidence row (device) of the case this backup folder is: the same folder, else the same UDID (a copy). */
function evidenceRowOf(db: Database.Database, root: string): { row: EvidenceRow | null; devices: number; problem?: string } {
  const rows = db.prepare('SELECT id, backup_path, udid, device_name FROM evidence ORDER BY id').all() as EvidenceRow[];
  if (rows.length <= 1) return { row: rows[0] ?? null, devices: rows.length };
  const byPath = rows.find((e) => path.resolve(e.backup_path) === root);
  if (byPath) return { row: byPath, devices: rows.length };
  const udid = udidOf(root);
  const byUdid = udid ? rows.find((e) => e.udid?.toLowerCase() === udid.toLowerCase()) : undefined;
  if (byUdid) return { row: byUdid, devices: rows.length };
  return {
    row: null,
    devices: rows.length,
    problem: `${root} is none of the ${rows.length} devices in the case (no evidence row has its folder${udid ? ` or its UDID ${udid}` : ''})`,
  };
}

/** Where a recorded file sits under the backup root. */

function diskPathOf(f: FileRow): string | null {
  if (f.disk_path) return f.disk_path;
  if (f.file_id && /^[0-9a-f]{40}$/.test(f.file_id)) return `${f.file_id.slice(0, 2)}/${f.file_id}`;
  if (f.domain === null && f.relative_path) return f.relative_path; // Info.plist, Manifest.db…
  return null;
}

/** verify EVIDENCE --case: a backup folder, a file-system folder (both re-hashed file by file), or an archive. */
export async function verifyBackup(backupDir: string, casePath: string, opts: { onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
  const ev = evidenceRoot(backupDir);
  if (ev.kind === 'archive') return verifyArchive(ev.root, casePath);
  const root = ev.root;
  const r = newReport(root, ev.kind);
  const db = openReadOnly(casePath);
  let rows: FileRow[];
  try {
    checkCaseDb(db, r);
    const cols = columnsOf(db, 'files');
    const opt = (c: string) => colOrNull(cols, c);
    // A case may hold several devices (schema v6): this backup is checked against its own evidence row's files.
    const ev = evidenceRowOf(db, root);
    if (ev.problem) r.problems.push({ area: 'case', item: 'evidence', message: ev.problem });
    const byDevice = cols.has('device_id') && ev.devices > 1 ? 'WHERE device_id IS ?' : '';
    rows = db
      .prepare(
        `SELECT id, domain, relative_path, file_id, size, sha256, md5, sha1, status, ${opt('origin')}, ${opt('disk_path')}, ${opt('block_prefixes')}, note FROM files ${byDevice} ORDER BY id`,
      )
      .all(...(byDevice ? [ev.row?.id ?? null] : [])) as FileRow[];
    if (ev.row && ev.devices > 1) r.checks.push(`device ${ev.row.id}${ev.row.device_name ? ` (${ev.row.device_name})` : ''} of the ${ev.devices} in the case`);
    if (ev.row && path.resolve(ev.row.backup_path) !== root) r.notes.push(`the case was made from ${ev.row.backup_path}; checking the copy at ${root}`);
  } finally {
    db.close();
  }

  const onDisk = new Map((await listFiles(root)).map((e) => [e.path, e]));
  const expected = new Map<string, FileRow>();
  const wasMissing = new Set<string>();
  const unhashed = new Set<string>(); // recorded at ingest but not hashed (unreadable, a refused symbolic link)
  for (const f of rows) {
    const p = diskPathOf(f);
    if (!p) continue;
    if (f.status === 'missing') wasMissing.add(p);
    else if (f.sha256) expected.set(p, f);
    else unhashed.add(p);
  }
  const fullPass = rows.some((f) => f.origin);
  const algorithms: HashAlgorithm[] = ['sha256'];
  if (rows.some((f) => f.md5)) algorithms.push('md5');
  if (rows.some((f) => f.sha1)) algorithms.push('sha1');

  // Every recorded file is resolved as ingest resolved it: a link out of the backup, a FIFO or a device is a
  // problem named here and never opened (a FIFO would block the re-hash forever).
  const resolved = new Map<string, Resolved>();
  for (const [p, f] of expected) {
    const res = resolveInside(root, p);
    const name = f.domain ? `${p} (${f.domain}/${f.relative_path})` : p;
    if (res.refused) {
      r.problems.push({ area: 'evidence', item: name, message: res.refused });
      continue;
    }
    if (!res.path) continue; // reported below as missing
    // A link inside the backup is fine only when ingest followed the same one (its files row says so).
    if (res.linkedTo && !f.note?.includes(`→ ${res.linkedTo}`)) {
      r.problems.push({ area: 'evidence', item: name, message: `is now a symbolic link (to ${res.linkedTo})` });
      continue;
    }
    resolved.set(p, res);
  }
  const present = [...expected.entries()].filter(([p]) => resolved.has(p));
  const results = await hashFiles(
    present.map(([p]) => ({ path: resolved.get(p)!.path!, size: resolved.get(p)!.size })),
    { algorithms, onProgress: opts.onProgress },
  );
  let matched = 0;
  let bytes = 0;
  present.forEach(([p, f], i) => {
    const h = results[i];
    const name = f.domain ? `${p} (${f.domain}/${f.relative_path})` : p;
    if (h.error) {
      r.problems.push({ area: 'evidence', item: name, message: `cannot be read: ${h.error}` });
      return;
    }
    bytes += h.size;
    const diffs: string[] = [];
    for (const a of algorithms) if (f[a] && f[a] !== h[a]) diffs.push(`${a} ${f[a]!.slice(0, 16)}… recorded, ${h[a]!.slice(0, 16)}… now`);
    if (!diffs.length) {
      matched++;
      return;
    }
    const range = changedRange(f.block_prefixes, h.prefixes, READ_CHUNK, f.size ?? h.size, h.size);
    const size = f.size != null && f.size !== h.size ? `, size ${f.size} → ${h.size}` : '';
    r.problems.push({ area: 'evidence', item: name, message: `content differs (${diffs.join('; ')}${size}); first difference in ${rangeText(range)}`, range });
  });
  for (const [p, f] of expected) {
    if (resolveInside(root, p).kind === 'missing')
      r.problems.push({
        area: 'evidence',
        item: f.domain ? `${p} (${f.domain}/${f.relative_path})` : p,
        message: `recorded at ingest but missing from the ${ev.kind === 'backup' ? 'backup' : 'evidence'} folder`,
      });
  }
  let unrecorded = 0;
  for (const p of onDisk.keys()) {
    if (expected.has(p)) continue;
    if (wasMissing.has(p)) r.problems.push({ area: 'evidence', item: p, message: 'was missing at ingest but is present now' });
    else if (unhashed.has(p)) r.notes.push(`${p} was recorded as unreadable at ingest and is not compared`);
    else if (fullPass) r.problems.push({ area: 'evidence', item: p, message: 'not recorded in the case file (added after ingest?)' });
    else unrecorded++;
  }
  // One digest standing for every file as re-hashed now, for the verify custody row's inputs.
  const listing = createHash('sha256');
  present
    .map(([p], i) => `${p}\t${results[i].sha256 ?? results[i].error}\n`)
    .sort()
    .forEach((l) => listing.update(l));
  r.inputs.push({ name: 'evidence re-hashed (sha256 over sorted "path<TAB>sha256" lines)', sha256: listing.digest('hex') });
  if (!fullPass) r.notes.push(`the case records only the files its extractors read (ingested without the full hash pass): ${unrecorded} other file(s) on disk cannot be checked`);
  // A mismatch never gets a tick: the count is a check only when every file matches.
  const line = `${matched} of ${expected.size} recorded files match (${(bytes / 1e6).toFixed(1)} MB re-hashed, ${algorithms.join(', ')})`;
  if (matched === expected.size) r.checks.push(`evidence: ${line}`);
  else r.notes.push(`evidence: only ${line}; the differences are listed above`);
  return finish(r);
}

// ---------------------------------------------------------------------------------------------- output folder
