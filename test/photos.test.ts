// Photos: Photos.sqlite (ZASSET / ZGENERICASSET), asset files, EXIF and its time-zone reasoning, disagreements.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { HAVE_REALDATA, REALDATA, checkBackup, cli, fixture, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import { fileIdFor } from '../fixtures/backupWriter.js';
import { mediaBytes, type FixtureAsset } from '../fixtures/artifacts/photos.js';
import type { IosVariant } from '../fixtures/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { readExifFile, wallTimeMs, offsetMinutes, impliedOffsetMinutes, distanceM } from '../src/extractors/photos/exif.js';
import { isoFromUs, MAC_EPOCH_OFFSET_S } from '../src/formats/appleTime.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { exportGeo, xmlText } from '../src/report/geo.js';

// Any leak of the machine's zone into a time would show up here (UTC+14).
process.env.TZ = 'Pacific/Kiritimati';

type Ev = {
  kind: string;
  action: string;
  ts_utc_us: number | null;
  latitude: number | null;
  longitude: number | null;
  accuracy_m: number | null;
  source_table: string;
  source_rowid: number;
  title: string;
  extra_json: string | null;
};

function events(casePath: string, where = '1=1'): Ev[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id`).all() as Ev[];
  } finally {
    db.close();
  }
}

function warnings(casePath: string, extractor = 'photos'): { severity: string; message: string }[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare('SELECT severity, message FROM warnings WHERE extractor = ? ORDER BY id').all(extractor) as { severity: string; message: string }[];
  } finally {
    db.close();
  }
}

const macUs = (s: number) => Math.round((s + MAC_EPOCH_OFFSET_S) * 1e6);
const payload = (root: string, domain: string, rel: string) => {
  const id = fileIdFor(domain, rel);
  return path.join(root, id.slice(0, 2), id);
};

async function ingestFixture(root: string, only?: string[]) {
  const casePath = path.join(tmpDir(), 'case.db');
  const r = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only });
  return { casePath, r };
}

describe('Photos.sqlite fixture variants', () => {
  for (const [variant, table] of [
    ['ios13', 'ZGENERICASSET'],
    ['ios14', 'ZASSET'],
    ['ios17', 'ZASSET'],
  ] as [IosVariant, string][]) {
    it(`${variant}: every ${table} row becomes a 'taken' event with its Z_PK`, async () => {
      const t = fixture({ variant, photos: 25, mediaFiles: 12, contacts: 0, calls: 0 });
      const assets = t.photos as FixtureAsset[];
      expect(checkBackup(t.root).ok).toBe(true);
      const { casePath } = await ingestFixture(t.root, ['photos']);
      const taken = events(casePath, "action = 'taken'");
      expect(taken).toHaveLength(25);
      expect(new Set(taken.map((e) => e.source_table))).toEqual(new Set([table]));
      expect(taken.map((e) => e.source_rowid)).toEqual(assets.map((a) => a.pk));
      for (const a of assets) {
        const e = taken.find((x) => x.source_rowid === a.pk)!;
        expect(e.kind).toBe(a.kind === 1 ? 'video' : 'photo');
        expect(e.ts_utc_us).toBe(macUs(a.created));
        if (a.lat !== null) {
          expect(e.latitude).toBe(a.lat);
          expect(e.longitude).toBe(a.lon);
        } else expect(e.latitude).toBeNull();
        // iOS 13 has no ZGPSHORIZONTALACCURACY column.
        expect(e.accuracy_m).toBe(variant === 'ios13' || a.lat === null ? null : a.accuracy);
      }
      // 'added' only when it is not the moment of taking (> 60 s later).
      expect(events(casePath, "action = 'added'").map((e) => e.source_rowid)).toEqual(assets.filter((a) => a.added - a.created > 60).map((a) => a.pk));
      expect(assets.some((a) => a.added - a.created > 60)).toBe(true);
      expect(events(casePath, "action = 'trashed'").map((e) => e.source_rowid)).toEqual(assets.filter((a) => a.trashedDate).map((a) => a.pk));
    });
  }
});

describe('Photos fixture: files, EXIF, time zones, disagreements, bad input', () => {
  it('hashes asset files, reads EXIF with the right zone reasoning, records disagreements, survives bad files', async () => {
    const t = fixture({ variant: 'ios17', photos: 40, mediaFiles: 16, contacts: 3, calls: 5 });
    const assets = t.photos as FixtureAsset[];
    expect(checkBackup(t.root).ok).toBe(true);
    const before = treeHash(t.root);
    const { casePath, r } = await ingestFixture(t.root);
    expect(treeHash(t.root)).toEqual(before);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(5);
    const taken = events(casePath, "action = 'taken'");
    expect(taken).toHaveLength(40);
    const byPk = new Map(taken.map((e) => [e.source_rowid, { e, x: JSON.parse(e.extra_json!) }]));
    const warns = warnings(casePath);

    // The newest asset lives only in the WAL.
    expect(assets.at(-1)!.inWal).toBe(true);
    expect(byPk.has(assets.at(-1)!.pk)).toBe(true);

    for (const a of assets) {
      const { x } = byPk.get(a.pk)!;
      expect(x.asset.uuid).toBe(a.uuid);
      expect(x.asset.filename).toBe(a.filename);
      expect(x.asset.timezone_offset_s).toBe(a.tzOffset);
      if (a.media === 'absent') {
        expect(x.file.status).toBe('not-in-backup');
        continue;
      }
      expect(x.file.status).toBe('ok');
      const bytes = mediaBytes(a)!;
      expect(x.file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(x.file.size).toBe(bytes.length);
      if (a.exif?.basis) {
        expect(x.exif.time_basis).toBe(a.exif.basis);
        expect(x.exif.capture_local.slice(0, 19).replace('T', ' ').replace(/-/g, ':')).toBe(a.exif.local);
        expect(x.exif.capture_utc).toBe(a.exif.utcIso);
        if (a.exif.lat !== null) {
          expect(x.exif.gps.lat).toBeCloseTo(a.exif.lat, 6);
          expect(x.exif.gps.lon).toBeCloseTo(a.exif.lon!, 6);
        } else expect(x.exif.gps).toBeNull();
        expect(x.exif.make).toBe('Apple');
      }
      if (a.media === 'video') expect(x.exif).toBeNull();
    }
    const of = (m: string) => byPk.get(assets.find((a) => a.media === m)!.pk)!;

    // exif-offset: the offset as written; gps-time: derived; unknown zone: no UTC, but implied offset noted.
    expect(of('offset').x.time_zone.basis).toBe('exif-offset');
    expect(of('gps-time').x.exif.offset_exif).toBeNull();
    expect(of('gps-time').x.time_zone.note).toMatch(/GPS UTC time stamp/);
    const unk = of('unknown-zone');
    expect(unk.x.exif.capture_utc).toBeNull();
    expect(unk.x.time_zone).toMatchObject({ basis: 'local-unknown-zone', offset: null });
    expect(unk.x.time_zone.note).toMatch(/\+09:00 from Photos\.sqlite/);
    for (const m of ['offset', 'gps-time', 'db-tz', 'unknown-zone']) expect(of(m).x.disagreement).toBeNull();

    // The planted disagreement: one hour and about 5.5 km.
    const d = of('disagree');
    expect(d.x.disagreement.time_diff_s).toBe(3600);
    expect(d.x.disagreement.distance_m).toBeGreaterThan(5000);
    expect(d.x.disagreement.distance_m).toBeLessThan(6000);
    expect(d.e.latitude).toBe(assets.find((a) => a.media === 'disagree')!.lat); // the DB position is kept
    expect(warns.some((w) => w.severity === 'info' && w.message.includes(`Z_PK ${d.e.source_rowid}`) && /differs by 3600 s/.test(w.message))).toBe(true);

    // Bad files: a clear warning each, and the asset still comes out with the DB's values.
    const tr = of('truncated');
    expect(tr.e.ts_utc_us).not.toBeNull();
    expect(warns.some((w) => w.severity === 'warning' && w.message.includes(`Z_PK ${tr.e.source_rowid}`) && /truncated/.test(w.message))).toBe(true);
    const ab = of('absurd');
    expect(ab.x.exif.capture_local).toBeNull();
    expect(ab.x.exif.gps).toBeNull();
    expect(ab.x.exif.problems.join(' ')).toMatch(/not a valid time.*out of range.*absurd/);
    expect(ab.e.latitude).not.toBeNull();
    expect(warns.some((w) => /asset\(s\) have no file in the backup/.test(w.message))).toBe(true);
  });

  it('uses the EXIF capture time (zone known) when ZDATECREATED is empty', async () => {
    const t = fixture({ photos: 6, mediaFiles: 6, contacts: 0, calls: 0 });
    const a = (t.photos as FixtureAsset[]).find((x) => x.media === 'offset')!;
    // Edit the fixture's Photos.sqlite (a test-owned temp backup, not evidence) with its WAL folded in.
    const main = payload(t.root, 'CameraRollDomain', 'Media/PhotoData/Photos.sqlite');
    const wal = payload(t.root, 'CameraRollDomain', 'Media/PhotoData/Photos.sqlite-wal');
    const work = tmpDir();
    fs.copyFileSync(main, path.join(work, 'p.sqlite'));
    fs.copyFileSync(wal, path.join(work, 'p.sqlite-wal'));
    const db = new Database(path.join(work, 'p.sqlite'));
    db.prepare('UPDATE ZASSET SET ZDATECREATED = NULL WHERE Z_PK = ?').run(a.pk);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    fs.copyFileSync(path.join(work, 'p.sqlite'), main);
    fs.writeFileSync(wal, Buffer.alloc(0));
    const { casePath } = await ingestFixture(t.root, ['photos']);
    const e = events(casePath, `action = 'taken' AND source_rowid = ${a.pk}`)[0] as Ev & { ts_epoch: string; ts_raw: string };
    expect(isoFromUs(e.ts_utc_us)).toBe(a.exif!.utcIso);
    expect(e.ts_epoch).toBe('exif-local');
    expect(e.ts_raw).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    expect(warnings(casePath).some((w) => w.message.includes(`Z_PK ${a.pk} has no usable ZDATECREATED`) && /EXIF capture time is used/.test(w.message))).toBe(true);
  });

  it('marks a listed file whose payload is gone as missing and keeps going', async () => {
    const t = fixture({ photos: 12, mediaFiles: 10, contacts: 0, calls: 0 });
    const a = (t.photos as FixtureAsset[]).find((x) => x.media === 'listed-missing')!;
    fs.rmSync(payload(t.root, 'CameraRollDomain', `Media/${a.directory}/${a.filename}`));
    const { casePath } = await ingestFixture(t.root, ['photos']);
    const taken = events(casePath, "action = 'taken'");
    expect(taken).toHaveLength(12);
    const x = JSON.parse(taken.find((e) => e.source_rowid === a.pk)!.extra_json!);
    expect(x.file.status).toBe('missing');
    expect(warnings(casePath).some((w) => w.message.includes(a.filename) && /missing/.test(w.message))).toBe(true);
    expect(taken.filter((e) => JSON.parse(e.extra_json!).file?.status === 'ok').length).toBe(9);
  });

  it('a damaged Photos.sqlite yields the readable assets and an error; a non-SQLite one fails alone', async () => {
    const t = fixture({ photos: 3000, mediaFiles: 0, contacts: 2, calls: 4 });
    const db = payload(t.root, 'CameraRollDomain', 'Media/PhotoData/Photos.sqlite');
    const bytes = fs.readFileSync(db);
    // Overwrite pages in the middle with garbage: some ZASSET leaves become unreadable.
    const page = 4096;
    const garbage = Buffer.alloc(page * 6, 0xa5);
    garbage.copy(bytes, Math.floor(bytes.length / page / 3) * page);
    fs.writeFileSync(db, bytes);
    const { casePath, r } = await ingestFixture(t.root);
    const taken = events(casePath, "action = 'taken'");
    expect(taken.length).toBeGreaterThan(0);
    expect(taken.length).toBeLessThan(3000);
    expect(warnings(casePath).some((w) => /rows after Z_PK \d+ and before Z_PK \d+ could not be read/.test(w.message))).toBe(true);
    expect(warnings(casePath).some((w) => w.severity === 'error')).toBe(true);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(4);

    const t2 = fixture({ photos: 5, contacts: 2, calls: 4 });
    fs.writeFileSync(payload(t2.root, 'CameraRollDomain', 'Media/PhotoData/Photos.sqlite'), Buffer.from('this is not a database'.repeat(100)));
    const r2 = await ingestFixture(t2.root);
    expect(r2.r.summaries.find((s) => s.extractor === 'photos')!.status).toBe('failed');
    expect(r2.r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(4);
  });
});

describe('EXIF helpers', () => {
  it('parses wall times and offsets without the machine zone, and rejects absurd values', () => {
    expect(wallTimeMs('2015:04:10 20:12:23', '550')).toBe(Date.UTC(2015, 3, 10, 20, 12, 23, 550));
    expect(wallTimeMs('2021:02:31 10:00:00')).toBeNull();
    expect(wallTimeMs('0000:00:00 00:00:00')).toBeNull();
    expect(wallTimeMs('9999:01:01 00:00:00')).toBeNull();
    expect(offsetMinutes('+05:30')).toBe(330);
    expect(offsetMinutes('-0400')).toBe(-240);
    expect(offsetMinutes('+25:00')).toBeNull();
    expect(impliedOffsetMinutes(Date.UTC(2015, 3, 10, 20, 12, 23), Date.UTC(2015, 3, 10, 18, 12, 23, 60))).toBe(120);
    expect(impliedOffsetMinutes(Date.UTC(2015, 3, 10, 20, 19, 0), Date.UTC(2015, 3, 10, 18, 12, 23))).toBeNull();
    expect(distanceM(40.4469722, -3.7247528, 40.4469722, -3.7247528)).toBe(0);
    expect(distanceM(0, 0, 0, 1)).toBeCloseTo(111195, -2);
  });

  it('reports a file that is not an image as no EXIF and a cut-off JPEG as truncated', async () => {
    const dir = tmpDir();
    const mov = path.join(dir, 'a.mov');
    fs.writeFileSync(mov, Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypqt  ', 'latin1'), Buffer.alloc(32)]));
    expect(await readExifFile(mov, fs.statSync(mov).size)).toBeNull();
    const cut = path.join(dir, 'cut.jpg');
    fs.writeFileSync(cut, Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x10, 0x00, 0x45, 0x78, 0x69, 0x66, 0, 0, 0x4d, 0x4d]));
    const x = await readExifFile(cut, fs.statSync(cut).size).catch((e: Error) => e);
    if (x instanceof Error) expect(x.message).toMatch(/EXIF unreadable/);
    else expect(x!.problems.join(' ')).toMatch(/truncated/);
  });
});

describe('GeoJSON and KML exports', () => {
  it('writes located events only, [lon, lat] order, escaped KML, filters applied', async () => {
    const t = fixture({ photos: 30, mediaFiles: 12, locations: true, contacts: 2, calls: 3 });
    const { casePath } = await ingestFixture(t.root);
    // One hostile title, to prove the KML escaping.
    const cf = CaseFile.open(casePath);
    cf.addEvent(
      {
        ts: { utcUs: 1.7e15, raw: '1', epoch: 'unix-s' },
        kind: 'location',
        action: 'seen',
        title: 'Bar & <Grill> "quoted" \u0001',
        latitude: -33.5,
        longitude: 151.25,
        sourceFileId: null,
        sourceTable: null,
        sourceRowid: null,
      },
      'test',
    );
    cf.close();
    const located = events(casePath, 'latitude IS NOT NULL');
    const out = tmpDir();
    const gj = path.join(out, 'e.geojson');
    const r1 = await cli(['export', '--case', casePath, '--format', 'geojson', '--out', gj]);
    expect(r1.code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(gj, 'utf8'));
    expect(doc.type).toBe('FeatureCollection');
    expect(doc.features).toHaveLength(located.length);
    type Feature = { geometry: unknown; properties: { event_id: number; kind: string } };
    for (const ev of located) {
      const f = (doc.features as Feature[]).find((x) => x.properties.event_id === (ev as unknown as { id: number }).id)!;
      expect(f.geometry).toEqual({ type: 'Point', coordinates: [ev.longitude, ev.latitude] });
    }
    const kinds = new Set((doc.features as Feature[]).map((f) => f.properties.kind));
    expect(kinds.has('photo') && kinds.has('location')).toBe(true);
    const kml = path.join(out, 'e.kml');
    expect((await cli(['export', '--case', casePath, '--format', 'kml', '--out', kml, '--kinds', 'location'])).code).toBe(0);
    const k = fs.readFileSync(kml, 'utf8');
    expect(k).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<kml xmlns="http:\/\/www.opengis.net\/kml\/2.2">/);
    expect((k.match(/<Placemark>/g) ?? []).length).toBe(located.filter((e) => e.kind === 'location').length);
    expect(k).toContain('Bar &amp; &lt;Grill&gt; &quot;quoted&quot;');
    expect(k).not.toContain('<Grill>');
    expect(k).not.toContain('\u0001');
    expect(k).toContain('<coordinates>151.25,-33.5</coordinates>');
    expect(k.trimEnd().endsWith('</kml>')).toBe(true);
    // Programmatic: a filter that matches nothing still gives a valid, empty collection.
    const empty = path.join(out, 'none.geojson');
    expect(exportGeo(new Database(casePath, { readonly: true }), 'geojson', empty, { kinds: ['nothing'] })).toBe(0);
    expect(JSON.parse(fs.readFileSync(empty, 'utf8')).features).toEqual([]);
    expect(xmlText('a\u0000b<')).toBe('ab&lt;');
  });
});

describe.skipIf(!HAVE_REALDATA)('real data: hickman iOS 14.1 Photos.sqlite', () => {
  it('emits one taken event per ZASSET row with GPS, trashed state and WAL data', async () => {
    const dir = tmpDir();
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, withSiblings('CameraRollDomain', 'Media/PhotoData/Photos.sqlite', path.join(REALDATA, 'hickman-ios14/photos/Photos.sqlite')));
    const before = treeHash(root);
    const casePath = path.join(dir, 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['photos'] });
    expect(treeHash(root)).toEqual(before);
    const taken = events(casePath, "action = 'taken'");
    expect(taken).toHaveLength(131);
    expect(new Set(taken.map((e) => e.source_table))).toEqual(new Set(['ZASSET']));
    expect(taken.filter((e) => e.kind === 'photo')).toHaveLength(126);
    expect(taken.filter((e) => e.kind === 'video')).toHaveLength(5);
    const located = taken.filter((e) => e.latitude !== null);
    expect(located.map((e) => e.source_rowid).sort((a, b) => a - b)).toEqual([1, 19, 24, 52, 54]);
    const e24 = taken.find((e) => e.source_rowid === 24)!;
    expect(isoFromUs(e24.ts_utc_us)).toBe('2020-04-11T17:56:09.281667Z'); // README rounds to .282
    expect(e24.latitude).toBeCloseTo(35.661145, 6);
    expect(e24.longitude).toBeCloseTo(-78.88007167, 6);
    expect(e24.accuracy_m).toBe(65);
    const x24 = JSON.parse(e24.extra_json!);
    expect(x24.asset.original_filename).toBe('IMG_0033.JPG');
    expect(x24.asset.kind).toBe('live');
    expect(x24.asset.timezone_offset_s).toBe(-14400);
    expect(x24.file.status).toBe('not-in-backup');
    const trashed = events(casePath, "action = 'trashed'");
    expect(trashed.map((e) => e.source_rowid).sort((a, b) => a - b)).toEqual([73, 79, 87]);
    // Z_PK 131: ZMODIFICATIONDATE only in the WAL.
    const mod131 = events(casePath, "action = 'modified' AND source_rowid = 131")[0];
    expect(mod131.ts_utc_us).toBe(Math.round((635474833.028863 + 978307200) * 1e6));
    const gj = path.join(dir, 'photos.geojson');
    expect(exportGeo(new Database(casePath, { readonly: true }), 'geojson', gj)).toBe(5);
    const [lon19, lat19] = JSON.parse(fs.readFileSync(gj, 'utf8')).features.find((f: { properties: { source_rowid: number } }) => f.properties.source_rowid === 19).geometry
      .coordinates;
    expect(lon19).toBeCloseTo(-78.79673, 8);
    expect(lat19).toBeCloseTo(35.66653333, 8);
    const first = taken
      .filter((e) => e.ts_utc_us !== null)
      .map((e) => e.ts_utc_us!)
      .sort((a, b) => a - b);
    expect(isoFromUs(first[0])!.slice(0, 23)).toBe('2020-03-22T13:05:24.541');
    expect(isoFromUs(first.at(-1)!)).toBe('2021-02-20T00:46:15.000Z');
  });
});

describe.skipIf(!HAVE_REALDATA)('real data: iPhone EXIF (JPEG and HEIC)', () => {
  it('derives UTC from the GPS time stamp when there is no offset (iPhone 6 JPEG)', async () => {
    const f = path.join(REALDATA, 'photos-exif/iphone_hdr_YES.jpg');
    const x = (await readExifFile(f, fs.statSync(f).size))!;
    expect(x.format).toBe('jpeg');
    expect(x.capture_local).toBe('2015-04-10T20:12:23.550');
    expect(x.offset_exif).toBeNull();
    expect(x.time_basis).toBe('gps-time');
    expect(x.offset).toBe('+02:00');
    expect(x.capture_utc).toBe('2015-04-10T18:12:23.550Z');
    expect(x.gps!.lat).toBeCloseTo(40.4469722, 6);
    expect(x.gps!.lon).toBeCloseTo(-3.7247528, 6);
    expect(x.gps!.utc).toBe('2015-04-10T18:12:23.060Z');
    expect([x.make, x.model, x.lens, x.software]).toEqual(['Apple', 'iPhone 6', 'iPhone 6 back camera 4.15mm f/2.2', '8.3']);
  });

  it('keeps local time with an unknown zone when nothing gives one (iPhone 7 HEIC)', async () => {
    const f = path.join(REALDATA, 'photos-exif/iphone_7.heic');
    const x = (await readExifFile(f, fs.statSync(f).size))!;
    expect(x.format).toBe('heic');
    expect(x.capture_local).toBe('2018-09-10T12:16:13.023');
    expect(x.time_basis).toBe('local-unknown-zone');
    expect(x.capture_utc).toBeNull();
    expect(x.offset).toBeNull();
    expect(x.gps!.lat).toBeCloseTo(34.79745, 6);
    expect(x.gps!.lon).toBeCloseTo(134.7646333, 6);
    expect([x.make, x.model, x.software]).toEqual(['Apple', 'iPhone 7', 'ProCam 10.5.8']);
    // With Photos.sqlite's time-zone offset (JST, +9 h) the UTC instant follows.
    const y = (await readExifFile(f, fs.statSync(f).size, 9 * 3600))!;
    expect(y.time_basis).toBe('photos-db-timezone');
    expect(y.capture_utc).toBe('2018-09-10T03:16:13.023Z');
  });
});
