// The ingest, one stage after another: open the source → hash every evidence file → extractors → digest →
// custody. The library call and the CLI run exactly this; the CLI only adds progress output.
// The case file is written under a temporary name and renamed only when everything succeeded, so a failed
// run (wrong password, unreadable manifest) leaves nothing half-written. A run killed with kill -9 can leave
// `<case>.partial`: it says meta.ingest_state = 'running', and every command refuses it (see CaseFile.requireComplete).
// The case is locked (`<case>.lock`) for the whole run, so two ingests cannot write the same case.
import fs from 'node:fs';
import path from 'node:path';
import { Backup, type OpenOptions } from '../backup/backup.js';
import type { EvidenceSource } from '../backup/source.js';
import { evidenceRoot, openEvidence } from '../sources/open.js';
import type { TreeSource } from '../sources/tree.js';
import { CaseFile, lockCase } from '../timeline/caseFile.js';
import { DEVICE_TABLES } from '../timeline/schema.js';
import { custodyHeadsPath } from '../timeline/custodyLog.js';
import { assertOutsideEvidence } from '../custody/outputs.js';
import { onAbort, RefusedError, sweepStaleWorkDirsOnce } from '../workdir.js';
import { runExtractors, type RunOptions, type RunSummary } from './runExtractors.js';
import { EXTRACTORS, withDependencies } from '../extractors/registry.js';
import { listingHash } from '../custody/listing.js';
import { recordCaseDigestParallel } from '../custody/caseDigest.js';
import { hashEvidence, checkReads, passDetail, type EvidencePassResult } from '../custody/evidencePass.js';
import type { HashAlgorithm } from '../custody/hashWorker.js';
import { TOOL_VERSION } from '../version.js';
import { isoFromUs } from '../formats/appleTime.js';

export interface IngestOptions {
  /** The evidence: a backup folder, a file-system folder, or a tar/tar.gz/zip of one. */
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
  /** Add this source as another device of an existing case (default: the case must not exist yet). */
  addToCase?: boolean;
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
  /** The device id (evidence row) this source got in the case, and how many devices the case now holds. */
  deviceId: number;
  devices: number;
  /** Messages of this source also read from another device of the case (same guid), linked by duplicate_of. */
  linkedDuplicates: number;
}

/** The case file, its SQLite siblings: what a failed or interrupted ingest removes. */
function removeCaseFiles(p: string): void {
  for (const s of ['', '-wal', '-shm', '-journal']) fs.rmSync(p + s, { force: true });
}

/** A source already in the case (same device UDID or same backup folder) is refused: its rows would be there twice. */
export class AlreadyInCaseError extends RefusedError {}

function refuseSameEvidence(cf: CaseFile, backup: EvidenceSource): void {
  const udid = backup.info?.udid ?? null;
  const rows = cf.db.prepare('SELECT id, device_name, udid, backup_path FROM evidence ORDER BY id').all() as {
    id: number;
    device_name: string | null;
    udid: string | null;
    backup_path: string;
  }[];
  for (const r of rows) {
    const sameUdid = udid !== null && r.udid?.toLowerCase() === udid.toLowerCase();
    if (sameUdid || path.resolve(r.backup_path) === backup.root) {
      throw new AlreadyInCaseError(
        `${backup.root} is already in this case as device ${r.id} (${r.device_name ?? 'unnamed'}${sameUdid ? `, UDID ${udid}` : `, same backup folder`}); a source is ingested into a case once`,
      );
    }
  }
}

/**
 * Link the same iMessage read from two devices (same message guid and action, e.g. sender and recipient, or two
 * phones of one Apple ID; a read receipt pairs with the read receipt): the later copy gets duplicate_of = the
 * earliest copy's id. Both rows stay, each with its provenance; conversation views show it once with both
 * sources, and statistics count it once.
 */
export function linkDuplicateMessages(cf: CaseFile, deviceId: number): number {
  // One pass over the message events into an indexed temp table: a correlated json_extract per row would be quadratic.
  cf.db.exec(`DROP TABLE IF EXISTS temp.message_guids;
    CREATE TEMP TABLE message_guids AS SELECT id, device_id, action, json_extract(extra_json, '$.guid') AS guid FROM main.events
      WHERE kind = 'message' AND extra_json IS NOT NULL AND json_extract(extra_json, '$.guid') IS NOT NULL;
    CREATE INDEX temp.message_guids_guid ON message_guids(guid, action, id);`);
  try {
    return cf.db
      .prepare(`UPDATE main.events SET duplicate_of = d.first FROM (
          SELECT m.id, (SELECT min(o.id) FROM temp.message_guids o WHERE o.guid = m.guid AND o.action = m.action AND o.device_id <> m.device_id) AS first
          FROM temp.message_guids m WHERE m.device_id = ?) AS d
        WHERE main.events.id = d.id AND d.first IS NOT NULL AND main.events.duplicate_of IS NULL`)
      .run(deviceId).changes;
  } finally {
    cf.db.exec('DROP TABLE IF EXISTS temp.message_guids');
  }
}

export async function ingest(o: IngestOptions): Promise<IngestResult> {
  sweepStaleWorkDirsOnce(); // working copies a killed run left behind (possibly decrypted)
  const casePath = path.resolve(o.casePath);
  const adding = !!o.addToCase;
  if (adding && !fs.existsSync(casePath)) throw new RefusedError(`case file ${casePath} does not exist; --add adds a device to an existing case`);
  if (!adding && fs.existsSync(casePath))
    throw new Error(`case file ${casePath} already exists; choose another name or delete it (or pass --add to add this source as another device)`);
  const selection = o.only ? withDependencies(o.only) : { run: EXTRACTORS, added: [] };
  const root = evidenceRoot(o.backupDir).root;
  // The case, its .partial, -wal, -shm, lock and custody-heads files all sit beside casePath.
  assertOutsideEvidence(casePath, root, 'the case file');
  if (!fs.existsSync(path.dirname(casePath))) throw new RefusedError(`folder ${path.dirname(casePath)} does not exist; create it first`);
  const lock = lockCase(casePath, `ingest ${root}`);
  let backup: EvidenceSource | null = null;
  let caseFile: CaseFile | null = null;
  const partial = `${casePath}.partial`;
  const stopRemovingPartial = onAbort(() => removeCaseFiles(partial));
  try {
    // Checked again under the lock: another ingest may have finished this case meanwhile.
    if (!adding && fs.existsSync(casePath)) throw new Error(`case file ${casePath} already exists; choose another name or delete it`);
    // Leftovers of a run that died (nobody holds the lock): its half-written case and the heads of a case that is gone.
    removeCaseFiles(partial);
    if (!adding) fs.rmSync(custodyHeadsPath(casePath), { force: true });
    const before = await listingHash(root);
    // An archive copies out, in its one indexing pass, the files these extractors read.
    const want = selection.run.flatMap((x) => [...x.sources, ...(x.reads ?? [])]);
    backup = await openEvidence(root, { backup: o.open, want });
    let cf: CaseFile;
    if (adding) {
      // Another device: the case is copied to the .partial and renamed over the case only when this ingest
      // succeeded, so a failed one leaves the case as it was. Its indexes and full-text index are rebuilt at the end.
      const existing = CaseFile.open(casePath, { readonly: true });
      try {
        existing.requireComplete();
      } finally {
        existing.close();
      }
      fs.copyFileSync(casePath, partial);
      caseFile = CaseFile.open(partial);
      cf = caseFile;
      refuseSameEvidence(cf, backup);
      cf.db.exec(
        'DROP TABLE IF EXISTS events_fts; DROP INDEX IF EXISTS events_ts; DROP INDEX IF EXISTS events_kind; DROP INDEX IF EXISTS events_thread; DROP INDEX IF EXISTS events_device; DROP INDEX IF EXISTS events_duplicate',
      );
      cf.db.pragma('journal_mode = MEMORY'); // as CaseFile.create: WAL only from shareForReading on
      cf.db.pragma('synchronous = OFF');
      cf.db.pragma('foreign_keys = OFF');
      cf.setMeta('ingest_state', 'running');
      // The case's zone and region stay; its number, examiner and agency are filled only where still empty.
      for (const [k, v] of Object.entries({ case_number: o.caseNumber ?? '', examiner: o.examiner ?? '', agency: o.agency ?? '' })) if (v && !cf.getMeta(k)) cf.setMeta(k, v);
    } else {
      caseFile = CaseFile.create(partial);
      cf = caseFile;
      cf.setMeta('ingest_state', 'running'); // until the final step: a file left by a killed run says so itself
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
    }

    const info = backup.info;
    const evidenceRow = cf.db
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
        backup.topLevelHashes[backup.manifestName] ?? null,
        backup.topLevelHashes['Manifest.plist'] ?? null,
        backup.topLevelHashes['Info.plist'] ?? null,
        backup.topLevelHashes['Status.plist'] ?? null,
        before.sha256,
        JSON.stringify({
          itunes_version: info?.iTunesVersion ?? null,
          installed_applications: info?.installedApplications ?? null,
          source_kind: backup.kind,
          ...(backup.kind !== 'backup' ? { tree_prefix: (backup as TreeSource).prefix, tree_files: (backup as TreeSource).files.length } : {}),
          manifest_entries: backup.allEntries().length,
          // Legacy backups (iOS 5–9): manifest_db_sha256 then holds the hash of Manifest.mbdb.
          ...(backup.kind === 'backup' && backup.manifestName !== 'Manifest.db' ? { manifest_file: backup.manifestName } : {}),
          listing_files: before.files,
          listing_bytes: before.bytes,
        }),
      );
    const deviceId = Number(evidenceRow.lastInsertRowid);
    cf.deviceId = deviceId;
    for (const [name, sha256] of Object.entries(backup.topLevelHashes)) {
      const size = fs.statSync(backup.kind === 'backup' ? path.join(backup.root, name) : backup.root).size;
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
      tz: adding ? (cf.getMeta('time_zone') ?? o.tz) : o.tz,
      region: adding ? (cf.getMeta('region') ?? o.region) : o.region,
      onProgress: o.onProgress,
      onExtractorDone: o.onExtractorDone,
      recover: o.recover ?? true,
    });
    lap('extraction');
    // Of which: copying (or decrypting) the files extractors read into the work folder.
    // (Backups count it; the file-system sources copy inside their own readers.)
    const readStats = backup instanceof Backup ? backup.readStats : null;
    if (readStats) {
      timings.working_copies = Math.round(readStats.seconds * 1000) / 1000;
      timings.working_copies_made_by_hash_pass = readStats.reused;
    }
    const afterDetail = passDetail(pass, checkReads(cf, pass));
    cf.commit();
    // Any row written without the device (a path that bypassed the CaseFile writers) is this source's.
    let stamped = 0;
    for (const t of DEVICE_TABLES) stamped += cf.db.prepare(`UPDATE ${t} SET device_id = ? WHERE device_id IS NULL`).run(deviceId).changes;
    const linkedDuplicates = adding ? linkDuplicateMessages(cf, deviceId) : 0;
    const devices = Number(cf.db.prepare('SELECT count(*) FROM evidence').pluck().get());

    const after = await listingHash(root);
    const unchanged = after.sha256 === before.sha256;
    cf.db.prepare('UPDATE evidence SET listing_sha256_after = ?, listing_unchanged = ? WHERE id = ?').run(after.sha256, unchanged ? 1 : 0, deviceId);
    if (!unchanged)
      cf.addWarning({ extractor: 'custody', severity: 'error', message: `the evidence folder listing changed during ingest: ${after.differences(before).join('; ')}` });
    // Counts of this source (the case may hold other devices).
    const count = (sql: string) => Number(cf.db.prepare(sql).pluck().get(deviceId));
    // One pass over the events (no index on device_id yet): all of this source's, and the recovered ones.
    const [events, recoveredEvents] = (cf.db.prepare('SELECT count(*), ifnull(sum(recovered = 1), 0) FROM events WHERE device_id = ?').raw().get(deviceId) as unknown[]).map(
      Number,
    );
    const recovered = {
      events: recoveredEvents,
      databases: count('SELECT count(*) FROM recovery_runs WHERE device_id = ?'),
    };
    const warnings = count('SELECT count(*) FROM warnings WHERE device_id = ?');
    lap('listing_after');
    // Everything is extracted: the state is part of the digested content, and completeness also needs the
    // ingest custody row below, so a run killed in between still counts as incomplete.
    cf.setMeta('ingest_state', 'complete');
    // Digests of every content table, kept in the custody row: verify names any row edited later. The workers
    // read the committed content while this thread builds the indexes and the full-text index (no content change).
    cf.shareForReading();
    const digesting = recordCaseDigestParallel(cf.db, partial);
    cf.finalizeIngest();
    lap('indexes_and_full_text');
    const caseDigest = await digesting;
    lap('case_digest_wait');
    cf.custody({
      action: 'ingest',
      actor: o.examiner || undefined,
      detail: {
        device_id: deviceId,
        device_name: info?.deviceName ?? null,
        udid: info?.udid ?? null,
        added_to_case: adding,
        devices,
        linked_duplicate_messages: linkedDuplicates,
        rows_written_without_device: stamped,
        backup_path: backup.root,
        source_kind: backup.kind,
        encrypted: backup.encrypted,
        manifest_db_sha256: backup.topLevelHashes[backup.manifestName] ?? null,
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
        { name: backup.manifestName, sha256: backup.topLevelHashes[backup.manifestName] ?? null },
      ],
      outputs: [{ name: 'case content digest', sha256: caseDigest.sha256 }],
    });
    cf.close();
    caseFile = null;
    fs.renameSync(partial, casePath);
    return {
      casePath,
      summaries,
      events,
      warnings,
      listingUnchanged: unchanged,
      timings,
      addedDependencies: selection.added,
      recovered,
      deviceId,
      devices,
      linkedDuplicates,
    };
  } finally {
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
