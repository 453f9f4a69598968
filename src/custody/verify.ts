// verify: re-hash what is there and say exactly what differs.
//   case file      the custody chain (names the row) and the content digests recorded at ingest (names table + row id);
//   backup folder  every file against the case's `files` rows (names the file and the first changed MiB), plus the case;
//   output folder  every file against manifest.json (names the file and byte range), SHA256SUMS, the signature,
//                  and with --case the custody rows the manifest points to.
// Nothing here writes: the evidence and the case file are opened read-only.
import { columnsOf, colOrNull } from '../sqlite.js';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { findBackupRoot } from '../backup/backup.js';
import { resolveInside, type Resolved } from '../backup/safePath.js';
import { verifyCustodyChain, type CustodyRow } from '../timeline/custodyLog.js';
import { checkCaseDigest, type CaseDigest } from './caseDigest.js';
import { hashFiles } from './evidenceHash.js';
import { firstDifferingBlock, READ_CHUNK, type HashAlgorithm } from './hashWorker.js';
import { listFiles } from './listing.js';
import { MANIFEST_FORMAT, MANIFEST_NAME, RESERVED_NAMES, SIGNATURE_NAME, SUMS_NAME, type OutputManifest } from './outputs.js';
import { keyFingerprint, loadPublicKey, verifyBytes } from './sign.js';
import { sha256File } from './hash.js';
import { checkCustodyHeads, custodyHeadsPath, HEADS_SUFFIX, readCustodyHeads } from '../timeline/custodyLog.js';
import { finalCasePath, ingestStateOf } from '../timeline/caseFile.js';

export type VerifyKind = 'case' | 'backup' | 'outputs';

export interface Problem {
  area: 'custody' | 'case' | 'evidence' | 'output' | 'manifest' | 'signature';
  /** What differs: a file path, "events row 42", "custody row 3"… */
  item: string;
  message: string;
  /** First differing byte range (inclusive), when block checkpoints allow it. */
  range?: { start: number; end: number };
}

export interface VerifyReport {
  target: string;
  kind: VerifyKind;
  ok: boolean;
  /** One line per check that passed or ran. */
  checks: string[];
  problems: Problem[];
  notes: string[];
  /** For the custody row: digests of what was verified. */
  inputs: { name: string; sha256: string | null }[];
}

const SQLITE_HEADER = 'SQLite format 3\0';

export function isSqliteFile(p: string): boolean {
  try {
    // O_NONBLOCK and the fstat check: a FIFO given as the case file must not block verify forever.
    const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return false;
      const b = Buffer.alloc(16);
      fs.readSync(fd, b, 0, 16, 0);
      return b.toString('latin1') === SQLITE_HEADER;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

function newReport(target: string, kind: VerifyKind): VerifyReport {
  return { target, kind, ok: true, checks: [], problems: [], notes: [], inputs: [] };
}

function finish(r: VerifyReport): VerifyReport {
  r.ok = r.problems.length === 0;
  return r;
}

function openReadOnly(casePath: string): Database.Database {
  if (!fs.existsSync(casePath)) throw new Error(`case file ${casePath} does not exist`);
  if (!isSqliteFile(casePath)) throw new Error(`${casePath} is not an SQLite case file`);
  return new Database(casePath, { readonly: true, fileMustExist: true });
}

function rangeText(r: { start: number; end: number }): string {
  return `bytes ${r.start.toLocaleString('en-US')}–${r.end.toLocaleString('en-US')}`;
}

/** First changed byte range from stored and fresh prefix checkpoints. */
function changedRange(
  storedPrefixes: string | null | undefined,
  freshPrefixes: string | undefined,
  blockSize: number,
  oldSize: number,
  newSize: number,
): { start: number; end: number } {
  const k = firstDifferingBlock(storedPrefixes, freshPrefixes);
  const start = k * blockSize;
  const end = Math.max(start, Math.min((k + 1) * blockSize, Math.max(oldSize, newSize)) - 1);
  return { start, end };
}

// ---------------------------------------------------------------------------------------------- case file

export function latestIngestDigest(rows: CustodyRow[]): { seq: number; digest: CaseDigest } | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    if (rows[i].action !== 'ingest') continue;
    try {
      const d = JSON.parse(rows[i].detail_json) as { case_digest?: CaseDigest };
      if (d.case_digest?.tables) return { seq: rows[i].seq, digest: d.case_digest };
    } catch {
      /* reported by the chain check if the row was altered */
    }
  }
  return null;
}

function checkCaseDb(db: Database.Database, r: VerifyReport): { rows: CustodyRow[]; digest: CaseDigest | null } {
  const hasCustody = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='custody'").get();
  if (!hasCustody) {
    r.problems.push({ area: 'case', item: 'custody', message: 'the case file has no custody table' });
    return { rows: [], digest: null };
  }
  const chain = verifyCustodyChain(db);
  for (const p of chain.problems) r.problems.push({ area: 'custody', item: `custody row ${p.seq}`, message: p.problem });
  if (chain.rows === 0) r.problems.push({ area: 'custody', item: 'custody', message: 'the custody log is empty' });
  else if (!chain.problems.length) r.checks.push(`custody chain: ${chain.rows} rows intact (head ${chain.head.slice(0, 16)}…)`);
  const rows = db.prepare('SELECT seq, at, actor, action, detail_json, prev_hash, hash FROM custody ORDER BY seq').all() as CustodyRow[];
  checkHeadsFile(db.name, rows, r);
  const state = ingestStateOf(db);
  if (!state.complete)
    r.problems.push({ area: 'case', item: 'ingest', message: `the case is incomplete: its ingest did not finish (${state.state}); it holds only part of the evidence` });

  const recorded = latestIngestDigest(rows);
  if (!recorded) {
    r.notes.push('no content digest in the custody log (case ingested by an older version): rows cannot be checked');
    return { rows, digest: null };
  }
  const check = checkCaseDigest(db, recorded.digest);
  r.inputs.push({ name: 'case content digest', sha256: check.sha256 });
  for (const p of check.problems) {
    const ids = [
      ...p.changed.map((id) => ({ id, how: 'changed since ingest' })),
      ...p.added.map((id) => ({ id, how: 'added after ingest' })),
      ...p.removed.map((id) => ({ id, how: 'deleted after ingest' })),
    ];
    if (!ids.length) {
      r.problems.push({ area: 'case', item: p.table, message: p.problem });
      continue;
    }
    for (const x of ids) r.problems.push({ area: 'case', item: `${p.table} row ${x.id}`, message: x.how });
    const total = p.counts ? p.counts.changed + p.counts.added + p.counts.removed : ids.length;
    if (total > ids.length) r.problems.push({ area: 'case', item: p.table, message: `${total - ids.length} more rows differ (only the first 50 of each kind are named)` });
  }
  if (check.ok) {
    const nRows = Object.values(recorded.digest.tables).reduce((s, t) => s + t.rows, 0);
    r.checks.push(`case content: ${Object.keys(recorded.digest.tables).length} tables, ${nRows} rows as recorded at ingest (custody row ${recorded.seq})`);
  }
  return { rows, digest: recorded.digest };
}

/** The custody table against `<case>.custody-heads`, the heads recorded outside it (catches a truncated log). */
function checkHeadsFile(casePath: string, rows: CustodyRow[], r: VerifyReport): void {
  const sidecar = custodyHeadsPath(finalCasePath(path.resolve(casePath)));
  const name = path.basename(sidecar);
  const read = readCustodyHeads(finalCasePath(path.resolve(casePath)));
  if (!read) {
    r.notes.push(`warning: ${name} is missing: a truncated custody log (rows deleted at the end) cannot be detected`);
    return;
  }
  for (const p of read.problems) r.problems.push({ area: 'custody', item: name, message: p.problem });
  const c = checkCustodyHeads(rows, read.heads);
  for (const p of c.problems) r.problems.push({ area: 'custody', item: `custody row ${p.seq}`, message: `${p.problem} (${name})` });
  if (!c.problems.length && !read.problems.length) r.checks.push(`custody heads: ${read.heads.length} head(s) in ${name} match the log (last row ${c.lastSeq})`);
  if (c.unanchored) r.notes.push(`${c.unanchored} custody row(s) after row ${c.lastSeq} are not recorded in ${name}`);
}

export async function verifyCase(casePath: string): Promise<VerifyReport> {
  const r = newReport(path.resolve(casePath), 'case');
  const db = openReadOnly(casePath);
  try {
    checkCaseDb(db, r);
  } finally {
    db.close();
  }
  return finish(r);
}

// ---------------------------------------------------------------------------------------------- backup folder

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

/** Where a recorded file sits under the backup root. */
function diskPathOf(f: FileRow): string | null {
  if (f.disk_path) return f.disk_path;
  if (f.file_id && /^[0-9a-f]{40}$/.test(f.file_id)) return `${f.file_id.slice(0, 2)}/${f.file_id}`;
  if (f.domain === null && f.relative_path) return f.relative_path; // Info.plist, Manifest.db…
  return null;
}

export async function verifyBackup(backupDir: string, casePath: string, opts: { onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
  const root = findBackupRoot(path.resolve(backupDir));
  const r = newReport(root, 'backup');
  const db = openReadOnly(casePath);
  let rows: FileRow[];
  try {
    checkCaseDb(db, r);
    const cols = columnsOf(db, 'files');
    const opt = (c: string) => colOrNull(cols, c);
    rows = db
      .prepare(
        `SELECT id, domain, relative_path, file_id, size, sha256, md5, sha1, status, ${opt('origin')}, ${opt('disk_path')}, ${opt('block_prefixes')}, note FROM files ORDER BY id`,
      )
      .all() as FileRow[];
    const ev = db.prepare('SELECT backup_path FROM evidence ORDER BY id LIMIT 1').get() as { backup_path: string } | undefined;
    if (ev && path.resolve(ev.backup_path) !== root) r.notes.push(`the case was made from ${ev.backup_path}; checking the copy at ${root}`);
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
      r.problems.push({ area: 'evidence', item: f.domain ? `${p} (${f.domain}/${f.relative_path})` : p, message: 'recorded at ingest but missing from the backup folder' });
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
  r.checks.push(`evidence: ${matched} of ${expected.size} recorded files match (${(bytes / 1e6).toFixed(1)} MB re-hashed, ${algorithms.join(', ')})`);
  return finish(r);
}

// ---------------------------------------------------------------------------------------------- output folder

export async function verifyOutputs(dir: string, opts: { pubKeyPath?: string; casePath?: string } = {}): Promise<VerifyReport> {
  const outDir = path.resolve(dir);
  const r = newReport(outDir, 'outputs');
  const manifestPath = path.join(outDir, MANIFEST_NAME);
  if (!fs.existsSync(manifestPath)) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: 'missing: this folder has no output manifest' });
    return finish(r);
  }
  const manifestBytes = fs.readFileSync(manifestPath);
  const manifestSha = await sha256File(manifestPath);
  r.inputs.push({ name: MANIFEST_NAME, sha256: manifestSha });
  let m: OutputManifest;
  try {
    m = JSON.parse(manifestBytes.toString('utf8')) as OutputManifest;
  } catch (e) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: `is not valid JSON: ${(e as Error).message}` });
    return finish(r);
  }
  if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.files)) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: `is not an ios-timeline output manifest (format ${JSON.stringify(m.format)})` });
    return finish(r);
  }

  // Files against the manifest.
  const listed = new Map(m.files.map((f) => [f.name, f]));
  const present = m.files.filter((f) => fs.existsSync(path.join(outDir, f.name)));
  const bySize = new Map<number, typeof present>();
  for (const f of present) bySize.set(f.block_size, [...(bySize.get(f.block_size) ?? []), f]);
  let matched = 0;
  for (const [blockSize, files] of bySize) {
    const hashes = await hashFiles(
      files.map((f) => ({ path: path.join(outDir, f.name), size: fs.statSync(path.join(outDir, f.name)).size })),
      { blockSize: blockSize || READ_CHUNK },
    );
    files.forEach((f, i) => {
      const h = hashes[i];
      if (h.error) {
        r.problems.push({ area: 'output', item: f.name, message: `cannot be read: ${h.error}` });
        return;
      }
      if (h.sha256 === f.sha256 && h.size === f.size) {
        matched++;
        return;
      }
      const range = changedRange(f.block_prefixes, h.prefixes, blockSize || READ_CHUNK, f.size, h.size);
      const size = f.size !== h.size ? `, size ${f.size} → ${h.size}` : '';
      r.problems.push({
        area: 'output',
        item: f.name,
        message: `content differs from manifest.json (sha256 ${f.sha256.slice(0, 16)}… recorded, ${h.sha256!.slice(0, 16)}… now${size}); first difference in ${rangeText(range)}`,
        range,
      });
    });
  }
  for (const f of m.files) if (!present.includes(f)) r.problems.push({ area: 'output', item: f.name, message: 'listed in manifest.json but missing' });
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.relative(outDir, path.join(d, e.name)).split(path.sep).join('/')]));
  // The case file may sit beside its outputs (the demo does that); it changes with every custody row, so it is no output.
  const caseNames = new Set((m.actions ?? []).map((a) => path.basename(a.case_file?.path ?? '')).filter(Boolean));
  for (const name of walk(outDir)) {
    if (listed.has(name) || RESERVED_NAMES.has(name)) continue;
    if (caseNames.has(name) && isSqliteFile(path.join(outDir, name))) {
      r.notes.push(`${name} is the case file (checked with --case, not against the manifest)`);
      continue;
    }
    if (name.endsWith(HEADS_SUFFIX) && caseNames.has(name.slice(0, -HEADS_SUFFIX.length))) {
      r.notes.push(`${name} holds the case file's custody heads (checked with --case)`);
      continue;
    }
    r.problems.push({ area: 'output', item: name, message: 'not listed in manifest.json (added after the manifest was written?)' });
  }
  r.checks.push(`outputs: ${matched} of ${m.files.length} files match manifest.json`);

  // SHA256SUMS must say the same as the manifest (and hash the manifest itself).
  const sumsPath = path.join(outDir, SUMS_NAME);
  if (!fs.existsSync(sumsPath)) r.problems.push({ area: 'manifest', item: SUMS_NAME, message: 'missing' });
  else {
    const want = new Map(m.files.map((f) => [f.name, f.sha256]));
    want.set(MANIFEST_NAME, manifestSha);
    const seen = new Set<string>();
    fs.readFileSync(sumsPath, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        const mm = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
        if (!mm) {
          r.problems.push({ area: 'manifest', item: `${SUMS_NAME} line ${i + 1}`, message: 'is not a sha256sum line' });
          return;
        }
        seen.add(mm[2]);
        if (!want.has(mm[2])) r.problems.push({ area: 'manifest', item: `${SUMS_NAME} line ${i + 1}`, message: `lists ${mm[2]}, which the manifest does not` });
        else if (want.get(mm[2]) !== mm[1])
          r.problems.push({
            area: 'manifest',
            item: `${SUMS_NAME} line ${i + 1}`,
            message: mm[2] === MANIFEST_NAME ? 'manifest.json does not match its hash in SHA256SUMS (the manifest was edited)' : `hash of ${mm[2]} differs from manifest.json`,
          });
      });
    for (const name of want.keys()) if (!seen.has(name)) r.problems.push({ area: 'manifest', item: SUMS_NAME, message: `does not list ${name}` });
    if (!r.problems.some((p) => p.item.startsWith(SUMS_NAME))) r.checks.push(`${SUMS_NAME}: agrees with manifest.json (${want.size} entries)`);
  }

  // Signature.
  const sigPath = path.join(outDir, SIGNATURE_NAME);
  if (opts.pubKeyPath) {
    const key = loadPublicKey(opts.pubKeyPath);
    if (!fs.existsSync(sigPath)) r.problems.push({ area: 'signature', item: SIGNATURE_NAME, message: 'missing: the manifest is not signed' });
    else if (!verifyBytes(manifestBytes, fs.readFileSync(sigPath, 'utf8'), key)) {
      const other = m.signer && m.signer.public_key_sha256 !== keyFingerprint(key);
      r.problems.push({
        area: 'signature',
        item: SIGNATURE_NAME,
        message: other ? 'does not verify: the manifest names a different signing key' : 'does not verify with this public key: manifest.json or the signature was altered',
      });
    } else r.checks.push(`signature: valid Ed25519 signature by key ${keyFingerprint(key).slice(0, 16)}…`);
  } else if (fs.existsSync(sigPath)) r.notes.push('manifest.json is signed; give --pub-key to check the signature');
  // A manifest that says it was signed must keep its signature: deleting the .sig must not pass unnoticed.
  if (m.signer && !fs.existsSync(sigPath) && !opts.pubKeyPath)
    r.problems.push({ area: 'signature', item: SIGNATURE_NAME, message: `missing: manifest.json records a signature by key ${String(m.signer.public_key_sha256).slice(0, 16)}…` });
  if (m.status === 'INCOMPLETE') r.notes.push('manifest.json says INCOMPLETE: these outputs come from a case whose ingest did not finish');

  // With the case file: the custody rows the manifest names must be in the (intact) chain, with the same output hashes.
  if (!opts.casePath) r.notes.push('give --case <case file> to check these outputs against the custody log');
  else {
    const db = openReadOnly(opts.casePath);
    try {
      const { rows, digest } = checkCaseDb(db, r);
      const bySeq = new Map(rows.map((x) => [x.seq, x]));
      for (const a of m.actions ?? []) {
        const row = bySeq.get(a.custody?.seq);
        const item = `custody row ${a.custody?.seq}`;
        if (!row) {
          r.problems.push({ area: 'custody', item, message: `the ${a.action} at ${a.at} named by manifest.json is not in this case file's custody log` });
          continue;
        }
        if (row.hash !== a.custody.hash) {
          r.problems.push({ area: 'custody', item, message: `hash ${row.hash.slice(0, 16)}… differs from manifest.json's ${a.custody.hash.slice(0, 16)}…` });
          continue;
        }
        if (digest && a.case_file?.content_digest && a.case_file.content_digest !== digest.sha256)
          r.problems.push({ area: 'case', item: 'case content digest', message: 'manifest.json was made from another case file (content digests differ)' });
        let outs: { path: string; sha256: string }[] = [];
        try {
          outs = (JSON.parse(row.detail_json) as { outputs?: { path: string; sha256: string }[] }).outputs ?? [];
        } catch {
          /* the chain check names it */
        }
        for (const name of a.outputs) {
          const f = listed.get(name);
          const rec = outs.find((o) => o.path === name);
          if (f && f.custody_seq === a.custody.seq && rec?.sha256 !== f.sha256)
            r.problems.push({ area: 'custody', item: `${name}`, message: `manifest.json's hash differs from the one in ${item}` });
        }
      }
      if (!r.problems.some((p) => p.area === 'custody'))
        r.checks.push(`custody: the ${m.actions?.length ?? 0} action(s) in manifest.json are in the case's chain with the same hashes`);
    } finally {
      db.close();
    }
  }
  return finish(r);
}
