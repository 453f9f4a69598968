// Thumbnails: small images (≤ MAX_THUMBNAIL_BYTES) that extractors store for attachments and photos so
// reports can show them without opening the backup. Reports embed them as data: URIs, so only
// well-known raster formats whose bytes match their declared type are accepted.
import type { CaseFile } from './caseFile.js';

export const MAX_THUMBNAIL_BYTES = 24 * 1024;
export const THUMBNAIL_MIMES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;
export type ThumbnailMime = (typeof THUMBNAIL_MIMES)[number];

/** The image type the bytes actually hold (by magic number), or null. */
export function sniffImage(data: Uint8Array): ThumbnailMime | null {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (b.length >= 6 && (b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a')) return 'image/gif';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

export interface ThumbnailInput {
  eventId?: number | null;
  attachmentId?: number | null;
  mime: string;
  data: Uint8Array;
  width?: number | null;
  height?: number | null;
}

/**
 * Store one thumbnail for an attachment and/or an event. Throws when the image is too large, of an
 * unsupported type, or its bytes do not match `mime` (a mislabelled blob must never reach a report).
 */
export function addThumbnail(caseFile: CaseFile, t: ThumbnailInput): number {
  if (t.eventId == null && t.attachmentId == null) throw new Error('a thumbnail needs an eventId or an attachmentId');
  if (t.data.byteLength > MAX_THUMBNAIL_BYTES) throw new Error(`thumbnail of ${t.data.byteLength} bytes exceeds ${MAX_THUMBNAIL_BYTES} bytes; scale it down first`);
  const actual = sniffImage(t.data);
  if (!actual) throw new Error(`thumbnail is not a ${THUMBNAIL_MIMES.join('/')} image`);
  if (actual !== t.mime.toLowerCase()) throw new Error(`thumbnail declared as ${t.mime} but holds ${actual}`);
  const r = caseFile.db
    .prepare('INSERT INTO thumbnails (attachment_id, event_id, mime, width, height, data) VALUES (?,?,?,?,?,?)')
    .run(t.attachmentId ?? null, t.eventId ?? null, actual, t.width ?? null, t.height ?? null, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return Number(r.lastInsertRowid);
}

/** data: URI for stored bytes, re-checked on the way out (case files can be edited by hand). */
export function thumbnailDataUri(mime: string, data: Uint8Array | null): string | null {
  if (!data || data.byteLength > MAX_THUMBNAIL_BYTES) return null;
  const actual = sniffImage(data);
  if (!actual || actual !== mime.toLowerCase()) return null;
  return `data:${actual};base64,${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}`;
}
