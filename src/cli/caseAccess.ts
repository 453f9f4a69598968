// Opening a case for a command that writes (a report, an export, a verify row): outputs and the case itself
// must lie outside the evidence it was made from, the case is locked while the command runs, and a case whose
// ingest never finished is refused unless --allow-incomplete.
import fs from 'node:fs';
import { CaseFile, lockCase, type CaseLock } from '../timeline/caseFile.js';
import { assertOutsideEvidence, evidenceRootsOf } from '../custody/outputs.js';
import { UsageError } from './errors.js';

export interface OpenedCase {
  cf: CaseFile;
  lock: CaseLock;
  complete: boolean;
  state: string;
  close(): void;
}

/**
 * Check the outputs against the case's evidence folders, and (unless allowed) that the case is complete. Read-only,
 * so a refused command leaves every file as it was.
 */
export function checkCaseBeforeWriting(casePath: string, outputs: { path: string; what: string }[], allowIncomplete: boolean): { complete: boolean } {
  if (!fs.existsSync(casePath)) throw new UsageError(`case file ${casePath} does not exist`);
  const ro = CaseFile.open(casePath, { readonly: true });
  let roots: string[];
  let complete: boolean;
  try {
    roots = evidenceRootsOf(ro);
    complete = ro.requireComplete(allowIncomplete).complete;
  } finally {
    ro.db.close();
  }
  for (const root of roots) {
    for (const o of [...outputs, { path: casePath, what: 'the case file' }]) assertOutsideEvidence(o.path, root, o.what);
  }
  return { complete };
}

export function openCaseForWriting(casePath: string, command: string, o: { outputs: { path: string; what: string }[]; allowIncomplete?: boolean }): OpenedCase {
  checkCaseBeforeWriting(casePath, o.outputs, !!o.allowIncomplete);
  const lock = lockCase(casePath, command);
  let cf: CaseFile | null = null;
  try {
    cf = CaseFile.open(casePath);
    const s = cf.requireComplete(o.allowIncomplete);
    const opened = cf;
    return {
      cf,
      lock,
      complete: s.complete,
      state: s.state,
      close: () => {
        try {
          opened.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (e) {
    try {
      cf?.close();
    } finally {
      lock.release();
    }
    throw e;
  }
}
