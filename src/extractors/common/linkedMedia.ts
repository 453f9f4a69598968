// A media file an app database names (WhatsApp media, voicemail .amr, voice memo .m4a): looked up in the
// manifest, hashed through the backup reader (recorded in `files`), its working copy dropped once hashed.
// A file the backup does not hold is recorded with status 'missing'; a path that would leave the app's folder
// ('..', absolute, NUL) is never looked up.
import fs from 'node:fs';
import path from 'node:path';
import { fileIdFor } from '../../backup/backup.js';
import type { ExtractorContext } from '../types.js';
import { makeThumbnail, type Thumbnail } from '../thumbnail.js';

export interface LinkedMedia {
  status: string;
  fileRowId: number | null;
  sha256: string | null;
  size: number | null;
  domain: string;
  relativePath: string | null;
  thumbnail: Thumbnail | null;
  reason?: string;
}

/** A relative path made of plain segments (no '..', '.', empty segment, NUL or leading '/'), else null. */
export function safeRelative(p: string): string | null {
  if (!p || p.includes('\0') || p.startsWith('/') || p.includes('\\')) return null;
  const segs = p.split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return null;
  return p;
}

export async function linkMedia(
  ctx: ExtractorContext,
  extractorId: string,
  domain: string,
  relativePath: string | null,
  opts: { imageMime?: string | null; reason?: string } = {},
): Promise<LinkedMedia> {
  const base = { domain, relativePath, sha256: null, size: null, thumbnail: null };
  if (relativePath === null) return { ...base, status: 'no-path', fileRowId: null, reason: opts.reason ?? 'no file path in the row' };
  const entry = ctx.backup.get(domain, relativePath);
  if (!entry) {
    const fileRowId = ctx.caseFile.recordFile({
      domain,
      relativePath,
      fileId: fileIdFor(domain, relativePath),
      status: 'missing',
      readBy: extractorId,
      note: 'media file not listed in Manifest.db',
    });
    return { ...base, status: 'missing', fileRowId };
  }
  if (entry.flags !== 1) {
    const fileRowId = ctx.caseFile.recordFile({
      domain,
      relativePath,
      fileId: entry.fileID,
      flags: entry.flags,
      status: 'listed-only',
      readBy: extractorId,
      note: 'not a regular file',
    });
    return { ...base, status: 'listed-only', fileRowId };
  }
  const opened = await ctx.openEntry(entry);
  if (!opened) {
    const row = ctx.caseFile.findFile(domain, relativePath);
    return { ...base, status: row?.status ?? 'unreadable', fileRowId: row ? Number(row.id) : null };
  }
  let thumbnail: Thumbnail | null = null;
  if (opts.imageMime) thumbnail = await makeThumbnail(opened.path, opts.imageMime);
  const dir = path.dirname(opened.path);
  if (dir.startsWith(ctx.backup.workDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
  return { ...base, status: 'ok', fileRowId: opened.fileRowId, sha256: opened.sha256, size: opened.size, thumbnail };
}
