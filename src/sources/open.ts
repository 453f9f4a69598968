// One entry point for every kind of evidence: a backup folder, a file-system folder, or a tar/tar.gz/zip of one.
// Chosen by what the path is (a file is sniffed by its first bytes), never by its name.
import fs from 'node:fs';
import path from 'node:path';
import { Backup, BackupError, findBackupRoot, type OpenOptions } from '../backup/backup.js';
import type { EvidenceSource } from '../backup/source.js';
import { ArchiveSource, sniffArchive } from './archive.js';
import { FileSystemSource, findTreePrefix } from './fileSystem.js';
import type { SourceOptions } from './tree.js';

export interface OpenEvidenceOptions extends SourceOptions {
  /** For backups: unlocking, locked opens (see Backup.open). */
  backup?: OpenOptions;
}

/** The evidence a path names: the backup root, the file-system folder, or the archive file. Throws a one-line error. */
export function evidenceRoot(p: string): { root: string; kind: 'backup' | 'folder' | 'archive' } {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new BackupError(`${abs} does not exist`);
  }
  if (st.isFile()) {
    if (sniffArchive(abs)) return { root: abs, kind: 'archive' };
    throw new BackupError(`${abs} is not a folder (a backup or a file-system extraction) nor a tar, tar.gz or zip archive (by its first bytes)`);
  }
  if (!st.isDirectory()) throw new BackupError(`${abs} is neither a folder nor an archive file`);
  try {
    return { root: findBackupRoot(abs), kind: 'backup' };
  } catch (e) {
    // Not a backup: a file-system tree is the other kind of folder.
    if (findTreePrefix(abs) !== null) return { root: abs, kind: 'folder' };
    throw new BackupError(`${(e as Error).message}; nor a file-system extraction (no private/var/mobile in it)`);
  }
}

export async function openEvidence(p: string, opts: OpenEvidenceOptions = {}): Promise<EvidenceSource> {
  const { root, kind } = evidenceRoot(p);
  if (kind === 'backup') return Backup.open(root, opts.backup);
  if (kind === 'folder') return FileSystemSource.open(root);
  return ArchiveSource.open(root, opts);
}
