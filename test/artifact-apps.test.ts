// Installed apps: Info.plist lists and iTunesMetadata, applicationState.db in both compatibilityInfo formats, container
// Birth times from Manifest.db, hostile rows, a truncated database; mvt's real Info.plist.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, fixture, tmpDir, wrapRealFiles } from './helpers.js';
import { addApps, writeInfoApps, SCRIPT_APP, FORMULA_APP, type AppStateFormat, type AppsTruth } from '../fixtures/artifacts/apps.js';
import { events, extra, ingestUnchanged, query, sourcePath, warnings } from './artifactKit.js';

function build(format: AppStateFormat, truncate = false) {
  let truth!: AppsTruth;
  const t = fixture({
    variant: format === 'plain' ? 'ios13' : 'ios17',
    contacts: 2,
    calls: 3,
    extend: (w, _t, _r, tmp) => {
      truth = addApps(w, tmp, { format, truncate });
    },
  });
  writeInfoApps(
    t.root,
    ['net.whatsapp.WhatsApp', 'org.telegram.Telegram', FORMULA_APP],
    [
      {
        id: 'net.whatsapp.WhatsApp',
        itemName: 'WhatsApp Messenger',
        artist: 'WhatsApp Inc.',
        version: '2.24.5',
        purchase: new Date(Date.UTC(2023, 10, 4, 16, 18, 2)),
        appleId: 'sam@example.com',
      },
      { id: 'com.example.absurd', itemName: 'Absurd', absurd: true },
      { id: 'org.telegram.Telegram' },
    ],
  );
  return { t, truth };
}

describe('apps fixtures', () => {
  for (const format of ['archived', 'plain'] as const) {
    it(`${format} compatibilityInfo: Info.plist and applicationState.db rows are events; install times from container Birth`, async () => {
      const { t, truth } = build(format);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['apps']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'apps');
      expect(evs).toHaveLength(3 + 3 + truth.apps.length);
      expect(result.summaries.find((s) => s.extractor === 'apps')!.events).toBe(evs.length);

      const inst = evs.filter((e) => e.source_table === 'Installed Applications');
      expect(inst.map((e) => [e.source_rowid, e.counterpart, e.action, e.ts_utc_us])).toEqual([
        [0, 'net.whatsapp.WhatsApp', 'installed', Date.UTC(2023, 10, 4, 16, 20, 0) * 1000],
        [1, 'org.telegram.Telegram', 'installed', Date.UTC(2024, 0, 9, 8, 0, 0) * 1000],
        [2, FORMULA_APP, 'installed', null],
      ]);
      // A top-level backup file: no domain, hashed like every other evidence file.
      expect(
        query<{ p: string; d: string | null; h: string }>(casePath, 'SELECT relative_path AS p, domain AS d, sha256 AS h FROM files WHERE id = ?', inst[0].source_file_id)[0],
      ).toMatchObject({ p: 'Info.plist', d: null, h: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const purchased = evs.find((e) => e.source_table === 'Applications' && e.counterpart === 'net.whatsapp.WhatsApp')!;
      expect([purchased.action, purchased.ts_utc_us]).toEqual(['purchased', Date.UTC(2023, 10, 4, 16, 18, 2) * 1000]);
      expect(purchased.title).toBe('App purchased/downloaded: WhatsApp Messenger (net.whatsapp.WhatsApp) by Apple ID sam@example.com');
      expect(extra(purchased)).toMatchObject({ artist: 'WhatsApp Inc.', version: '2.24.5', apple_id: 'sam@example.com', ds_person_id: '1234567890' });
      expect(evs.find((e) => e.source_table === 'Applications' && e.counterpart === 'org.telegram.Telegram')!.action).toBe('listed');
      const absurd = evs.find((e) => e.counterpart === 'com.example.absurd')!;
      expect(absurd.ts_utc_us).toBeNull();

      const state = evs.filter((e) => e.source_table === 'application_identifier_tab');
      expect(state).toHaveLength(truth.apps.length);
      for (const a of truth.apps) {
        const e = state.find((x) => x.source_rowid === a.rowid)!;
        expect(e.counterpart).toBe(a.id);
        expect(e.ts_utc_us).toBe(a.birth ? a.birth.getTime() * 1000 : null);
        expect(sourcePath(casePath, e)).toBe('HomeDomain/Library/FrontBoard/applicationState.db');
        if (!a.broken)
          expect(extra(e)).toMatchObject({
            bundle_version: a.version,
            bundle_path: expect.stringContaining(`${a.id}.app`),
            kvs_keys: ['SBApplicationShortcutItems', 'compatibilityInfo'],
          });
      }
      expect(state.find((e) => e.counterpart === SCRIPT_APP)!.title).toContain(SCRIPT_APP);
      const w = warnings(casePath, 'apps').filter((x) => x.severity === 'warning');
      expect(w.map((x) => [x.source_table, x.source_rowid])).toEqual([
        ['Applications', 1],
        ['application_identifier_tab', 5],
      ]);
      expect(w[0].message).toMatch(/purchaseDate an invalid date is not a plausible time/);
      expect(w[1].message).toMatch(/compatibilityInfo \(kvs row \d+\) does not decode/);
    }, 60_000);
  }

  it('a truncated applicationState.db is an error warning; Info.plist apps and calls are still extracted', async () => {
    const { t } = build('archived', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['apps', 'calls']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'apps')!.status).toBe('partial');
    expect(warnings(casePath, 'apps').some((w) => w.severity === 'error' && w.message.includes('applicationState.db'))).toBe(true);
    expect(events(casePath, 'apps').filter((e) => e.source_table === 'Installed Applications')).toHaveLength(3);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('apps: real data', () => {
  if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});

  it("mvt's Info.plist: 6 Installed Applications, no times", async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, []);
    fs.copyFileSync(path.join(REALDATA, 'mvt-backup/Info.plist'), path.join(root, 'Info.plist'));
    const { casePath, unchanged } = await ingestUnchanged(root, ['apps']);
    expect(unchanged).toBe(true);
    const evs = events(casePath, 'apps');
    expect(evs.map((e) => e.counterpart)).toEqual([
      'ph.telegra.Telegraph',
      'com.google.Gmail',
      'ch.icoaching.typewise',
      'com.google.chrome.ios',
      'net.whatsapp.WhatsApp',
      'org.mozilla.ios.Firefox',
    ]);
    expect(evs.every((e) => e.action === 'installed' && e.ts_utc_us === null && e.source_table === 'Installed Applications')).toBe(true);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('Set A on the whole mvt test backup (a copy)', () => {
  if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});

  it('apps get install times from the real Manifest.db container Birth; TCC, DataUsage and BrowserState as in their own tests', async () => {
    const root = path.join(tmpDir(), 'mvt-backup');
    fs.cpSync(path.join(REALDATA, 'mvt-backup'), root, { recursive: true });
    const { casePath, result, unchanged } = await ingestUnchanged(root, ['apps', 'permissions', 'data-usage', 'safari']);
    expect(unchanged).toBe(true);
    const apps = events(casePath, 'apps');
    expect(apps.map((e) => [e.counterpart, new Date(e.ts_utc_us! / 1000).toISOString()])).toEqual([
      ['ph.telegra.Telegraph', '2021-09-10T19:33:10.000Z'],
      ['com.google.Gmail', '2021-01-14T21:19:36.000Z'],
      ['ch.icoaching.typewise', '2021-05-20T18:37:41.000Z'],
      ['com.google.chrome.ios', '2021-10-18T12:20:59.000Z'],
      ['net.whatsapp.WhatsApp', '2021-01-14T21:19:36.000Z'],
      ['org.mozilla.ios.Firefox', '2021-03-30T14:40:41.000Z'],
    ]);
    // applicationState.db is listed in this manifest but its payload is not in the folder: one error, named once.
    expect(warnings(casePath, 'apps').map((w) => w.message)).toEqual([
      'HomeDomain/Library/FrontBoard/applicationState.db: missing (listed in Manifest.db but not present in the backup folder)',
    ]);
    expect(events(casePath, 'permissions')).toHaveLength(11);
    expect(events(casePath, 'data-usage')).toHaveLength(89);
    expect(events(casePath, 'safari').map((e) => extra(e).url)).toEqual(['https://en.wikipedia.org/wiki/NSO_Group']);
    expect(result.summaries.find((s) => s.extractor === 'permissions')!.status).toBe('ok');
  }, 120_000);
});
