// The ingest, one stage after another: open the source → hash every evidence file → extractors → digest →
// custody. The library call and the CLI run exactly this; the CLI only adds progress output.
// The case file is written under a temporary name and renamed only when everything succeeded, so a failed
// run (wrong password, unreadable manifest) leaves nothing half-written. A run killed with kill -9 can leave
// `<case>.partial`: it says meta.ingest_state = 'running', and every command refuses it (see CaseFile.requireComplete).
// The case is locked (`<case>.lock`) for the whole run, so two ingests cannot write the same case.
import fs from 'node:fs';
import path from 'node:path';
import { Backup, findBackupRoot, type OpenOptions } from '../backup/backup.js';
import { CaseFile, lockCase } from '../timeline/caseFile.js';
import { custodyHeadsPath } from '../timeline/custodyLog.js';
import { assertOutsideEvidence } from '../custody/outputs.js';
import { onAbort, RefusedError, sweepStaleWorkDirsOnce } from '../workdir.js';
import { runExtractors, type RunOptions, type RunSummary } from './runExtractors.js';
import { EXTRACTORS, withDependencies } from '../extractors/registry.js';
import { listingHash } from '../custody/listing.js';
import { recordCaseDigestParallel, FollowingDigest } from '../custody/caseDigest.js';
import { hashEvidence, checkReads, passDetail, type EvidencePassResult } from '../custody/evidencePass.js';
import type { HashAlgorithm } from '../custody/hashWorker.js';
import { TOOL_VERSION } from '../version.js';
import { isoFromUs } from '../formats/appleTime.js';

export interface IngestOptions {
  backupDir: string;
  casePath: string;
  caseNumber?: string;
  examiner?: string;
  agency?: string;
  tz: string;
  region: string;
  /** Run only these extractors (and those they depend on, which are added and named in the result). */
  only?: string[];
  open?: OpenOptions;
  /** Hash algorithms of the evidence pass; SHA-256 always. */
  hashAlgorithms?: HashAlgorithm[];
  onHashProgress?: (doneBytes: number, totalBytes: number) => void;
  onHashDone?: (pass: EvidencePassResult) => void;
  onProgress?: RunOptions['onProgress'];
  onExtractorDone?: RunOptions['onExtractorDone'];
  /** Recover deleted and superseded records from every SQLite evidence file (default true). */
  recover?: boolean;
}

export interface IngestResult {
  casePath: string;
  summaries: RunSummary[];
  events: number;
  warnings: number;
  listingUnchanged: boolean;
  timings: Record<string, number>;
  /** Extractors run only because an --only extractor depends on them. */
  addedDependencies: string[];
  /** Events read from deleted or superseded data (all flagged recovered), and the databases examined. */
  recovered: { events: number; databases: number };
}

/** The case file, its SQLite siblings: what a failed or interrupted ingest removes. */
function removeCaseFiles(p: string): void {
  for (const s of ['', '-wal', '-shm', '-journal']) fs.rmSync(p + s, { force: true });
}

export async function ingest(o: IngestOptions): Promise<IngestResult> {
  sweepStaleWorkDirsOnce(); // working copies a killed run left behind (possibly decrypted)
  const casePath = path.resolve(o.casePath);
  if (fs.existsSync(casePath)) throw new Error(`case file ${casePath} already exists; choose another name or delete it`);
  const selection = o.only ? withDependencies(o.only) : { run: EXTRACTORS, added: [] };
  const root = findBackupRoot(path.resolve(o.backupDir));
  // The case, its .partial, -wal, -shm, lock and custody-heads files all sit beside casePath.
  assertOutsideEvidence(casePath, root, 'the case file');
  if (!fs.existsSync(path.dirname(casePath))) throw new RefusedError(`folder ${path.dirname(casePath)} does not exist; create it first`);
  const lock = lockCase(casePath, `ingest ${root}`);
  let backup: Backup | null = null;
  let caseFile: CaseFile | null = null;
  let following: FollowingDigest | null = null;
  const partial = `${casePath}.partial`;
  const stopRemovingPartial = onAbort(() => removeCaseFiles(partial));
  try {
    // Checked again under the lock: another ingest may have finished this case meanwhile.
    if (fs.existsSync(casePath)) throw new Error(`case file ${casePath} already exists; choose another name or delete it`);
    // Leftovers of a run that died (nobody holds the lock): its half-written case and the heads of a case that is gone.
    removeCaseFiles(partial);
    fs.rmSync(custodyHeadsPath(casePath), { force: true });
    const before = await listingHash(root);
    backup = await Backup.open(root, o.open);
    caseFile = CaseFile.create(partial);
    const cf = caseFile;
    cf.setMeta('ingest_state', 'running'); // until the final step: a file left by a killed run says so itself
    // The events are digested on a worker while they are written (see FollowingDigest).
    following = FollowingDigest.start(cf.db, partial);
    const now = new Date().toISOString();
    for (const [k, v] of Object.entries({
      tool_version: TOOL_VERSION,
      case_number: o.caseNumber ?? '',
      examiner: o.examiner ?? '',
      agency: o.agency ?? '',
      time_zone: o.tz,
      region: o.region,
      created_at: now,
    }))
      cf.setMeta(k, v);

    const info = backup.info;
    cf.db
      .prepare(`INSERT INTO evidence (backup_path, device_name, product_type, ios_version, build_version, serial, udid, imei, phone_number, encrypted,
      backup_date, snapshot_state, is_full_backup, manifest_db_sha256, manifest_plist_sha256, info_plist_sha256, status_plist_sha256, listing_sha256_before, extra_json)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
      .run(
        backup.root,
        info?.deviceName ?? null,
        info?.productType ?? null,
        info?.productVersion ?? null,
        info?.buildVersion ?? null,
        info?.serialNumber ?? null,
        info?.udid ?? null,
        info?.imei ?? null,
        info?.phoneNumber ?? null,
        backup.encrypted ? 1 : 0,
        isoFromUs((info?.lastBackupDate ?? backup.status?.date)?.getTime() ? (info?.lastBackupDate ?? backup.status!.date)!.getTime() * 1000 : null),
        backup.status?.snapshotState ?? null,
        backup.status?.isFullBackup == null ? null : backup.status.isFullBackup ? 1 : 0,
        backup.topLevelHashes['Manifest.db'] ?? null,
        backup.topLevelHashes['Manifest.plist'] ?? null,
        backup.topLevelHashes['Info.plist'] ?? null,
        backup.topLevelHashes['Status.plist'] ?? null,
        before.sha256,
        JSON.stringify({
          itunes_version: info?.iTunesVersion ?? null,
          installed_applications: info?.installedApplications ?? null,
          manifest_entries: backup.allEntries().length,
          listing_files: before.files,
          listing_bytes: before.bytes,
        }),
      );
    for (const [name, sha256] of Object.entries(backup.topLevelHashes)) {
      const size = fs.statSync(path.join(backup.root, name)).size;
      cf.recordFile({ domain: null, relativePath: name, fileId: null, size, sha256, status: 'ok', readBy: 'backup' });
    }
    for (const p of backup.problems) cf.addWarning({ extractor: 'backup', severity: p.refused ? 'error' : 'warning', message: `${p.file}: ${p.message}` });

    // Wall-clock seconds per phase, kept in the custody row: where an ingest spends its time.
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (phase: string) => {
      const t = performance.now();
      timings[phase] = Math.round(t - mark) / 1000;
      mark = t;
    };
    // Chain of custody: every file of the backup is hashed on all cores before extraction, and compared with
    // what the extractors read afterwards.
    // The databases the selected extractors read (and their WAL/SHM/journal) are copied by the pass's own read,
    // so each is read and hashed once (Backup.read hands the copy over; docs/custody.md).
    const copies = new Set(selection.run.flatMap((x) => x.sources.flatMap((s) => ['', '-wal', '-shm', '-journal'].map((side) => `${s.domain}/${s.path}${side}`))));
    const pass = await hashEvidence(backup, cf, { algorithms: o.hashAlgorithms, onProgress: o.onHashProgress, copies });
    o.onHashDone?.(pass);
    lap('evidence_hashing');
    if (selection.added.length) {
      cf.addWarning({
        extractor: 'pipeline',
        severity: 'info',
        message: `--only ${o.only!.join(',')} also ran ${selection.added.join(', ')}, which ${selection.added.length > 1 ? 'they depend' : 'it depends'} on`,
      });
    }
    const summaries = await runExtractors(backup, cf, selection.run, {
      tz: o.tz,
      region: o.region,
      onProgress: o.onProgress,
      onExtractorDone: o.onExtractorDone,
      recover: o.recover ?? true,
    });
    lap('extraction');
    // Of which: copying (or decrypting) the files extractors read into the work folder.
    timings.working_copies = Math.round(backup.readStats.seconds * 1000) / 1000;
    timings.working_copies_made_by_hash_pass = backup.readStats.reused;
    const afterDetail = passDetail(pass, checkReads(cf, pass));
    cf.commit();

    const after = await listingHash(root);
    const unchanged = after.sha256 === before.sha256;
    cf.db.prepare('UPDATE evidence SET listing_sha256_after = ?, listing_unchanged = ?').run(after.sha256, unchanged ? 1 : 0);
    if (!unchanged)
      cf.addWarning({ extractor: 'custody', severity: 'error', message: `the evidence folder listing changed during ingest: ${after.differences(before).join('; ')}` });
    const events = Number((cf.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
    const recovered = {
      events: Number(cf.db.prepare('SELECT count(*) FROM events WHERE recovered = 1').pluck().get()),
      databases: Number(cf.db.prepare('SELECT count(*) FROM recovery_runs').pluck().get()),
    };
    const warnings = Number((cf.db.prepare('SELECT count(*) AS n FROM warnings').get() as { n: number }).n);
    lap('listing_after');
    // Everything is extracted: the state is part of the digested content, and completeness also needs the
    // ingest custody row below, so a run killed in between still counts as incomplete.
    cf.setMeta('ingest_state', 'complete');
    // Digests of every content table, kept in the custody row: verify names any row edited later. The workers
    // read the committed content while this thread builds the indexes and the full-text index (no content change).
    const known = following ? { table: following.table, blocks: await following.finish() } : undefined;
    following = null;
    const digesting = recordCaseDigestParallel(cf.db, partial, known);
    cf.finalizeIngest();
    lap('indexes_and_full_text');
    const caseDigest = await digesting;
    lap('case_digest_wait');
    cf.custody({
      action: 'ingest',
      actor: o.examiner || undefined,
      detail: {
        backup_path: backup.root,
        encrypted: backup.encrypted,
        manifest_db_sha256: backup.topLevelHashes['Manifest.db'] ?? null,
        evidence_listing_sha256_before: before.sha256,
        evidence_listing_sha256_after: after.sha256,
        evidence_unchanged: unchanged,
        only: o.only ?? null,
        recover: o.recover ?? true,
        recovered,
        events,
        warnings,
        extractors: summaries.map((s) => ({ id: s.extractor, status: s.status, events: s.events, warnings: s.warnings })),
        evidence_listing_differences: unchanged ? [] : after.differences(before),
        ...afterDetail,
        timings_s: timings,
        case_digest: caseDigest,
      },
      inputs: [
        { name: 'evidence folder listing', sha256: before.sha256 },
        { name: 'Manifest.db', sha256: backup.topLevelHashes['Manifest.db'] ?? null },
      ],
      outputs: [{ name: 'case content digest', sha256: caseDigest.sha256 }],
    });
    cf.close();
    caseFile = null;
    fs.renameSync(partial, casePath);
    return { casePath, summaries, events, warnings, listingUnchanged: unchanged, timings, addedDependencies: selection.added, recovered };
  } finally {
    if (following) await following.cancel();
    if (caseFile) {
      try {
        caseFile.close();
      } catch {
        /* already failing */
      }
      removeCaseFiles(partial);
    }
    backup?.close();
    stopRemovingPartial();
    lock.release();
  }
}
