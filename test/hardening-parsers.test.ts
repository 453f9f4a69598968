// Issue #13 (hardening), parsers and times: damaged media must not hang the EXIF reader, absurd stored times
// must not sink an extractor or an export, one huge record must not make the report unbounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { BackupWriter } from '../fixtures/backupWriter.js';
import { ingest } from '../src/timeline/ingest.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { exportEvents, type ExportFormat } from '../src/report/exports.js';
import { buildReportModel } from '../src/report/viewModel.js';
import { loadTemplates, writeReportHtml } from '../src/report/html.js';
import { isoFromUs, macAbsoluteAuto, macSeconds, unixSeconds, plistDate, MAX_PLAUSIBLE_US } from '../src/formats/appleTime.js';

// Any leak of the machine's zone into a time would show up here (UTC+14).
process.env.TZ = 'Pacific/Kiritimati';

type Row = Record<string, unknown>;

// ---- hostile databases, built with the fixture builder ----------------------------------------------------

/**
 * While `build` runs, every database the fixture builder adds under a patched path gets the SQL applied
 * (its -wal folded in first), so a normal fixture carries a few hostile rows.
 */
function withPatchedDatabases<T>(patches: Record<string, (db: Database.Database) => void>, build: () => T): T {
  const original = BackupWriter.prototype.addDatabase;
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
  try { return build(); } finally { BackupWriter.prototype.addDatabase = original; }
}

const TWO_63 = 9223372036854775807n;

function readAll(casePath: string, sql: string, ...params: unknown[]): Row[] {
  const db = new Database(casePath, { readonly: true });
  try { return db.prepare(sql).all(...params) as Row[]; } finally { db.close(); }
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
    const t = withPatchedDatabases({
      'Library/CallHistoryDB/CallHistory.storedata': (db) => {
        const set = db.prepare('UPDATE ZCALLRECORD SET ZDATE = ? WHERE Z_PK = ?');
        set.run(1e300, 3); set.run(-1e300, 4); set.run('NaN', 5); set.run(TWO_63, 6); set.run(Infinity, 7);
      },
      'Media/PhotoData/Photos.sqlite': (db) => {
        db.prepare('UPDATE ZASSET SET ZDATECREATED = 1e300 WHERE Z_PK = 20').run();
        db.prepare('UPDATE ZASSET SET ZMODIFICATIONDATE = -1e300 WHERE Z_PK = 21').run();
      },
      'Library/AddressBook/AddressBook.sqlitedb': (db) => {
        db.prepare('UPDATE ABPerson SET CreationDate = 1e300, ModificationDate = ? WHERE ROWID = 2').run('NaN');
      },
      'Library/Caches/locationd/consolidated.db': (db) => { db.prepare('UPDATE WifiLocation SET Timestamp = -1e300 WHERE rowid = 2').run(); },
      'Library/Caches/com.apple.routined/Cache.sqlite': (db) => { db.prepare('UPDATE ZRTCLLOCATIONMO SET ZTIMESTAMP = ? WHERE Z_PK = 3').run(TWO_63); },
    }, () => fixture({ variant: 'ios17', photos: 24, mediaFiles: 10, contacts: 6, calls: 12, callsInWal: 0, locations: true }));
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

    const ev = (table: string, rowid: number, action?: string) => readAll(casePath,
      `SELECT ts_utc_us, ts_raw, ts_epoch FROM events WHERE source_table = ? AND source_rowid = ?${action ? ' AND action = ?' : ''} ORDER BY id`,
      ...[table, rowid, ...(action ? [action] : [])])[0];
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
      expect(w.some((m) => re.test(m)), `${table} ${rowid}: ${w.join(' | ')}`).toBe(true);
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
    const ids = (db.prepare("SELECT id FROM events WHERE latitude IS NOT NULL ORDER BY id LIMIT 7").all() as { id: number }[]).map((r) => r.id);
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
