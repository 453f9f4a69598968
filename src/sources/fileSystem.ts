// A folder holding a file-system extraction (`…/private/var/mobile/…` under any prefix), read in place: walked
// once with lstat, every read through resolveInside (a link out of the folder is refused, never followed).
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { copyHashing, type PayloadLocation, type ReadResult } from '../backup/backup.js';
import type { ManifestEntry } from '../backup/manifest.js';
import { resolveInside, linkNote, readRegular } from '../backup/safePath.js';
import { FS_MARKER } from './domains.js';
import { SourceError, TreeSource, underPrefix, type TreeFile } from './tree.js';

/** How deep below the given folder `private/var/mobile` is looked for. */
const MAX_PREFIX_DEPTH = 4;

/** The folder (relative to `dir`, '' for itself) holding private/var/mobile, or null. Throws when there are several. */
export function findTreePrefix(dir: string): string | null {
  const found: string[] = [];
  const walk = (rel: string, depth: number) => {
    const abs = path.join(dir, rel);
    try {
      if (fs.lstatSync(path.join(abs, FS_MARKER)).isDirectory()) {
        found.push(rel);
        return;
      }
    } catch {
      /* not here */
    }
    if (depth >= MAX_PREFIX_DEPTH) return;
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) if (d.isDirectory() && d.name !== 'private') walk(rel ? `${rel}/${d.name}` : d.name, depth + 1);
  };
  walk('', 0);
  if (found.length > 1) throw new SourceError(`${dir} holds ${found.length} file-system trees (${found.join(', ')}); name one of them`);
  return found[0] ?? null;
}

export class FileSystemSource extends TreeSource {
  private constructor(root: string) {
    super('folder', root);
  }

  static open(dir: string): FileSystemSource {
    const root = path.resolve(dir);
    const prefix = findTreePrefix(root);
    if (prefix === null) throw new SourceError(`${root} holds no ${FS_MARKER} folder: not a file-system extraction`);
    const s = new FileSystemSource(root);
    try {
      s.prefix = prefix;
      s.walk();
      s.finishIndex();
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  private walk(): void {
    const walk = (dir: string): void => {
      for (const it of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, it.name);
        if (it.isDirectory()) {
          walk(full);
          continue;
        }
        const st = fs.lstatSync(full);
        if (st.isDirectory()) {
          walk(full); // a file system that reports no entry types (d_type unknown)
          continue;
        }
        const diskPath = path.relative(this.root, full).split(path.sep).join('/');
        const f: TreeFile = {
          diskPath,
          fsPath: underPrefix(diskPath, this.prefix),
          size: st.size,
          mtime: Math.floor(st.mtimeMs / 1000),
          mode: st.mode,
          kind: st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other',
        };
        if (f.kind !== 'file') {
          const r = resolveInside(this.root, diskPath);
          if (r.refused && r.kind === 'directory') f.note = `symbolic link to a folder inside the evidence (${r.linkedTo ?? '?'}); not followed`;
          else if (r.refused) f.refused = r.refused;
          else if (f.kind === 'symlink') {
            // A link that stays inside is followed when read, and said so (as in a backup folder).
            f.note = linkNote(r) ?? undefined;
            f.kind = 'file';
            f.size = r.size;
          }
        }
        this.files.push(f);
      }
    };
    walk(this.root);
  }

  protected readSmall(f: TreeFile): Buffer | null {
    const r = resolveInside(this.root, f.diskPath);
    if (!r.path) return null;
    try {
      return readRegular(r.path);
    } catch {
      return null;
    }
  }

  locate(entry: ManifestEntry): PayloadLocation {
    const f = this.fileFor(entry);
    if (!f) return { path: null, rel: null, status: 'missing', kind: 'missing', size: 0, note: 'not in the file-system tree' };
    const r = resolveInside(this.root, f.diskPath);
    if (r.refused) return { path: null, rel: f.diskPath, status: 'unreadable', kind: r.kind, size: 0, note: r.refused };
    if (!r.path) return { path: null, rel: f.diskPath, status: 'missing', kind: 'missing', size: 0, note: 'gone from the folder since it was indexed' };
    return { path: r.path, rel: f.diskPath, status: 'ok', kind: r.kind, size: r.size, note: linkNote(r) };
  }

  async read(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult> {
    const mbfile = this.decode(entry);
    const base: ReadResult = { entry, mbfile, path: null, status: 'missing', size: null, sha256: null, note: null };
    const loc = this.locate(entry);
    if (loc.status !== 'ok' || !loc.path) return { ...base, status: loc.status, note: loc.note };
    const dir = dest?.dir ?? fs.mkdtempSync(path.join(this.workDir, 'f-'));
    const out = path.join(dir, dest?.name ?? 'payload');
    const hash = createHash('sha256');
    let size = 0;
    try {
      await copyHashing(loc.path, out, (c) => {
        hash.update(c);
        size += c.length;
      });
      return { ...base, path: out, status: 'ok', size, sha256: hash.digest('hex'), note: loc.note };
    } catch (e) {
      return { ...base, status: 'unreadable', note: (e as Error).message };
    }
  }
}
