// Manifest.db (iOS 10+): the index of every file in the backup. Entries are loaded once into memory
// (a few hundred bytes each); MBFile blobs are decoded lazily, only for files somebody asks about.
import { columnsOf } from '../sqlite.js';
import Database from 'better-sqlite3';
import { parsePlist, unarchive, isDict, PlistError, type PlistValue } from '../formats/plist.js';

export const FILE_ID_RE = /^[0-9a-f]{40}$/;

export interface MBFile {
  size: number | null;
  mode: number | null;
  lastModified: number | null;
  lastStatusChange: number | null;
  birth: number | null;
  protectionClass: number | null;
  encryptionKey: Buffer | null;
  target: string | null;
  inode: number | null;
}

export interface ManifestEntry {
  fileID: string;
  domain: string;
  relativePath: string;
  flags: number;
  /** Raw MBFile blob; decode with decodeMBFile. */
  blob: Buffer | null;
  /** Already decoded (Manifest.mbdb records carry their fields, not a blob); Backup.decode returns it. */
  mbfile?: MBFile;
}

export class ManifestError extends Error {}

const TYPE_FLAGS: Record<number, string> = { 1: 'file', 2: 'directory', 4: 'symlink' };
export function flagName(flags: number): string {
  return TYPE_FLAGS[flags] ?? `flags=${flags}`;
}

/** Read every Files row from a working copy of Manifest.db. */
export function readManifestDb(path: string): ManifestEntry[] {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (e) {
    throw new ManifestError(`Manifest.db cannot be opened: ${(e as Error).message}`);
  }
  try {
    const names = columnsOf(db, 'Files');
    for (const need of ['fileID', 'domain', 'relativePath', 'flags']) {
      if (!names.has(need)) throw new ManifestError(`Manifest.db has no Files.${need} column (not an iOS 10+ manifest?)`);
    }
    const hasBlob = names.has('file');
    const rows = db
      .prepare(`SELECT fileID, domain, relativePath, flags${hasBlob ? ', file' : ''} FROM Files`)
      .raw()
      .all() as unknown[][];
    return rows.map((r) => ({
      fileID: String(r[0] ?? ''),
      domain: String(r[1] ?? ''),
      relativePath: String(r[2] ?? ''),
      flags: Number(r[3] ?? 0),
      blob: hasBlob && Buffer.isBuffer(r[4]) ? (r[4] as Buffer) : null,
    }));
  } catch (e) {
    if (e instanceof ManifestError) throw e;
    throw new ManifestError(`Manifest.db is not a readable SQLite database: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

function num(v: PlistValue | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  return null;
}

/** Decode one MBFile NSKeyedArchiver blob. Throws PlistError when it is damaged. */
export function decodeMBFile(blob: Buffer): MBFile {
  const root = unarchive(parsePlist(blob, 'MBFile'), 'MBFile');
  if (!isDict(root)) throw new PlistError('MBFile root is not a dictionary');
  const key = root['EncryptionKey'];
  const target = root['Target'];
  return {
    size: num(root['Size']),
    mode: num(root['Mode']),
    lastModified: num(root['LastModified']),
    lastStatusChange: num(root['LastStatusChange']),
    birth: num(root['Birth']),
    protectionClass: num(root['ProtectionClass']),
    inode: num(root['InodeNumber']),
    encryptionKey: Buffer.isBuffer(key) ? key : null,
    target: typeof target === 'string' ? target : null,
  };
}
