import path from 'node:path';
import type Database from 'better-sqlite3';
import { verifyCustodyChain, type CustodyRow } from '../../timeline/custodyLog.js';
import { checkCaseDigest, type CaseDigest } from '../caseDigest.js';
import { checkCustodyHeads, custodyHeadsPath, readCustodyHeads } from '../../timeline/custodyLog.js';
import { finalCasePath, ingestStateOf } from '../../timeline/caseFile.js';
import { recordedTagsDigest, TAG_TABLES, tagsDigest } from '../../timeline/tags.js';
import { hasTable } from '../../sqlite.js';

import { newReport, finish, openReadOnly, type VerifyReport } from './common.js';

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

export function checkCaseDb(db: Database.Database, r: VerifyReport): { rows: CustodyRow[]; digest: CaseDigest | null } {
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

  let devices = 0;
  try {
    devices = Number(db.prepare('SELECT count(*) FROM evidence').pluck().get());
  } catch {
    /* no evidence table: the digest check names it */
  }
  if (devices > 1) r.checks.push(`${devices} devices in the case, each with its ingest custody row; the content digest covers them all`);
  checkTags(db, rows, r);

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

/**
 * Tags and notes against the digest recorded by the last tag change: they may change after ingest, but only
 * through the tool, which records the new digest in the same transaction. Checked and reported on their own,
 * so a tag never makes the evidence-derived content look tampered with.
 */
function checkTags(db: Database.Database, rows: CustodyRow[], r: VerifyReport): void {
  const recorded = recordedTagsDigest(rows);
  const present = TAG_TABLES.every((t) => hasTable(db, t));
  if (!present) {
    // A case from before tags existed, opened read-only (never migrated): there is nothing to check.
    if (recorded) r.problems.push({ area: 'case', item: 'tags', message: `the tag tables were removed (custody row ${recorded.seq} records ${recorded.digest.tags} tag(s))` });
    else r.checks.push('tags: none (the case file predates tags)');
    return;
  }
  const now = tagsDigest(db);
  if (!recorded) {
    if (now.tags || now.notes)
      r.problems.push({
        area: 'case',
        item: 'tags',
        message: `${now.tags} tag(s) and ${now.notes} note(s) are in the case but no tag change is in the custody log: they were written outside the tool`,
      });
    else r.checks.push('tags: none');
    return;
  }
  r.inputs.push({ name: 'tags digest', sha256: now.sha256 });
  if (now.sha256 === recorded.digest.sha256) {
    r.checks.push(`tags: ${now.tags} tag(s) and ${now.notes} note(s) as recorded by the last tag change (custody row ${recorded.seq})`);
    return;
  }
  r.problems.push({
    area: 'case',
    item: 'tags',
    message: `tags and notes differ from the last tag change (custody row ${recorded.seq}: ${recorded.digest.tags} tag(s), ${recorded.digest.notes} note(s); now ${now.tags}, ${now.notes}): edited outside the tool`,
  });
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
