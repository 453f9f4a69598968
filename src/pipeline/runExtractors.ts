// Runs the extractors against an opened backup, writing into the case file. One broken artifact never
// stops the others: its error becomes a recorded warning and an extractor_runs row with status "failed".
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ReadResult } from '../backup/backup.js';
import type { EvidenceSource } from '../backup/source.js';
import type { ManifestEntry } from '../backup/manifest.js';
import type { CaseFile, EventInput } from '../timeline/caseFile.js';
import { isSqliteFile } from '../sqlite.js';
import { walWarning } from '../backup/wal.js';
import { startRecovery, emitRecovered, RECOVERY_EXTRACTOR, type RecoveryJob } from './recover.js';
import { ContactResolver } from '../extractors/contactResolver.js';
import { ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase, type OpenedFile, type WarnOptions } from '../extractors/types.js';

export interface RunOptions {
  tz: string;
  region: string;
  onProgress?: (extractor: Extractor, done: number, total?: number) => void;
  onExtractorDone?: (extractor: Extractor, status: string, events: number) => void;
  /** Read deleted and superseded records from every SQLite evidence file (default on; --no-recover). */
  recover?: boolean;
}

export interface RunSummary {
  extractor: string;
  status: 'ok' | 'not-present' | 'partial' | 'failed';
  events: number;
  warnings: number;
  message: string | null;
}

const SQLITE_SIDECARS = ['-wal', '-shm', '-journal'];

export async function runExtractors(backup: EvidenceSource, caseFile: CaseFile, extractors: Extractor[], opts: RunOptions): Promise<RunSummary[]> {
  const contacts = new ContactResolver(opts.region);
  // Several devices in one case: the address books of the devices already ingested name this one's numbers too
  // (matched by E.164 number and lower-cased e-mail, like its own contacts).
  const others = caseFile.db
    .prepare(`SELECT h.value, c.display_name FROM contact_handles h JOIN contacts c ON c.id = h.contact_id
      WHERE c.device_id IS NOT ? AND c.display_name IS NOT NULL`)
    .all(caseFile.deviceId) as { value: string; display_name: string }[];
  for (const o of others) contacts.add(o.value, o.display_name);
  const summaries: RunSummary[] = [];
  // Each evidence database is recovered once, by the first extractor that opens it (another may read it again).
  const recoveredFiles = new Set<number>();
  for (const ex of extractors) {
    let events = 0;
    let warnings = 0;
    let problems = 0;
    let opened = 0;
    const startedAt = new Date().toISOString();
    const databases: Database.Database[] = [];
    const recoveries: { job: RecoveryJob | Promise<RecoveryJob>; db: Database.Database }[] = [];

    const record = (r: ReadResult): number =>
      caseFile.recordFile({
        domain: r.entry.domain,
        relativePath: r.entry.relativePath,
        fileId: r.entry.fileID,
        flags: r.entry.flags,
        size: r.size,
        manifestSize: r.mbfile?.size ?? null,
        mtimeUtcUs: r.mbfile?.lastModified != null ? r.mbfile.lastModified * 1_000_000 : null,
        sha256: r.sha256,
        status: r.status,
        readBy: ex.id,
        note: r.note,
      });

    // The evidence pass checks a plain backup's WAL files; an encrypted one's can only be read once decrypted.
    const walCheck = (r: ReadResult, fileRowId: number) => {
      const w = backup.encrypted && r.wal ? walWarning(`${r.entry.domain}/${r.entry.relativePath}`, r.wal) : null;
      if (w) ctx.warn(w, { fileRowId, severity: 'warning' });
    };
    const ctx: ExtractorContext = {
      backup,
      caseFile,
      tz: opts.tz,
      region: opts.region,
      contacts,
      async openEntry(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<OpenedFile | null> {
        const r = await backup.read(entry, dest);
        const fileRowId = record(r);
        walCheck(r, fileRowId);
        if (r.status !== 'ok' || !r.path) {
          ctx.warn(`${entry.domain}/${entry.relativePath}: ${r.status}${r.note ? ` (${r.note})` : ''}`, { fileRowId, severity: r.status === 'missing' ? 'warning' : 'error' });
          return null;
        }
        if (r.note) ctx.warn(`${entry.domain}/${entry.relativePath}: ${r.note}`, { fileRowId, severity: 'info' });
        opened++;
        return { entry, path: r.path, fileRowId, sha256: r.sha256!, size: fs.statSync(r.path).size };
      },
      async openFile(domain, relativePath) {
        const entry = backup.get(domain, relativePath);
        if (entry?.flags !== 1) return null;
        return ctx.openEntry(entry);
      },
      async openDatabase(domain, relativePath): Promise<OpenedDatabase | null> {
        const entry = backup.get(domain, relativePath);
        if (entry?.flags !== 1) return null;
        const dir = fs.mkdtempSync(path.join(backup.workDir, `${ex.id}-`));
        const name = path.basename(relativePath) || 'db';
        const r = await backup.read(entry, { dir, name });
        const fileRowId = record(r);
        walCheck(r, fileRowId);
        if (r.status !== 'ok' || !r.path) throw new ArtifactError(`${domain}/${relativePath}: ${r.status}${r.note ? ` (${r.note})` : ''}`);
        opened++;
        const main: OpenedFile = { entry, path: r.path, fileRowId, sha256: r.sha256!, size: fs.statSync(r.path).size };
        if (r.note) ctx.warn(`${domain}/${relativePath}: ${r.note}`, { fileRowId, severity: 'info' });
        // Siblings are separate manifest entries; data can exist only in the WAL.
        for (const side of SQLITE_SIDECARS) {
          const sib = backup.get(domain, relativePath + side);
          if (sib && sib.flags === 1) await ctx.openEntry(sib, { dir, name: name + side });
        }
        if (!isSqliteFile(main.path)) {
          caseFile.recordFile({ domain, relativePath, fileId: entry.fileID, status: 'not-sqlite', note: 'not an SQLite database' });
          throw new ArtifactError(`${domain}/${relativePath} is not an SQLite database`);
        }
        // Deleted and superseded records are read from the bytes now: opening the copy with SQLite checkpoints its WAL.
        // (A large copy without -wal or -journal, which SQLite only reads, is recovered on a second thread meanwhile.)
        const job = opts.recover && !recoveredFiles.has(fileRowId) ? startRecovery(`${domain}/${relativePath}`, fileRowId, main.path) : null;
        let db: Database.Database;
        try {
          db = new Database(main.path); // the copy: WAL replay and -shm writes stay in the temp folder
          db.prepare('SELECT count(*) FROM sqlite_master').get();
          db.defaultSafeIntegers(true);
        } catch (e) {
          throw new ArtifactError(`${domain}/${relativePath} cannot be read as SQLite: ${(e as Error).message}`);
        }
        databases.push(db);
        if (job) {
          recoveredFiles.add(fileRowId);
          recoveries.push({ job, db });
        }
        return { ...main, db };
      },
      emit(event: EventInput) {
        events++;
        return caseFile.addEvent(event, ex.id);
      },
      countEvents(n: number) {
        events += n;
        if (n > 0) caseFile.written(n);
      },
      warn(message: string, o: WarnOptions = {}) {
        warnings++;
        if ((o.severity ?? 'warning') !== 'info') problems++;
        caseFile.addWarning({
          extractor: ex.id,
          fileId: o.fileRowId ?? null,
          severity: o.severity ?? 'warning',
          message,
          sourceTable: o.table ?? null,
          sourceRowid: o.rowid ?? null,
        });
      },
      examined(n: number) {
        opened += n;
      },
      progress(done, total) {
        opts.onProgress?.(ex, done, total);
      },
    };

    let status: RunSummary['status'] = 'ok';
    let message: string | null = null;
    caseFile.begin();
    try {
      await ex.run(ctx);
      if (opened === 0 && events === 0) status = 'not-present';
      else if (problems > 0) status = 'partial'; // info notes (e.g. EXIF/DB disagreements) are findings, not failures
    } catch (e) {
      status = 'failed';
      message = e instanceof ArtifactError ? e.message : `${(e as Error).message}`;
      ctx.warn(`${ex.title}: ${message}`, { severity: 'error' });
      if (!(e instanceof ArtifactError) && process.env.IOS_TIMELINE_DEBUG) console.error(e);
    } finally {
      // Recovered records after the live ones, so an earlier version can join its live row's conversation.
      for (const r of recoveries) {
        const job = await r.job; // a thread's job never rejects: a failure is a job with an error
        try {
          emitRecovered(caseFile, job, r.db, contacts);
        } catch (e) {
          caseFile.addWarning({
            extractor: RECOVERY_EXTRACTOR,
            fileId: job.fileRowId,
            severity: 'error',
            message: `${job.name}: recovered records could not be written (${(e as Error).message})`,
          });
        }
      }
      for (const db of databases) {
        try {
          db.close();
        } catch {
          /* already closed */
        }
      }
      caseFile.commit();
    }
    if (status === 'not-present') {
      const looked = ex.sources.map((s) => `${s.domain}/${s.path}`).join(', ');
      message =
        ex.encryptedOnly && !backup.encrypted
          ? `not in this backup: Apple keeps these files only in encrypted backups, and this one is not encrypted (looked for ${looked})`
          : `not present in this backup (looked for ${looked})`;
    }
    caseFile.recordExtractorRun({ extractor: ex.id, title: ex.title, status, events, warnings, startedAt, finishedAt: new Date().toISOString(), message });
    summaries.push({ extractor: ex.id, status, events, warnings, message });
    opts.onExtractorDone?.(ex, status, events);
  }
  return summaries;
}
