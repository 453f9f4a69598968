// Location stores: locationd consolidated.db (real iOS 4 sample and fixture), routined Cache.sqlite, bad input.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HAVE_REALDATA, REALDATA, checkBackup, fixture, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { fileIdFor } from '../fixtures/backupWriter.js';
import type { LocationsTruth } from '../fixtures/artifacts/locations.js';
import { ingest } from '../src/pipeline/ingest.js';
import { isoFromUs, MAC_EPOCH_OFFSET_S } from '../src/formats/appleTime.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { Backup } from '../src/backup/backup.js';
import { runExtractors } from '../src/pipeline/runExtractors.js';
import { messageLocations, parseLocationVcard } from '../src/extractors/artifacts/messageLocations.js';

process.env.TZ = 'Pacific/Kiritimati';

type Ev = {
  id: number;
  kind: string;
  action: string;
  ts_utc_us: number | null;
  latitude: number | null;
  longitude: number | null;
  accuracy_m: number | null;
  source_table: string;
  source_rowid: number;
  title: string;
  extractor: string;
  extra_json: string;
};

function query<T>(casePath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}
const macUs = (s: number) => Math.round((s + MAC_EPOCH_OFFSET_S) * 1e6);
const CONSOLIDATED = 'Library/Caches/locationd/consolidated.db';

describe.skipIf(!HAVE_REALDATA)('real data: iOS 4 consolidated.db', () => {
  it('every CellLocation and WifiLocation row is an event; (0,0)/-1 rows have no coordinates and are flagged', async () => {
    const dir = tmpDir();
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, [{ domain: 'RootDomain', relativePath: CONSOLIDATED, source: path.join(REALDATA, 'legacy/consolidated.db') }], {
      productVersion: '4.3.1',
      productType: 'iPhone3,1',
    });
    const before = treeHash(root);
    const casePath = path.join(dir, 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['locationd'] });
    expect(treeHash(root)).toEqual(before);
    const count = (table: string, extra = '') =>
      query<{ n: number }>(casePath, `SELECT count(*) AS n FROM events WHERE kind = 'location' AND source_table = ? ${extra}`, table)[0].n;
    expect(count('CellLocation')).toBe(1074);
    expect(count('WifiLocation')).toBe(18590);
    expect(count('CellLocationLocal')).toBe(34);
    expect(count('CellLocation', 'AND latitude IS NULL')).toBe(2);
    expect(count('WifiLocation', 'AND latitude IS NULL')).toBe(207);
    expect(count('WifiLocation', "AND json_extract(extra_json, '$.no_location') = 1")).toBe(207);

    const cell = query<Ev>(casePath, "SELECT * FROM events WHERE source_table = 'CellLocation' AND json_extract(extra_json, '$.ci') = 20964557")[0];
    expect(cell.ts_utc_us).toBe(macUs(319145578.389279));
    expect(isoFromUs(cell.ts_utc_us)!.slice(0, 19)).toBe('2011-02-11T19:32:58');
    expect([cell.latitude, cell.longitude, cell.accuracy_m]).toEqual([43.73007899, 7.29822504, 2548]);
    expect(JSON.parse(cell.extra_json)).toMatchObject({ mcc: 208, mnc: 10, lac: 10701, subtype: 'cell' });

    const wifi = query<Ev>(casePath, "SELECT * FROM events WHERE source_table = 'WifiLocation' AND json_extract(extra_json, '$.mac') = '0:25:15:b5:12:4c'")[0];
    expect(isoFromUs(wifi.ts_utc_us)!.slice(0, 19)).toBe('2011-01-16T17:37:26');
    expect([wifi.latitude, wifi.longitude, wifi.accuracy_m]).toEqual([43.7020896, 7.28827011, 67]);
    const none = query<Ev>(casePath, "SELECT * FROM events WHERE source_table = 'WifiLocation' AND json_extract(extra_json, '$.mac') = '2e:4f:a7:16:8f:c8'")[0];
    expect(isoFromUs(none.ts_utc_us)!.slice(0, 19)).toBe('2011-04-21T05:00:25');
    expect([none.latitude, none.longitude, none.accuracy_m]).toEqual([null, null, null]);
    expect(JSON.parse(none.extra_json)).toMatchObject({ no_location: true, raw_latitude: 0, raw_longitude: 0, raw_accuracy: -1 });

    const range = (table: string) => query<{ lo: number; hi: number }>(casePath, 'SELECT min(ts_utc_us) AS lo, max(ts_utc_us) AS hi FROM events WHERE source_table = ?', table)[0];
    expect(isoFromUs(range('CellLocation').lo)!.slice(0, 19)).toBe('2011-02-11T19:32:58');
    expect(isoFromUs(range('CellLocation').hi)!.slice(0, 19)).toBe('2011-04-22T07:27:10');
    expect(isoFromUs(range('WifiLocation').lo)!.slice(0, 19)).toBe('2011-01-16T17:37:26');
    expect(isoFromUs(range('WifiLocation').hi)!.slice(0, 19)).toBe('2011-04-21T05:00:25');
    const infos = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'locationd' AND severity = 'info'");
    expect(infos.map((w) => w.message).join('\n')).toMatch(/207 of 18590 WifiLocation rows have no position/);
  }, 60_000);
});

describe('location fixtures', () => {
  it('consolidated.db and routined Cache.sqlite rows become location events with accuracy', async () => {
    const t = fixture({ locations: true, contacts: 2, calls: 3 });
    const truth = t.locations as LocationsTruth;
    expect(checkBackup(t.root).ok).toBe(true);
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(treeHash(t.root)).toEqual(before);
    expect(r.summaries.find((s) => s.extractor === 'locationd')!.events).toBe(truth.cells.length + truth.wifis.length + truth.fixes.length);
    expect(r.summaries.find((s) => s.extractor === 'routined')!.events).toBe(truth.routined.length);
    for (const x of [...truth.cells, ...truth.wifis, ...truth.fixes, ...truth.routined]) {
      const e = query<Ev>(casePath, 'SELECT * FROM events WHERE source_table = ? AND source_rowid = ?', x.table, x.rowid)[0];
      expect(e.kind).toBe('location');
      expect(e.ts_utc_us).toBe(macUs(x.macTime));
      if (x.noFix) {
        expect([e.latitude, e.longitude, e.accuracy_m]).toEqual([null, null, null]);
        expect(JSON.parse(e.extra_json).no_location).toBe(true);
      } else expect([e.latitude, e.longitude, e.accuracy_m]).toEqual([x.lat, x.lon, x.accuracy]);
    }
    const routined = query<Ev>(casePath, "SELECT * FROM events WHERE extractor = 'routined' LIMIT 1")[0];
    expect(JSON.parse(routined.extra_json)).toMatchObject({ what: 'position of the device', speed_mps: 1.5, course_deg: null, vertical_accuracy_m: 8 });
  });

  it('a damaged or foreign location store is a recorded failure; the other extractors still run', async () => {
    const t = fixture({ locations: true, photos: 5, contacts: 2, calls: 3 });
    const id = fileIdFor('RootDomain', CONSOLIDATED);
    fs.writeFileSync(path.join(t.root, id.slice(0, 2), id), Buffer.from('SQLite format 3\0'.padEnd(600, '\x7f')));
    const cid = fileIdFor('HomeDomain', 'Library/Caches/com.apple.routined/Cache.sqlite');
    const cache = path.join(t.root, cid.slice(0, 2), cid);
    const bytes = fs.readFileSync(cache);
    fs.writeFileSync(cache, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    const s = (id: string) => r.summaries.find((x) => x.extractor === id)!;
    expect(s('locationd').status).toBe('failed');
    expect(['failed', 'partial']).toContain(s('routined').status);
    expect(s('calls').events).toBe(3);
    expect(s('photos').events).toBeGreaterThanOrEqual(5);
    const errs = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor IN ('locationd', 'routined') AND severity = 'error'");
    expect(errs.length).toBeGreaterThan(0);
  });
});

describe('locations shared in Messages (.loc.vcf)', () => {
  const VCARD =
    'BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 14.1//EN\r\nN:;Shared Location;;;\r\nFN:Caf\u00e9 & Bar <Central>\r\n' +
    'item1.URL;type=pref:http://maps.apple.com/?ll=50.894967\\,4.341626&q=Caf%C3%A9\r\n item1.X-ABLabel:map url\r\nEND:VCARD\r\n';

  it('parses the maps URL of a vCard (ll=, escaped comma, GEO fallback) and rejects nonsense', () => {
    expect(parseLocationVcard(VCARD)).toMatchObject({ lat: 50.894967, lon: 4.341626, name: 'Café & Bar <Central>' });
    expect(parseLocationVcard('BEGIN:VCARD\nGEO:geo:-33.8688;151.2093\nEND:VCARD')).toMatchObject({ lat: -33.8688, lon: 151.2093 });
    expect(parseLocationVcard('BEGIN:VCARD\nURL:http://maps.apple.com/?ll=123.5,400\nEND:VCARD')).toBeNull();
    expect(parseLocationVcard('\u0000\u0001garbage')).toBeNull();
  });

  it('turns a text/x-vlocation attachment recorded by messages into a location event at the message time', async () => {
    const rel = 'Library/SMS/Attachments/4b/11/AB12CD34/Shared Location.loc.vcf';
    const broken = 'Library/SMS/Attachments/4c/12/EF56/Broken.loc.vcf';
    const t = fixture({
      contacts: 0,
      calls: 0,
      extend: (w) => {
        w.addFile('MediaDomain', rel, Buffer.from(VCARD));
        w.addFile('MediaDomain', broken, Buffer.from('BEGIN:VCARD\nFN:x\nEND:VCARD'));
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const cf = CaseFile.create(casePath);
    const backup = await Backup.open(t.root);
    try {
      // What the messages extractor leaves behind: a message event, its attachment row and the file row.
      const ts = { utcUs: 1_613_764_174_008_000, raw: '635456974007999872', epoch: 'mac-ns' as const };
      const ev = cf.addEvent(
        {
          ts,
          kind: 'message',
          action: 'sent',
          direction: 'outgoing',
          counterpart: '+19198887386',
          counterpartName: 'Josh',
          sourceFileId: null,
          sourceTable: 'message',
          sourceRowid: 110,
        },
        'messages',
      );
      for (const [i, p] of [rel, broken].entries()) {
        const fileId = cf.recordFile({ domain: 'MediaDomain', relativePath: p, fileId: null, status: 'ok', readBy: 'messages' });
        cf.addAttachment({
          eventId: ev,
          extractor: 'messages',
          sourceFileId: null,
          sourceTable: 'attachment',
          sourceRowid: 15 + i,
          fileId,
          path: `~/${p}`,
          transferName: p.split('/').pop()!,
          mimeType: 'text/x-vlocation',
          uti: 'public.vlocation',
          totalBytes: 300,
          status: 'ok',
          sha256: null,
        });
      }
      const s = await runExtractors(backup, cf, [messageLocations], { tz: 'UTC', region: 'US' });
      expect(s[0]).toMatchObject({ extractor: 'message-locations', events: 1, status: 'partial' });
    } finally {
      backup.close();
      cf.close();
    }
    const e = query<Ev & { direction: string; counterpart: string; ts_raw: string }>(casePath, "SELECT * FROM events WHERE extractor = 'message-locations'")[0];
    expect(e).toMatchObject({
      kind: 'location',
      action: 'shared',
      latitude: 50.894967,
      longitude: 4.341626,
      direction: 'outgoing',
      counterpart: '+19198887386',
      source_table: 'attachment',
      source_rowid: 15,
      ts_raw: '635456974007999872',
    });
    expect(e.ts_utc_us).toBe(1_613_764_174_008_000);
    expect(query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'message-locations'")[0].message).toMatch(/Broken\.loc\.vcf: no coordinates/);
  });
});
