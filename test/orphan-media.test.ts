// Orphan media: camera-roll and attachment files no database row points to become photo/video events of their
// own (EXIF / QuickTime metadata, hashed, thumbnails), and files a row does point to are never duplicated.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addOrphanMedia, ORPHAN_CASE_ZONE, type FixtureOrphan } from '../fixtures/artifacts/orphans.js';
import { quickTimeMovie } from '../fixtures/artifacts/quicktime.js';
import { ingest } from '../src/pipeline/ingest.js';
import { interpretMediaInfo, parseLocation, mediaInfoUtc, readVideoFile } from '../src/extractors/photos/video.js';
import { spawnSync } from 'node:child_process';
import { resolveChromium } from '../src/report/pdf.js';
import { cli, fixture, HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { extra, query, type Ev } from './artifactKit.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('video metadata (mediainfo.js)', () => {
  it('reads creation time, duration and ©xyz from a minimal QuickTime movie', async () => {
    const f = path.join(tmpDir(), 'clip.mov');
    fs.writeFileSync(f, quickTimeMovie({ created: new Date(Date.UTC(2019, 5, 1, 12, 0, 30)), durationS: 7.25, iso6709: '+35.6586+139.7454+040.000/' }));
    const v = await readVideoFile(f);
    expect(v.created_utc_us).toBe(Date.UTC(2019, 5, 1, 12, 0, 30) * 1000);
    expect(v.created_raw).toBe('2019-06-01 12:00:30 UTC');
    expect(v.duration_s).toBe(7.25);
    expect(v.location).toMatchObject({ lat: 35.6586, lon: 139.7454, alt_m: 40 });
  });
  it('parses ISO 6709 and MediaInfo renderings, and refuses nonsense', () => {
    expect(parseLocation('+48.8584+002.2945+035.000/')).toEqual({ lat: 48.8584, lon: 2.2945, alt_m: 35 });
    expect(parseLocation('-33.8688+151.2093/')).toEqual({ lat: -33.8688, lon: 151.2093, alt_m: null });
    expect(parseLocation('33.8688°S 151.2093°E 12.000m')).toEqual({ lat: -33.8688, lon: 151.2093, alt_m: 12 });
    expect(parseLocation('+95.0000+010.0000/')).toBeNull();
    expect(parseLocation('+00.0000+000.0000/')).toBeNull();
    expect(parseLocation('somewhere')).toBeNull();
    expect(mediaInfoUtc('1904-01-01 00:00:00 UTC')).toBeNull(); // a zero creation time
    expect(mediaInfoUtc('2020-03-22 10:45:12 UTC')).toBe(Date.UTC(2020, 2, 22, 10, 45, 12) * 1000);
  });
  it('a file that is not a movie gives no time and no place, never a throw', async () => {
    const f = path.join(tmpDir(), 'junk.mov');
    fs.writeFileSync(f, crypto.randomBytes(4096));
    const v = await readVideoFile(f);
    expect(v.created_utc_us).toBeNull();
    expect(v.location).toBeNull();
    expect(interpretMediaInfo([]).duration_s).toBeNull();
  });
});

describe('orphan media in a backup with photos and messages', () => {
  let root: string;
  let casePath: string;
  let orphans: FixtureOrphan[];
  let before: Record<string, string>;
  let evs: Ev[];

  beforeAll(async () => {
    const t = fixture({
      contacts: 4,
      calls: 2,
      photos: 14,
      messages: 80,
      extend: (w, truth) => {
        truth.orphans = addOrphanMedia(w);
      },
    });
    root = t.root;
    orphans = t.orphans as FixtureOrphan[];
    before = treeHash(root);
    casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: root, casePath, tz: ORPHAN_CASE_ZONE, region: 'US' });
    evs = query<Ev>(casePath, "SELECT * FROM events WHERE extractor = 'orphan-media' ORDER BY id");
  }, 120_000);

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(root)).toEqual(before);
  });

  it('makes exactly the orphan files events, with their metadata times, places and reasons', () => {
    const byPath = new Map(evs.map((e) => [(extra(e).orphan as { path: string }).path, e]));
    expect([...byPath.keys()].sort()).toEqual(orphans.map((o) => o.path).sort());
    for (const o of orphans) {
      const e = byPath.get(o.path)!;
      const x = extra(e);
      expect(e.kind, o.path).toBe(o.kind);
      expect(e.action).toBe('taken');
      expect(new Date(e.ts_utc_us! / 1000).toISOString().replace('.000Z', 'Z'), o.path).toBe(o.utcIso);
      expect(e.ts_raw, o.path).toBe(o.raw);
      expect(x.orphan).toEqual({ reason: o.reason, domain: o.domain, path: o.path });
      expect(x.time_source, o.path).toBe(o.timeSource);
      const ll = query<{ latitude: number | null; longitude: number | null }>(casePath, 'SELECT latitude, longitude FROM events WHERE id = ?', e.id)[0];
      if (o.lat === null) expect(ll.latitude).toBeNull();
      else {
        expect(ll.latitude).toBeCloseTo(o.lat, 6);
        expect(ll.longitude).toBeCloseTo(o.lon!, 6);
      }
      if (o.durationS !== undefined) expect(e.duration_s).toBe(o.durationS);
      expect(e.title).toContain(o.reason);
    }
  });

  it('says which zone it assumed for an EXIF time without an offset', () => {
    const e = evs.find((x) => (extra(x).orphan as { path: string }).path.endsWith('IMG_0901.JPG'))!;
    const tz = extra(e).time_zone as { basis: string; offset: string; note: string };
    expect(tz.basis).toBe('assumed-case-zone');
    expect(tz.offset).toBe('-05:00');
    expect(tz.note).toContain(ORPHAN_CASE_ZONE);
    expect(e.ts_epoch).toBe('exif-local');
  });

  it('hashes each orphan file (files row = SHA-256 of the evidence bytes) and points the event at it', () => {
    for (const e of evs) {
      const x = extra(e) as { file: { sha256: string; file_row_id: number; status: string }; orphan: { domain: string; path: string } };
      const row = query<{ sha256: string; domain: string; relative_path: string; read_by: string }>(casePath, 'SELECT * FROM files WHERE id = ?', e.source_file_id)[0];
      expect(row.domain).toBe(x.orphan.domain);
      expect(row.relative_path).toBe(x.orphan.path);
      expect(x.file.status).toBe('ok');
      expect(x.file.sha256).toBe(row.sha256);
      expect(row.read_by).toContain('orphan-media');
      const payload = query<{ file_id: string }>(casePath, 'SELECT file_id FROM files WHERE id = ?', e.source_file_id)[0].file_id;
      expect(row.sha256).toBe(sha(fs.readFileSync(path.join(root, payload.slice(0, 2), payload))));
    }
  });

  it('stores a thumbnail for each orphan image', () => {
    const images = evs.filter((e) => e.kind === 'photo');
    expect(images.length).toBe(orphans.filter((o) => o.kind === 'photo').length);
    for (const e of images) expect(query(casePath, 'SELECT id FROM thumbnails WHERE event_id = ?', e.id).length, e.title).toBe(1);
  });

  it('never duplicates a file that Photos.sqlite or a message points to', () => {
    const linkedPhotos = query<{ p: string }>(
      casePath,
      "SELECT json_extract(extra_json, '$.file.path') AS p FROM events WHERE extractor = 'photos' AND action = 'taken' AND json_extract(extra_json, '$.file.status') = 'ok'",
    ).map((r) => r.p);
    const linkedAtts = query<{ p: string }>(casePath, "SELECT f.relative_path AS p FROM attachments a JOIN files f ON f.id = a.file_id WHERE a.status = 'ok'").map((r) => r.p);
    expect(linkedPhotos.length).toBeGreaterThan(3);
    expect(linkedAtts.length).toBeGreaterThan(0);
    const orphanPaths = new Set(evs.map((e) => (extra(e).orphan as { path: string }).path));
    for (const p of [...linkedPhotos, ...linkedAtts]) expect(orphanPaths.has(p), p).toBe(false);
    // Every media file of the backup is either linked or an orphan: none falls through.
    const media = query<{ p: string }>(
      casePath,
      "SELECT relative_path AS p FROM files WHERE ((domain = 'CameraRollDomain' AND relative_path LIKE 'Media/DCIM/%') OR (domain = 'MediaDomain' AND relative_path LIKE 'Library/SMS/Attachments/%')) AND lower(relative_path) NOT LIKE '%.aae' AND status = 'ok'",
    ).map((r) => r.p);
    for (const p of media) expect(orphanPaths.has(p) || linkedPhotos.includes(p) || linkedAtts.includes(p), p).toBe(true);
  });

  it('exports say orphan with the reason on every line (null for linked events)', async () => {
    const out = path.join(tmpDir(), 'events.jsonl');
    expect((await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', out])).code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { orphan: string | null; extractor: string; event_id: number });
    expect(lines.every((l) => 'orphan' in l)).toBe(true);
    const flagged = lines.filter((l) => l.orphan !== null);
    expect(flagged.map((l) => l.event_id).sort()).toEqual(evs.map((e) => e.id).sort());
    expect(new Set(flagged.map((l) => l.orphan))).toEqual(new Set(['no Photos.sqlite row', 'no message points to it']));
  });

  it('badges the orphans in the report gallery, in the HTML data and in the PDF', async () => {
    const out = path.join(tmpDir(), 'report');
    expect((await cli(['report', '--case', casePath, '--out', out, '--format', HAVE_BROWSER ? 'html,pdf' : 'html'])).code).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    const photos = JSON.parse(/<script type="application\/json" id="d-photos">([\s\S]*?)<\/script>/.exec(html)![1]) as [number, unknown, string, unknown, string][];
    const badged = photos.filter((p) => p[4] !== '');
    expect(badged.map((p) => p[0]).sort()).toEqual(evs.map((e) => e.id).sort());
    expect(html).toContain("'badge orphan'");
    if (HAVE_BROWSER) {
      const text = spawnSync('pdftotext', ['-layout', path.join(out, 'report.pdf'), '-'], { encoding: 'utf8' }).stdout;
      expect(text.match(/orphan · no Photos\.sqlite row/g)?.length).toBe(3);
      expect(text.match(/orphan · no message points to it/g)?.length).toBe(2);
    }
  }, 120_000);
});

describe('damaged orphan files', () => {
  it('a zero-byte movie, a truncated movie, garbage ©xyz and a text file named .JPG: events timed by the file, warnings naming them', async () => {
    const mtime = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const good = quickTimeMovie({ created: new Date(Date.UTC(2022, 0, 1)), durationS: 5, iso6709: 'north of here' });
    const files: Record<string, Buffer> = {
      'Media/DCIM/100APPLE/EMPTY.MOV': Buffer.alloc(0),
      'Media/DCIM/100APPLE/HALF.MOV': good.subarray(0, 60),
      'Media/DCIM/100APPLE/BADXYZ.MOV': good,
      'Media/DCIM/100APPLE/NOTE.JPG': Buffer.from('this is not a JPEG at all\n'.repeat(20)),
    };
    const t = fixture({
      contacts: 0,
      calls: 1,
      extend: (w) => {
        for (const [p, b] of Object.entries(files)) w.addFile('CameraRollDomain', p, b, { mtime });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(treeHash(t.root)).toEqual(before);
    const evs = query<Ev>(casePath, "SELECT * FROM events WHERE extractor = 'orphan-media' ORDER BY id");
    expect(evs.map((e) => (extra(e).orphan as { path: string }).path).sort()).toEqual(Object.keys(files).sort());
    for (const e of evs) {
      const p = (extra(e).orphan as { path: string }).path;
      if (p.endsWith('BADXYZ.MOV')) {
        // The creation time is good; the location is not a coordinate: no place, and a note says why.
        expect(new Date(e.ts_utc_us! / 1000).toISOString()).toBe('2022-01-01T00:00:00.000Z');
        expect(query(casePath, 'SELECT latitude FROM events WHERE id = ?', e.id)).toEqual([{ latitude: null }]);
        continue;
      }
      expect(e.ts_utc_us, p).toBe(mtime.getTime() * 1000);
      expect(extra(e).time_source).toBe('file-mtime');
      expect(e.title).toContain('file modification time');
    }
    const w = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'orphan-media'").map((x) => x.message);
    expect(w.some((m) => m.includes('BADXYZ.MOV') && /not a usable coordinate/.test(m))).toBe(true);
  }, 60_000);
});

describe('a backup whose media files are all linked', () => {
  it('has no orphan event, and the run says ok (it looked), not "not present"', async () => {
    const t = fixture({ contacts: 2, calls: 1, photos: 10, messages: 40 });
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(query(casePath, "SELECT id FROM events WHERE extractor = 'orphan-media'")).toHaveLength(0);
    expect(query<{ status: string }>(casePath, "SELECT status FROM extractor_runs WHERE extractor = 'orphan-media'")[0].status).toBe('ok');
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)(`real photos as orphans (${HAVE_REALDATA ? 'realdata' : REALDATA_SKIP_REASON})`, () => {
  it('reads the iPhone 6 JPEG and the iPhone 7 HEIC with their README ground truth', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      { domain: 'CameraRollDomain', relativePath: 'Media/DCIM/100APPLE/IMG_0001.JPG', source: path.join(REALDATA, 'photos-exif/iphone_hdr_YES.jpg') },
      { domain: 'CameraRollDomain', relativePath: 'Media/DCIM/100APPLE/IMG_0002.HEIC', source: path.join(REALDATA, 'photos-exif/iphone_7.heic') },
    ]);
    const before = treeHash(root);
    const casePath = path.join(tmpDir(), 'case.db');
    // Himeji: the HEIC has no offset and no GPS time, so the case zone is what places it.
    await ingest({ backupDir: root, casePath, tz: 'Asia/Tokyo', region: 'JP' });
    expect(treeHash(root)).toEqual(before);
    const evs = query<Ev & { latitude: number; longitude: number }>(casePath, "SELECT * FROM events WHERE extractor = 'orphan-media' ORDER BY id");
    expect(evs).toHaveLength(2);
    const [jpg, heic] = evs;
    // README: local 20:12:23.550, GPS UTC 18:12:23 → +02:00; lat 40.4469722, lon -3.7247528.
    expect(new Date(jpg.ts_utc_us! / 1000).toISOString()).toBe('2015-04-10T18:12:23.550Z');
    expect((extra(jpg).time_zone as { basis: string }).basis).toBe('gps-time');
    expect(jpg.latitude).toBeCloseTo(40.4469722, 6);
    expect(jpg.longitude).toBeCloseTo(-3.7247528, 6);
    expect((extra(jpg).orphan as { reason: string }).reason).toBe('no Photos.sqlite row (Photos.sqlite not in this backup)');
    // README: DateTimeOriginal 2018:09:10 12:16:13.023, upstream TakenAt 2018-09-10T03:16:13Z (JST); lat 34.79745, lon 134.7646333.
    expect(new Date(heic.ts_utc_us! / 1000).toISOString()).toBe('2018-09-10T03:16:13.023Z');
    expect((extra(heic).time_zone as { basis: string; offset: string }).offset).toBe('+09:00');
    expect(heic.latitude).toBeCloseTo(34.79745, 5);
    expect(heic.longitude).toBeCloseTo(134.7646333, 5);
    // The JPEG carries an IFD1 thumbnail; iphone_7.heic has none (test/thumbnails.test.ts): the report shows a placeholder.
    expect(query(casePath, 'SELECT id FROM thumbnails WHERE event_id = ?', jpg.id)).toHaveLength(1);
    expect(query(casePath, 'SELECT id FROM thumbnails WHERE event_id = ?', heic.id)).toHaveLength(0);
  }, 60_000);
});
