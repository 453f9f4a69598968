// Permissions (TCC.db): iOS 14 and iOS 13 schemas from fixtures, the real iOS 14.1 file (Hickman) and mvt's backup payload,
// hostile rows, a truncated database.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, fixture, tmpDir, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import { addTcc, addTccOldest, FORMULA_CLIENT, SCRIPT_CLIENT, type TccSchema, type TccTruth } from '../fixtures/artifacts/permissions.js';
import { events, extra, ingestUnchanged, sourcePath, warnings } from './artifactKit.js';

function build(schema: TccSchema, truncate = false) {
  let tcc!: TccTruth;
  const t = fixture({
    variant: schema === 'ios14' ? 'ios14' : 'ios13',
    contacts: 3,
    calls: 4,
    extend: (w, _truth, _rng, tmp) => {
      tcc = addTcc(w, tmp, { schema, truncate });
    },
  });
  return { t, tcc };
}

describe('permissions (TCC.db) fixtures', () => {
  for (const schema of ['ios14', 'ios13'] as const) {
    it(`${schema}: every access row is one event with service, app, decision and the exact time`, async () => {
      const { t, tcc } = build(schema);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['permissions']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'permissions');
      expect(evs).toHaveLength(tcc.rows.length);
      expect(result.summaries.find((s) => s.extractor === 'permissions')!.events).toBe(tcc.rows.length);
      for (const row of tcc.rows) {
        const e = evs.find((x) => x.source_table === row.table && x.source_rowid === row.rowid)!;
        expect(e, `${row.table} ${row.rowid}`).toBeDefined();
        expect(e.kind).toBe('permission');
        expect(e.action).toBe(row.action);
        expect(e.counterpart).toBe(row.client);
        expect(e.service).toBe(row.label);
        expect(sourcePath(casePath, e)).toBe('HomeDomain/Library/TCC/TCC.db');
        const x = extra(e);
        expect(x.tcc_service).toBe(row.service);
        if (row.table === 'expired') {
          expect(e.ts_utc_us).toBe(row.expiredAt! * 1e6);
          expect(x.last_modified_utc_us).toBe(row.lastModified * 1e6);
        } else if (row.lastModified === 1e300) {
          expect(e.ts_utc_us).toBeNull();
          expect(e.ts_raw).toBe('1e+300');
        } else {
          expect(e.ts_utc_us).toBe(row.lastModified * 1e6);
          expect(e.ts_epoch).toBe('unix-s');
          expect(x.schema).toBe(schema === 'ios14' ? 'auth_value' : 'allowed+last_modified');
        }
      }
      const cam = evs.find((e) => e.counterpart === 'net.whatsapp.WhatsApp' && e.service === 'Camera')!;
      expect(cam.title).toBe(schema === 'ios14' ? 'Camera: allowed for net.whatsapp.WhatsApp (user consent)' : 'Camera: allowed for net.whatsapp.WhatsApp');
      expect(new Date(cam.ts_utc_us! / 1000).toISOString()).toBe('2021-02-13T20:32:05.000Z');
      // The WAL-only row is read.
      expect(evs.some((e) => e.counterpart === 'com.apple.Preferences')).toBe(true);
      // Hostile text is stored verbatim; the absurd time is a warning naming the table and row.
      expect(evs.find((e) => e.counterpart === SCRIPT_CLIENT)!.title).toContain(SCRIPT_CLIENT);
      expect(evs.find((e) => e.counterpart === FORMULA_CLIENT)!.action).toBe('denied');
      const absurd = tcc.rows.find((r) => r.lastModified === 1e300)!;
      const w = warnings(casePath, 'permissions').filter((x) => x.severity === 'warning');
      expect(w).toHaveLength(1);
      expect(w[0]).toMatchObject({ source_table: 'access', source_rowid: absurd.rowid });
      expect(w[0].message).toMatch(/^access row \d+: last_modified 1e\+300 is not a plausible time/);
    }, 60_000);
  }

  it('oldest layout (allowed/prompt_count, no last_modified): undated events and an info note', async () => {
    const t = fixture({ contacts: 2, calls: 2, extend: (w, _t, _r, tmp) => addTccOldest(w, tmp) });
    const { casePath, unchanged } = await ingestUnchanged(t.root, ['permissions']);
    expect(unchanged).toBe(true);
    const evs = events(casePath, 'permissions');
    expect(evs.map((e) => [e.source_rowid, e.action, e.service, e.counterpart, e.ts_utc_us, extra(e).prompt_count])).toEqual([
      [1, 'granted', 'Photos', 'com.burbn.instagram', null, 1],
      [2, 'denied', 'Contacts', 'com.facebook.Facebook', null, 2],
    ]);
    expect(warnings(casePath, 'permissions').map((w) => [w.severity, w.message])).toEqual([
      ['info', 'Library/TCC/TCC.db: access has no last_modified column (iOS ≤ 8 schema): permission events have no time'],
    ]);
  }, 60_000);

  it('a truncated TCC.db is a recorded failure; the other artifacts are still extracted', async () => {
    const { t } = build('ios14', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['permissions', 'calls']);
    expect(unchanged).toBe(true);
    const run = result.summaries.find((s) => s.extractor === 'permissions')!;
    expect(['failed', 'partial']).toContain(run.status);
    expect(warnings(casePath, 'permissions').some((w) => w.severity === 'error' && /TCC\.db|malformed/.test(w.message))).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('permissions: real data', () => {
  if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});

  it('Hickman iOS 14.1 TCC.db: 154 access rows with the WAL (109 in the main file), 152 allowed, 2 denied', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, withSiblings('HomeDomain', 'Library/TCC/TCC.db', path.join(REALDATA, 'hickman-ios14/tcc/TCC.db')), { productVersion: '14.1' });
    const { casePath, result, unchanged } = await ingestUnchanged(root, ['permissions']);
    expect(unchanged).toBe(true);
    const evs = events(casePath, 'permissions');
    const access = evs.filter((e) => e.source_table === 'access');
    expect(access).toHaveLength(154);
    expect(evs).toHaveLength(154); // the expired table is empty in this file
    expect(access.filter((e) => e.action === 'granted')).toHaveLength(152);
    expect(access.filter((e) => e.action === 'denied')).toHaveLength(2);
    expect(new Set(access.map((e) => e.counterpart)).size).toBe(56);
    const by = (label: string) => access.filter((e) => extra(e).tcc_service === label).length;
    expect([
      by('kTCCServicePhotos'),
      by('kTCCServiceCamera'),
      by('kTCCServiceMicrophone'),
      by('kTCCServiceAddressBook'),
      by('kTCCServiceUbiquity'),
      by('kTCCServiceLiverpool'),
      by('kTCCServicePhotosAdd'),
      by('kTCCServiceSiri'),
      by('kTCCServiceBluetoothAlways'),
      by('kTCCServiceWebKitIntelligentTrackingPrevention'),
      by('kTCCServiceCalendar'),
      by('kTCCServiceMotion'),
      by('kTCCServiceUserTracking'),
    ]).toEqual([30, 23, 23, 22, 20, 12, 9, 5, 3, 3, 2, 1, 1]);
    const times = access.map((e) => e.ts_utc_us!).sort((a, b) => a - b);
    expect(times[0]).toBe(1610911265 * 1e6);
    expect(times[times.length - 1]).toBe(1613782793 * 1e6);
    const wa = access.find((e) => e.counterpart === 'net.whatsapp.WhatsApp' && e.service === 'Camera')!;
    expect(wa.action).toBe('granted');
    expect(new Date(wa.ts_utc_us! / 1000).toISOString()).toBe('2021-02-13T20:32:05.000Z');
    expect(result.summaries.find((s) => s.extractor === 'permissions')!.status).toBe('ok');
  }, 60_000);

  it('Hickman TCC.db without its WAL: 109 access rows (45 rows live only in the WAL)', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [{ domain: 'HomeDomain', relativePath: 'Library/TCC/TCC.db', source: path.join(REALDATA, 'hickman-ios14/tcc/TCC.db') }], { productVersion: '14.1' });
    const { casePath, unchanged } = await ingestUnchanged(root, ['permissions']);
    expect(unchanged).toBe(true);
    expect(events(casePath, 'permissions')).toHaveLength(109);
  }, 60_000);

  it('mvt backup payload TCC.db: 11 access rows, the first kTCCServiceUbiquity for com.apple.Preferences, allowed', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [{ domain: 'HomeDomain', relativePath: 'Library/TCC/TCC.db', source: path.join(REALDATA, 'mvt-backup/64/64d0019cb3d46bfc8cce545a8ba54b93e7ea9347') }]);
    const { casePath, unchanged } = await ingestUnchanged(root, ['permissions']);
    expect(unchanged).toBe(true);
    const access = events(casePath, 'permissions').filter((e) => e.source_table === 'access');
    expect(access).toHaveLength(11);
    // mvt's results[0] (its query has no ORDER BY, so SQLite returns primary-key order).
    const first = access.find((e) => extra(e).tcc_service === 'kTCCServiceUbiquity' && e.counterpart === 'com.apple.Preferences')!;
    expect(extra(first)).toMatchObject({ auth_value: 2, auth_reason_label: expect.any(String) });
    expect(first.action).toBe('granted');
    expect(access.some((e) => extra(e).tcc_service === 'kTCCServiceLiverpool' && e.counterpart === 'Launch')).toBe(true);
  }, 60_000);
});
