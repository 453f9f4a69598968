// Thumbnails: makeThumbnail (EXIF IFD1 JPEG first, the small image itself second, else none), the photos and
// messages extractors storing them (linked to the 'taken' event / the attachment), and the HTML report showing them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import exifr from 'exifr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, fixture, tmpDir, treeHash, REALDATA, HAVE_REALDATA, REALDATA_SKIP_REASON } from './helpers.js';
import { ingest } from '../src/pipeline/ingest.js';
import { makeThumbnail, imageMimeOf, jpegInfo } from '../src/extractors/thumbnail.js';
import { MAX_THUMBNAIL_BYTES } from '../src/timeline/thumbnails.js';
import { jpegWithExif, tinyJpeg, THUMB_LANDSCAPE, THUMB_STILL_LIFE, type FixtureAsset } from '../fixtures/artifacts/photos.js';
import type { SmsTruth } from '../fixtures/artifacts/messages.js';

interface ThumbRow {
  id: number;
  attachment_id: number | null;
  event_id: number | null;
  mime: string;
  width: number | null;
  height: number | null;
  data: Buffer;
}

/** A complete JPEG: SOI at the start, EOI at the end, within the report's size limit. */
function expectValidJpeg(b: Buffer): void {
  expect(b.subarray(0, 2).toString('hex')).toBe('ffd8');
  expect(b.subarray(-2).toString('hex')).toBe('ffd9');
  expect(b.length).toBeLessThanOrEqual(MAX_THUMBNAIL_BYTES);
  expect(jpegInfo(b)).not.toBeNull();
}

const dir = tmpDir('iot-thumbs-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, data: Buffer | string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
};

/** A minimal valid PNG (1×1 grey, stored IDAT) and GIF (1×1), byte by byte. */
const PNG_1X1 = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c63680000008200815f5c8c2a0000000049454e44ae426082', 'hex');
const GIF_1X1 = Buffer.from('47494638396101000100800000000000ffffff2c00000000010001000002024401003b', 'hex');

describe('makeThumbnail', () => {
  const when = { utcMs: Date.UTC(2024, 1, 3, 10, 11, 12), localMs: Date.UTC(2024, 1, 3, 10, 11, 12), offset: '+00:00' };

  it('returns the EXIF-embedded JPEG of a JPEG, with its dimensions', async () => {
    const t = await makeThumbnail(write('exif.jpg', jpegWithExif(when)), 'image/jpeg');
    expect(t).not.toBeNull();
    expect(t!.mime).toBe('image/jpeg');
    expect(t!.data.equals(THUMB_LANDSCAPE)).toBe(true);
    expect([t!.width, t!.height]).toEqual([80, 60]);
    expectValidJpeg(t!.data);
    // The MIME hint is optional: the bytes decide.
    expect((await makeThumbnail(path.join(dir, 'exif.jpg'), null))!.data.equals(THUMB_LANDSCAPE)).toBe(true);
  });

  it('reads only the head of a large JPEG for its EXIF thumbnail', async () => {
    // 2 MB of scan data after the EXIF block: the thumbnail still comes from the first 128 KB.
    const big = jpegWithExif({ ...when, thumbnail: THUMB_STILL_LIFE });
    const padded = Buffer.concat([big.subarray(0, -2), Buffer.alloc(2 * 1024 * 1024, 0x11), Buffer.from([0xff, 0xd9])]);
    const t = await makeThumbnail(write('big.jpg', padded), 'image/jpeg');
    expect(t!.data.equals(THUMB_STILL_LIFE)).toBe(true);
  });

  it('falls back to the image itself when it is a small complete JPEG/PNG/GIF without an EXIF thumbnail', async () => {
    const j = await makeThumbnail(write('tiny.jpg', tinyJpeg()), 'image/jpeg');
    expect(j).toMatchObject({ mime: 'image/jpeg', width: 8, height: 8 });
    expect(j!.data.equals(tinyJpeg())).toBe(true);
    expect(await makeThumbnail(write('one.png', PNG_1X1), 'image/png')).toMatchObject({ mime: 'image/png', width: 1, height: 1 });
    expect(await makeThumbnail(write('one.gif', GIF_1X1), 'image/gif')).toMatchObject({ mime: 'image/gif', width: 1, height: 1 });
    // Declared PNG, holds a JPEG: the bytes win (addThumbnail stores the real type).
    expect((await makeThumbnail(write('lying.png', THUMB_STILL_LIFE), 'image/png'))!.mime).toBe('image/jpeg');
  });

  it('gives null, never an exception, for truncated JPEGs, non-images, large images without a thumbnail and missing files', async () => {
    const full = jpegWithExif(when);
    const thumbAt = full.indexOf(THUMB_LANDSCAPE.subarray(0, 64));
    expect(thumbAt).toBeGreaterThan(0);
    // Cut in the EXIF header, inside the embedded thumbnail, and just before the end of a plain small JPEG.
    for (const cut of [40, 200, thumbAt + 10, thumbAt + THUMB_LANDSCAPE.length - 1]) {
      expect(await makeThumbnail(write(`cut-${cut}.jpg`, full.subarray(0, cut)), 'image/jpeg')).toBeNull();
    }
    expect(await makeThumbnail(write('cut-tiny.jpg', tinyJpeg().subarray(0, -3)), 'image/jpeg')).toBeNull();
    // Random bytes behind a JPEG/JFIF header (what a damaged attachment looks like).
    const junk = Buffer.alloc(3000, 0x5a);
    Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]).copy(junk);
    expect(await makeThumbnail(write('junk.jpg', junk), 'image/jpeg')).toBeNull();
    expect(await makeThumbnail(write('notes.txt', 'not an image at all\n'), null)).toBeNull();
    expect(await makeThumbnail(write('fake.jpg', '%PDF-1.4\n%âãÏÓ\n'), 'image/jpeg')).toBeNull();
    expect(await makeThumbnail(write('empty.jpg', Buffer.alloc(0)), 'image/jpeg')).toBeNull();
    // A complete PNG over the size limit, and a truncated PNG.
    const bigPng = Buffer.concat([PNG_1X1.subarray(0, 33), Buffer.alloc(MAX_THUMBNAIL_BYTES + 10), PNG_1X1.subarray(-12)]);
    expect(await makeThumbnail(write('big.png', bigPng), 'image/png')).toBeNull();
    expect(await makeThumbnail(write('cut.png', PNG_1X1.subarray(0, 40)), 'image/png')).toBeNull();
    // A non-image MIME type is not even read; a missing file is no thumbnail.
    expect(await makeThumbnail(write('clip.mov', tinyJpeg()), 'video/quicktime')).toBeNull();
    expect(await makeThumbnail(path.join(dir, 'does-not-exist.jpg'), 'image/jpeg')).toBeNull();
    expect(await makeThumbnail(dir, 'image/jpeg')).toBeNull(); // a folder
  });

  it('knows image attachments by MIME type or file extension', () => {
    expect(imageMimeOf('image/jpeg', 'x.bin')).toBe('image/jpeg');
    expect(imageMimeOf(null, 'IMG_0001.HEIC')).toBe('image/heic');
    expect(imageMimeOf('application/octet-stream', 'IMG_0001.JPG')).toBe('image/jpeg');
    expect(imageMimeOf('audio/x-caf', 'Audio Message.caf')).toBeNull();
    expect(imageMimeOf(null, 'Contract.pdf')).toBeNull();
    expect(imageMimeOf(null, null)).toBeNull();
  });
});

describe('fixture ingest: thumbnails for photos and image attachments, shown in the report', () => {
  let t: ReturnType<typeof fixture>;
  let before: Record<string, string>;
  let db: Database.Database;
  let casePath: string;
  let thumbs: ThumbRow[];

  beforeAll(async () => {
    t = fixture({ seed: 7, variant: 'ios17', photos: 20, mediaFiles: 14, contacts: 6, calls: 0, messages: 120 });
    before = treeHash(t.root);
    casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['contacts', 'photos', 'messages'] });
    db = new Database(casePath, { readonly: true });
    thumbs = db.prepare('SELECT * FROM thumbnails ORDER BY id').all() as ThumbRow[];
  });
  afterAll(() => db?.close());

  it('ingest leaves the evidence byte-identical', () => {
    // (With message traps the backup lists an attachment without a payload, so check-backup.py rightly fails it.)
    expect(treeHash(t.root)).toEqual(before);
  });

  it('stores the EXIF thumbnail of every photo file, linked to its taken event; none for videos, truncated or absent files', () => {
    const assets = t.photos as FixtureAsset[];
    const taken = db.prepare("SELECT id, source_rowid FROM events WHERE extractor = 'photos' AND action = 'taken'").all() as { id: number; source_rowid: number }[];
    const eventOf = new Map(taken.map((e) => [e.source_rowid, e.id]));
    const photoThumbs = thumbs.filter((r) => r.event_id !== null);
    const withThumb = new Set(photoThumbs.map((r) => r.event_id));
    const good = assets.filter((a) => a.media !== 'absent' && a.media !== 'video' && a.media !== 'truncated');
    expect(good.length).toBeGreaterThanOrEqual(8);
    for (const a of assets) expect(withThumb.has(eventOf.get(a.pk)!)).toBe(good.includes(a));
    expect(photoThumbs).toHaveLength(good.length); // one each
    for (const r of photoThumbs) {
      expect(r.attachment_id).toBeNull();
      expect(r.mime).toBe('image/jpeg');
      expect([r.width, r.height]).toEqual([80, 60]);
      expectValidJpeg(r.data);
      expect(r.data.equals(THUMB_LANDSCAPE)).toBe(true);
    }
    // The truncated file and the video got the report's placeholder, and nothing complained about thumbnails.
    const warnings = db.prepare("SELECT message FROM warnings WHERE message LIKE '%thumbnail%'").all();
    expect(warnings).toEqual([]);
  });

  it('stores the thumbnail of image attachments only, linked to the attachment row', () => {
    const sms = t.sms as SmsTruth;
    const atts = db.prepare("SELECT id, source_rowid, mime_type, status, event_id FROM attachments WHERE extractor = 'messages'").all() as {
      id: number;
      source_rowid: number;
      mime_type: string | null;
      status: string;
      event_id: number | null;
    }[];
    const attThumbs = thumbs.filter((r) => r.attachment_id !== null);
    const images = sms.attachments.filter((a) => a.state === 'ok' && a.mimeType.startsWith('image/'));
    expect(images.length).toBeGreaterThanOrEqual(1);
    expect(sms.attachments.some((a) => a.state === 'ok' && !a.mimeType.startsWith('image/'))).toBe(true); // e.g. the audio message
    expect(attThumbs).toHaveLength(images.length);
    for (const img of images) {
      const row = atts.find((a) => a.source_rowid === img.rowid)!;
      expect(row.status).toBe('ok');
      expect(row.event_id).not.toBeNull();
      const th = attThumbs.filter((r) => r.attachment_id === row.id);
      expect(th).toHaveLength(1);
      expect(th[0].event_id).toBeNull();
      expect(th[0].mime).toBe('image/jpeg');
      expectValidJpeg(th[0].data);
      expect(th[0].data.equals(THUMB_STILL_LIFE)).toBe(true);
    }
    // Every attachment thumbnail belongs to an image attachment that was read.
    for (const r of attThumbs) {
      const a = atts.find((x) => x.id === r.attachment_id)!;
      expect(a.status).toBe('ok');
      expect(a.mime_type).toMatch(/^image\//);
    }
  });

  it('the HTML report embeds them as data:image/jpeg URIs', async () => {
    const out = path.join(tmpDir(), 'report');
    const r = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--tz', 'UTC']);
    expect(r.code).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('data:image/jpeg;base64,');
    expect(html).toContain(`data:image/jpeg;base64,${THUMB_LANDSCAPE.toString('base64')}`);
    expect(html).toContain(`data:image/jpeg;base64,${THUMB_STILL_LIFE.toString('base64')}`);
    expect(treeHash(t.root)).toEqual(before);
  });
});

describe.skipIf(!HAVE_REALDATA)('real data: iPhone JPEG and HEIC (../shared/realdata/photos-exif)', () => {
  const jpg = path.join(REALDATA, 'photos-exif/iphone_hdr_YES.jpg');
  const heic = path.join(REALDATA, 'photos-exif/iphone_7.heic');

  it('returns the IFD1 JPEG of iphone_hdr_YES.jpg (the one exifr finds)', async () => {
    const expected = Buffer.from((await exifr.thumbnail(fs.readFileSync(jpg)))!);
    expect(expected.length).toBeGreaterThan(1000);
    const t = await makeThumbnail(jpg, 'image/jpeg');
    expect(t).not.toBeNull();
    expect(t!.mime).toBe('image/jpeg');
    expectValidJpeg(t!.data);
    expect(t!.data.equals(expected)).toBe(true);
    expect([t!.width, t!.height]).toEqual([160, 120]);
  });

  it('returns null for iphone_7.heic, whose EXIF has no IFD1 thumbnail', async () => {
    const whole = fs.readFileSync(heic);
    const parsed = (await exifr.parse(whole, { tiff: true, ifd0: true, ifd1: true, exif: false, gps: false, mergeOutput: false })) as Record<string, unknown>;
    expect(parsed.ifd0).toBeTruthy(); // the EXIF is there …
    expect(parsed.ifd1).toBeUndefined(); // … without a thumbnail
    expect(await makeThumbnail(heic, 'image/heic')).toBeNull();
  });

  it('finds an IFD1 JPEG in a HEIC Exif item, even past the first 128 KB (HEIC built in a temp folder)', async () => {
    // The real JPEG's EXIF (with its thumbnail) as the Exif item of a HEIC-branded file, 200 KB in.
    const real = fs.readFileSync(jpg);
    const at = real.indexOf('Exif\0\0', 0, 'latin1');
    const item = real.subarray(at, at - 2 + real.readUInt16BE(at - 2));
    const ftyp = Buffer.from('000000186674797068656963000000006d69663168656963', 'hex');
    const heicLike = write('synthetic.heic', Buffer.concat([ftyp, Buffer.alloc(200_000), Buffer.from([0, 0, 0, 6]), item, Buffer.alloc(1000)]));
    const t = await makeThumbnail(heicLike, 'image/heic');
    expect(t!.data.equals(Buffer.from((await exifr.thumbnail(real))!))).toBe(true);
  });
});
if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});
