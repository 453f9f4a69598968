// Opening a case for a command that writes (a report, an export, a verify row): outputs and the case itself
// must lie outside the evidence it was made from, the case is locked while the command runs, and a case whose
// ingest never finished is refused unless --allow-incomplete.
import fs from 'node:fs';
import { CaseFile, lockCase, type CaseLock } from '../timeline/caseFile.js';
import { assertOutsideEvidence, evidenceRootsOf } from '../custody/outputs.js';
import { UsageError } from './errors.js';

export interface OpenedCase { cf: CaseFile; lock: CaseLock; complete: boolean; state: string; close(): void }

/** Check the outputs against the case's evidence folders; read-only, so nothing is written before the check. */
export function checkOutputsOutsideEvidence(casePath: string, outputs: { path: string; what: string }[]): void {
  if (!fs.existsSync(casePath)) throw new UsageError(`case file ${casePath} does not exist`);
  const ro = CaseFile.open(casePath, { readonly: true });
  let roots: string[];
  try { roots = evidenceRootsOf(ro); } finally { ro.db.close(); }
  for (const root of roots) {
    for (const o of [...outputs, { path: casePath, what: 'the case file' }]) assertOutsideEvidence(o.path, root, o.what);
  }
}

export function openCaseForWriting(casePath: string, command: string, o: { outputs: { path: string; what: string }[]; allowIncomplete?: boolean }): OpenedCase {
  checkOutputsOutsideEvidence(casePath, o.outputs);
  const lock = lockCase(casePath, command);
  let cf: CaseFile | null = null;
  try {
    cf = CaseFile.open(casePath);
    const s = cf.requireComplete(o.allowIncomplete);
    const opened = cf;
    return { cf, lock, complete: s.complete, state: s.state, close: () => { try { opened.close(); } finally { lock.release(); } } };
  } catch (e) {
    try { cf?.close(); } finally { lock.release(); }
    throw e;
  }
}
