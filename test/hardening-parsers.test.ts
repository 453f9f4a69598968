// Issue #13 (hardening), parsers and times: damaged media must not hang the EXIF reader, absurd stored times
// must not sink an extractor or an export, one huge record must not make the report unbounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { ingest } from '../src/pipeline/ingest.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { exportEvents, type ExportFormat } from '../src/report/exports.js';
import { buildReportModel, eventRows, REPORT_TEXT_MAX } from '../src/report/viewModel.js';
import { loadTemplates, writeReportHtml } from '../src/report/html.js';
import { EXIF_BUDGET, ExifBudgetError, exifrPool, heicStructureProblem, jpegTiffStart, readExifFile, runExifr, tiffStructureProblem } from '../src/extractors/photos/exif.js';
import { ifd1Jpeg, makeThumbnail } from '../src/extractors/thumbnail.js';
import { jpegWithExif, THUMB_LANDSCAPE } from '../fixtures/artifacts/photos.js';
import { spawnSync } from 'node:child_process';
import { REPO } from './helpers.js';
import { isoFromUs, macAbsoluteAuto, macSeconds, unixSeconds, plistDate, MAX_PLAUSIBLE_US } from '../src/formats/appleTime.js';

// Any leak of the machine's zone into a time would show up here (UTC+14).
process.env.TZ = 'Pacific/Kiritimati';

type Row = Record<string, unknown>;

// ---- hostile databases, built with the fixture builder ----------------------------------------------------

/**
 * While `build` runs, every database the fixture builder adds under a patched path gets the SQL applied
 * (its -wal folded in first), so a normal fixture carries a few hostile rows.
 */
function withPatchedDatabases<T>(patches: Record<string, (db: Database.Database) => void>, build: () => T, files: Record<string, Buffer> = {}): T {
  const original = BackupWriter.prototype.addDatabase;
  const originalFile = BackupWriter.prototype.addFile;
  // Files under a patched path get other bytes (a damaged photo in place of a good one).
  BackupWriter.prototype.addFile = function (this: BackupWriter, domain, relativePath, data, opts) {
    return originalFile.call(this, domain, relativePath, files[relativePath] ?? data, opts);
  };
  BackupWriter.prototype.addDatabase = function (this: BackupWriter, domain, relativePath, files, opts) {
    const patch = patches[relativePath];
    if (!patch) return original.call(this, domain, relativePath, files, opts);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-patch-'));
    try {
      const p = path.join(dir, 'db');
      fs.writeFileSync(p, files.db);
      if (files.wal) fs.writeFileSync(`${p}-wal`, files.wal);
      const db = new Database(p);
      patch(db);
      db.pragma('journal_mode = DELETE'); // checkpoints the WAL into the one file
      db.close();
      return original.call(this, domain, relativePath, { db: fs.readFileSync(p) }, opts);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    return build();
  } finally {
    BackupWriter.prototype.addDatabase = original;
    BackupWriter.prototype.addFile = originalFile;
  }
}

const TWO_63 = 9223372036854775807n;

function readAll(casePath: string, sql: string, ...params: unknown[]): Row[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as Row[];
  } finally {
    db.close();
  }
}

/** Every export format completes on the case file; returns the number of rows each wrote. */
function exportAll(casePath: string): Record<ExportFormat, number> {
  const cf = CaseFile.open(casePath, { readonly: true });
  const dir = tmpDir('iot-exports-');
  try {
    const out = {} as Record<ExportFormat, number>;
    for (const f of ['jsonl', 'csv', 'geojson', 'kml'] as ExportFormat[]) {
      const file = path.join(dir, `events.${f}`);
      out[f] = exportEvents(cf.db, f, file);
      expect(fs.statSync(file).size).toBeGreaterThan(0);
    }
    const lines = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n');
    for (const l of lines) JSON.parse(l); // every line is valid JSON
    JSON.parse(fs.readFileSync(path.join(dir, 'events.geojson'), 'utf8'));
    return out;
  } finally {
    cf.close();
  }
}

function reportHtml(casePath: string): string {
  const cf = CaseFile.open(casePath, { readonly: true });
  try {
    const model = buildReportModel(cf, { tz: 'Europe/Paris', filter: {} });
    const out = path.join(tmpDir('iot-report-'), 'report.html');
    writeReportHtml(cf, model, out, { tz: 'Europe/Paris', filter: {}, templates: loadTemplates() });
    return fs.readFileSync(out, 'utf8');
  } finally {
    cf.close();
  }
}

describe('appleTime: absurd values keep raw value and epoch, never a time', () => {
  it('range-checks every converter (1e300, -1e300, Infinity, NaN text, 2^63 ns, year 5000)', () => {
    for (const v of [1e300, -1e300, Infinity, -Infinity, 'NaN', 'abc', 1e11, -1e10, TWO_63]) {
      const t = macSeconds(v)!;
      expect(t, String(v)).not.toBeNull();
      expect(t.utcUs, String(v)).toBeNull();
      expect(t.invalid, String(v)).toMatch(/not a (plausible time|number)/);
      expect(t.epoch).toBe('mac-s');
    }
    expect(macSeconds(1e300)!.raw).toBe('1e+300');
    const ns = macAbsoluteAuto(TWO_63)!;
    expect(ns).toMatchObject({ utcUs: null, raw: '9223372036854775807', epoch: 'mac-ns' });
    expect(macAbsoluteAuto(99_999_999_999n)).toMatchObject({ utcUs: null, epoch: 'mac-s' }); // seconds, year 5170
    expect(unixSeconds(1e300)).toMatchObject({ utcUs: null, epoch: 'unix-s' });
    expect(plistDate(new Date(Date.UTC(5000, 0, 1)))).toMatchObject({ utcUs: null, epoch: 'plist-date' });
    // Ordinary values and "no value" are unchanged.
    expect(macSeconds(0)).toBeNull();
    expect(macSeconds(null)).toBeNull();
    expect(macSeconds(600_000_000)).toEqual({ utcUs: (600_000_000 + 978_307_200) * 1e6, raw: '600000000', epoch: 'mac-s' });
    expect(macAbsoluteAuto(600_000_000_123_456_789n)).toEqual({ utcUs: 1_578_307_200_123_456, raw: '600000000123456789', epoch: 'mac-ns' });
    expect(macSeconds(MAX_PLAUSIBLE_US / 1e6 - 978_307_200 - 1)!.utcUs).not.toBeNull();
  });

  it('isoFromUs never throws, whatever a case file holds', () => {
    for (const v of [1e306, -1e306, 8.64e18 + 1e6, Infinity, NaN, 'abc' as unknown as number, 2n ** 63n]) expect(isoFromUs(v)).toBeNull();
    expect(isoFromUs(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoFromUs(1_578_307_200_123_456)).toBe('2020-01-06T10:40:00.123456Z');
  });
});

describe('absurd stored times in calls, photos, contacts and locations', () => {
  it('keeps every row, stores the time as NULL with raw value and epoch, warns with table and row, exports and reports', async () => {
    const t = withPatchedDatabases(
      {
        'Library/CallHistoryDB/CallHistory.storedata': (db) => {
          const set = db.prepare('UPDATE ZCALLRECORD SET ZDATE = ? WHERE Z_PK = ?');
          set.run(1e300, 3);
          set.run(-1e300, 4);
          set.run('NaN', 5);
          set.run(TWO_63, 6);
          set.run(Infinity, 7);
        },
        'Media/PhotoData/Photos.sqlite': (db) => {
          db.prepare('UPDATE ZASSET SET ZDATECREATED = 1e300 WHERE Z_PK = 20').run();
          db.prepare('UPDATE ZASSET SET ZMODIFICATIONDATE = -1e300 WHERE Z_PK = 21').run();
        },
        'Library/AddressBook/AddressBook.sqlitedb': (db) => {
          db.prepare('UPDATE ABPerson SET CreationDate = 1e300, ModificationDate = ? WHERE ROWID = 2').run('NaN');
        },
        'Library/Caches/locationd/consolidated.db': (db) => {
          db.prepare('UPDATE WifiLocation SET Timestamp = -1e300 WHERE rowid = 2').run();
        },
        'Library/Caches/com.apple.routined/Cache.sqlite': (db) => {
          db.prepare('UPDATE ZRTCLLOCATIONMO SET ZTIMESTAMP = ? WHERE Z_PK = 3').run(TWO_63);
        },
      },
      () => fixture({ variant: 'ios17', photos: 24, mediaFiles: 10, contacts: 6, calls: 12, callsInWal: 0, locations: true }),
    );
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['contacts', 'calls', 'photos', 'locationd', 'routined'] });
    expect(treeHash(t.root)).toEqual(before);
    for (const s of r.summaries) expect(s.status, `${s.extractor}: ${s.message}`).not.toBe('failed');

    // Every row still becomes its event.
    const count = (sql: string) => Number(readAll(casePath, sql)[0].n);
    expect(count("SELECT count(*) AS n FROM events WHERE kind = 'call'")).toBe(12);
    expect(count("SELECT count(*) AS n FROM events WHERE kind IN ('photo','video') AND action = 'taken'")).toBe(24);
    expect(count("SELECT count(*) AS n FROM events WHERE kind = 'contact' AND action = 'created'")).toBe(6);

    const ev = (table: string, rowid: number, action?: string) =>
      readAll(
        casePath,
        `SELECT ts_utc_us, ts_raw, ts_epoch FROM events WHERE source_table = ? AND source_rowid = ?${action ? ' AND action = ?' : ''} ORDER BY id`,
        ...[table, rowid, ...(action ? [action] : [])],
      )[0];
    expect(ev('ZCALLRECORD', 3)).toEqual({ ts_utc_us: null, ts_raw: '1e+300', ts_epoch: 'mac-s' });
    expect(ev('ZCALLRECORD', 4)).toEqual({ ts_utc_us: null, ts_raw: '-1e+300', ts_epoch: 'mac-s' });
    expect(ev('ZCALLRECORD', 5)).toEqual({ ts_utc_us: null, ts_raw: 'NaN', ts_epoch: 'mac-s' });
    expect(ev('ZCALLRECORD', 6)).toEqual({ ts_utc_us: null, ts_raw: '9223372036854775807', ts_epoch: 'mac-s' });
    expect(ev('ZCALLRECORD', 7)).toEqual({ ts_utc_us: null, ts_raw: 'Infinity', ts_epoch: 'mac-s' });
    expect(ev('ZCALLRECORD', 2).ts_utc_us).not.toBeNull(); // the neighbours keep their times
    // Asset 20 has no media file: its taken event keeps the raw value; asset 21's modification is stored undated.
    expect(ev('ZASSET', 20, 'taken')).toEqual({ ts_utc_us: null, ts_raw: '1e+300', ts_epoch: 'mac-s' });
    expect(ev('ZASSET', 21, 'modified')).toEqual({ ts_utc_us: null, ts_raw: '-1e+300', ts_epoch: 'mac-s' });
    expect(ev('ABPerson', 2, 'created')).toEqual({ ts_utc_us: null, ts_raw: '1e+300', ts_epoch: 'mac-s' });
    expect(ev('ABPerson', 2, 'modified')).toEqual({ ts_utc_us: null, ts_raw: 'NaN', ts_epoch: 'mac-s' });
    expect(ev('WifiLocation', 2)).toEqual({ ts_utc_us: null, ts_raw: '-1e+300', ts_epoch: 'mac-s' });
    expect(ev('ZRTCLLOCATIONMO', 3)).toEqual({ ts_utc_us: null, ts_raw: '9223372036854775807', ts_epoch: 'mac-s' });

    // The warnings name the table and the row, in the text and in their columns.
    const warned = (table: string, rowid: number, re: RegExp) => {
      const w = readAll(casePath, 'SELECT message FROM warnings WHERE source_table = ? AND source_rowid = ?', table, rowid).map((x) => String(x.message));
      expect(
        w.some((m) => re.test(m)),
        `${table} ${rowid}: ${w.join(' | ')}`,
      ).toBe(true);
    };
    warned('ZCALLRECORD', 3, /^ZCALLRECORD Z_PK 3: ZDATE 1e\+300 \(Mac seconds\) is not a plausible time/);
    warned('ZCALLRECORD', 5, /^ZCALLRECORD Z_PK 5: ZDATE NaN \(Mac seconds\) is not a number/);
    warned('ZCALLRECORD', 6, /^ZCALLRECORD Z_PK 6: ZDATE 9223372036854775807/);
    warned('ZASSET', 20, /^ZASSET Z_PK 20: ZDATECREATED 1e\+300/);
    warned('ZASSET', 21, /^ZASSET Z_PK 21: ZMODIFICATIONDATE -1e\+300/);
    warned('ABPerson', 2, /^ABPerson ROWID 2: CreationDate 1e\+300/);
    warned('ABPerson', 2, /^ABPerson ROWID 2: ModificationDate NaN/);
    warned('WifiLocation', 2, /WifiLocation row 2 has no usable Timestamp \(-1e\+300/);
    warned('ZRTCLLOCATIONMO', 3, /^ZRTCLLOCATIONMO Z_PK 3: ZTIMESTAMP 9223372036854775807/);

    const n = exportAll(casePath);
    expect(n.jsonl).toBe(count('SELECT count(*) AS n FROM events'));
    expect(n.csv).toBe(n.jsonl);
    expect(n.geojson).toBeGreaterThan(0);
    expect(reportHtml(casePath)).toContain('</html>');
  });

  it('exports and the report survive any value stored in ts_utc_us (old or edited case files)', async () => {
    const t = fixture({ variant: 'ios17', photos: 0, contacts: 3, calls: 8, callsInWal: 0, locations: true });
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['contacts', 'calls', 'locationd'] });
    const db = new Database(casePath);
    const ids = (db.prepare('SELECT id FROM events WHERE latitude IS NOT NULL ORDER BY id LIMIT 7').all() as { id: number }[]).map((r) => r.id);
    expect(ids).toHaveLength(7);
    // 1e306 and ±9e18 are beyond Date; 6e18 µs is year ~192,000 (a Date, but no calendar a chart can walk); text.
    const values: unknown[] = [1e306, -1e306, 9e18, -9e18, 6e18, 'not a time', Infinity];
    const set = db.prepare('UPDATE events SET ts_utc_us = ? WHERE id = ?');
    values.forEach((v, i) => set.run(v, ids[i]));
    db.close();
    const n = exportAll(casePath);
    expect(n.jsonl).toBe(Number(readAll(casePath, 'SELECT count(*) AS n FROM events')[0].n));
    expect(reportHtml(casePath)).toContain('</html>');
  }, 60_000);
});

// ---- damaged media: exifr under a time and size budget ------------------------------------------------------

/** A HEIC header (ftyp heic/mif1) followed by zeros: exifr walks boxes of size 0 forever. */
export function zeroedHeic(bytes = 64 * 1024): Buffer {
  const b = Buffer.alloc(bytes);
  b.writeUInt32BE(24, 0);
  b.write('ftypheic', 4, 'latin1');
  b.write('mif1heic', 16, 'latin1');
  return b;
}

/**
 * A JPEG whose IFD0 fills its 64 KB APP1 segment with ~5,400 entries of 32,000 SHORT values each, every one
 * pointing back into the IFD, with the Exif and GPS pointers and the next-IFD link pointing at IFD0 itself.
 * Unbudgeted exifr spends ~7 s per pass on it.
 */
export function hostileExifJpeg(): Buffer {
  const size = 65_000;
  const t = Buffer.alloc(size);
  t.write('II*\0', 0, 'latin1');
  t.writeUInt32LE(8, 4);
  const n = Math.floor((size - 20) / 12);
  t.writeUInt16LE(n, 8);
  for (let i = 0; i < n; i++) {
    const o = 10 + i * 12;
    const tag = i === 0 ? 0x8769 : i === 1 ? 0x8825 : i === 2 ? 0x9003 : 0x9000 + (i % 4000);
    t.writeUInt16LE(tag, o);
    t.writeUInt16LE(i < 2 ? 4 : 3, o + 2);
    t.writeUInt32LE(i < 2 ? 1 : Math.floor((size - 16) / 2), o + 4);
    t.writeUInt32LE(8, o + 8);
  }
  t.writeUInt32LE(8, 10 + n * 12);
  const app1 = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), t]);
  const seg = Buffer.from([0xff, 0xe1, 0, 0]);
  seg.writeUInt16BE(app1.length + 2, 2);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), seg, app1, Buffer.from([0xff, 0xd9])]);
}

describe('damaged media never hangs the EXIF reader', () => {
  it('runs exifr in the worker pool (the build is present)', () => {
    expect(exifrPool(), 'dist/src/extractors/photos/exifWorker.js is missing: run `npx tsc -p tsconfig.json` first').not.toBeNull();
  });

  it('a HEIC header followed by 64 KB of zeros is a named problem, found before exifr runs', async () => {
    expect(heicStructureProblem(zeroedHeic())).toMatch(/offset 24/);
    const file = path.join(tmpDir(), 'IMG_0001.HEIC');
    fs.writeFileSync(file, zeroedHeic());
    await expect(readExifFile(file, fs.statSync(file).size)).rejects.toThrow(/EXIF unreadable \(HEIC box structure is damaged at offset 24/);
    expect(await makeThumbnail(file, null)).toBeNull();
  }, 20_000);

  it('a parse that never ends is stopped at the deadline, and the pool keeps working', async () => {
    const saved = EXIF_BUDGET.timeoutMs;
    EXIF_BUDGET.timeoutMs = 1000;
    try {
      // Bypasses the structure check: this is exactly the input that loops inside exifr.
      await expect(runExifr('parse', zeroedHeic())).rejects.toBeInstanceOf(ExifBudgetError);
      await expect(runExifr('parse', zeroedHeic())).rejects.toThrow(/did not finish within 1 s/);
      const good = jpegWithExif({ utcMs: Date.UTC(2023, 4, 1, 10), localMs: Date.UTC(2023, 4, 1, 12), offset: '+02:00', model: 'iPhone 12' });
      const r = (await runExifr('parse', good)) as Record<string, unknown>;
      expect(r.Model).toBe('iPhone 12');
      expect(r.OffsetTimeOriginal).toBe('+02:00');
    } finally {
      EXIF_BUDGET.timeoutMs = saved;
    }
  }, 20_000);

  it('the IFD1 thumbnail is found by bounded reads; a link out of the bytes gives none', async () => {
    const jpeg = jpegWithExif({ utcMs: Date.UTC(2023, 4, 1, 10), localMs: Date.UTC(2023, 4, 1, 12), offset: '+02:00', thumbnail: THUMB_LANDSCAPE });
    const file = path.join(tmpDir(), 'IMG_0003.JPG');
    fs.writeFileSync(file, jpeg);
    expect((await makeThumbnail(file, null))?.data.equals(THUMB_LANDSCAPE)).toBe(true);
    const t = jpegTiffStart(jpeg);
    expect(ifd1Jpeg(jpeg, t)?.equals(THUMB_LANDSCAPE)).toBe(true);
    // Point IFD0's next-IFD link far beyond the file.
    const le = jpeg.readUInt16BE(t) === 0x4949;
    const ifd0 = le ? jpeg.readUInt32LE(t + 4) : jpeg.readUInt32BE(t + 4);
    const n = le ? jpeg.readUInt16LE(t + ifd0) : jpeg.readUInt16BE(t + ifd0);
    const link = t + ifd0 + 2 + n * 12;
    if (le) jpeg.writeUInt32LE(0xfffffff0, link);
    else jpeg.writeUInt32BE(0xfffffff0, link);
    expect(ifd1Jpeg(jpeg, t)).toBeNull();
  });

  it('a size over the budget is refused without parsing', async () => {
    await expect(runExifr('parse', new Uint8Array(EXIF_BUDGET.maxBytes + 1))).rejects.toThrow(/over the EXIF size budget/);
  });

  it('a JPEG with a self-referencing IFD of thousands of huge entries finishes (EXIF and thumbnail)', async () => {
    const file = path.join(tmpDir(), 'IMG_0002.JPG');
    fs.writeFileSync(file, hostileExifJpeg());
    const size = fs.statSync(file).size;
    await expect(readExifFile(file, size)).rejects.toThrow(/EXIF unreadable \(EXIF IFD0 declares 5415 entries/);
    expect(await makeThumbnail(file, null)).toBeNull();
    // Past the structure check, exifr itself (only the picked tags, in a worker) still ends: a result or a budget error.
    const r = await runExifr('parse', hostileExifJpeg()).catch((e: Error) => e);
    if (r instanceof Error) expect(r).toBeInstanceOf(ExifBudgetError);
    else expect(typeof r).toBe('object');
  }, 30_000);

  it('a JPEG whose IFD0 links to itself is refused before parsing', () => {
    const good = jpegWithExif({ utcMs: Date.UTC(2023, 4, 1, 10), localMs: Date.UTC(2023, 4, 1, 12), offset: '+02:00' });
    const t = jpegTiffStart(good);
    expect(t).toBeGreaterThan(0);
    expect(tiffStructureProblem(good, t)).toBeNull();
    const le = good.readUInt16BE(t) === 0x4949;
    const ifd0 = le ? good.readUInt32LE(t + 4) : good.readUInt32BE(t + 4);
    const n = le ? good.readUInt16LE(t + ifd0) : good.readUInt16BE(t + ifd0);
    const link = t + ifd0 + 2 + n * 12;
    if (le) good.writeUInt32LE(ifd0, link);
    else good.writeUInt32BE(ifd0, link);
    expect(tiffStructureProblem(good, t)).toMatch(/links to itself/);
  });

  it('ingest: a damaged HEIC and a hostile JPEG in the camera roll become warnings naming domain/path; their photo events keep the Photos.sqlite values', () => {
    // Assets 1 and 2 of the fixture have media files (MEDIA_CASES 'offset', 'gps-time'): replace their bytes.
    const t = withPatchedDatabases({}, () => fixture({ variant: 'ios17', photos: 12, mediaFiles: 8, contacts: 0, calls: 0 }), {
      'Media/DCIM/100APPLE/IMG_0001.JPG': zeroedHeic(),
      'Media/DCIM/100APPLE/IMG_0002.JPG': hostileExifJpeg(),
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    // A child process: a hang there is killed by the timeout and fails this test instead of freezing the run.
    const r = spawnSync(process.execPath, [path.join(REPO, 'dist/src/cli/run.js'), 'ingest', t.root, '--case', casePath, '--only', 'photos', '-q'], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, TZ: 'Pacific/Kiritimati' },
    });
    expect(r.error, 'ingest did not finish: the EXIF reader hung').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(treeHash(t.root)).toEqual(before);
    const taken = readAll(casePath, "SELECT source_rowid, ts_utc_us, latitude, extra_json FROM events WHERE action = 'taken' ORDER BY source_rowid");
    expect(taken).toHaveLength(12);
    const assets = t.photos as { pk: number; created: number; lat: number | null }[];
    for (const pk of [1, 2]) {
      const e = taken.find((x) => x.source_rowid === pk)!;
      const a = assets.find((x) => x.pk === pk)!;
      expect(e.ts_utc_us).toBe(Math.round((a.created + 978_307_200) * 1e6));
      expect(e.latitude).toBe(a.lat);
    }
    const warns = readAll(casePath, "SELECT message, source_table, source_rowid FROM warnings WHERE extractor = 'photos'").map((w) => ({ ...w, message: String(w.message) }));
    expect(
      warns.some((w) => w.source_rowid === 1 && w.message.includes('CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG') && /HEIC box structure is damaged/.test(w.message)),
    ).toBe(true);
    expect(warns.some((w) => w.source_rowid === 2 && w.message.includes('CameraRollDomain/Media/DCIM/100APPLE/IMG_0002.JPG') && /IFD0 declares 5415 entries/.test(w.message))).toBe(
      true,
    );
    // The other photos keep their EXIF.
    const x3 = JSON.parse(String(taken.find((x) => x.source_rowid === 3)!.extra_json));
    expect(x3.exif?.time_basis).toBeTruthy();
  }, 120_000);
});

// ---- one record must not make the report unbounded ---------------------------------------------------------

describe('report resource budget', () => {
  it('cuts a 3 MB body to 4,000 characters with a note in the report; the exports keep it whole', async () => {
    const t = fixture({ variant: 'ios17', photos: 0, contacts: 2, calls: 4, callsInWal: 0 });
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['contacts', 'calls'] });
    const normal = reportHtml(casePath).length;
    const huge = 'Lorem ipsum 😀 '.repeat(200_000); // 3 M UTF-16 units, with surrogate pairs to cut across
    const db = new Database(casePath);
    const id = Number((db.prepare("SELECT id FROM events WHERE kind = 'call' ORDER BY id LIMIT 1").get() as { id: number }).id);
    db.prepare('UPDATE events SET body = ? WHERE id = ?').run(huge, id);
    db.close();

    const cf = CaseFile.open(casePath, { readonly: true });
    try {
      const cells = [...eventRows(cf.db, {}, 'UTC')].find((c) => c[0] === id)!;
      const body = cells[8];
      expect(body.length).toBeLessThan(REPORT_TEXT_MAX + 120);
      expect(body.startsWith(huge.slice(0, 3990))).toBe(true);
      expect(body).toMatch(/… \([\d,]+ more characters; full text in the case file and exports\)$/);
      expect(body).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no half surrogate pair
    } finally {
      cf.close();
    }
    // The report grows by the cut text only, not by 3 MB.
    expect(reportHtml(casePath).length - normal).toBeLessThan(20_000);
    // Exports: the full text.
    const cf2 = CaseFile.open(casePath, { readonly: true });
    try {
      const out = path.join(tmpDir(), 'events.jsonl');
      exportEvents(cf2.db, 'jsonl', out);
      const rec = fs
        .readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event_id: number; text: string })
        .find((r) => r.event_id === id)!;
      expect(rec.text).toBe(huge);
    } finally {
      cf2.close();
    }
  });
});
