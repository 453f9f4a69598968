// Wi-Fi: iOS 14+ known-networks.plist and the older com.apple.wifi.plist, hostile entries, a truncated plist.
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { addWifi, FORMULA_SSID, SCRIPT_SSID, type WifiSchema, type WifiTruth } from '../fixtures/artifacts/wifi.js';
import { wifi } from '../src/extractors/artifacts/wifi.js';
import { events, extra, ingestUnchanged, sourcePath, warnings } from './artifactKit.js';

function build(schema: WifiSchema, truncate = false) {
  let truth!: WifiTruth;
  const t = fixture({
    variant: schema,
    contacts: 2,
    calls: 3,
    extend: (w) => {
      truth = addWifi(w, { schema, truncate });
    },
  });
  return { t, truth };
}

describe('wifi fixtures', () => {
  it('is encrypted-only (Apple: Wi-Fi settings)', () => expect(wifi.encryptedOnly).toBe(true));

  for (const schema of ['ios14', 'ios13'] as const) {
    it(`${schema}: one event per recorded time and access point, an undated event for a network without times`, async () => {
      const { t, truth } = build(schema);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['wifi']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'wifi');
      expect(evs).toHaveLength(truth.events.length);
      expect(result.summaries.find((s) => s.extractor === 'wifi')!.events).toBe(truth.events.length);
      for (const x of truth.events) {
        const e = evs.find((y) => y.source_table === x.table && y.source_rowid === x.index && y.action === x.action && (x.bssid === undefined || extra(y).bssid === x.bssid));
        expect(e, `${x.table} ${x.action}`).toBeDefined();
        expect(e!.ts_utc_us).toBe(x.tsUs);
        expect(e!.counterpart).toBe(x.ssid);
        expect(e!.service).toBe('Wi-Fi');
        if (x.lat !== undefined) expect(e!.latitude).toBe(x.lat);
        expect(sourcePath(casePath, e!)).toBe(
          schema === 'ios14'
            ? 'SystemPreferencesDomain/SystemConfiguration/com.apple.wifi.known-networks.plist'
            : 'SystemPreferencesDomain/SystemConfiguration/com.apple.wifi.plist',
        );
      }
      if (schema === 'ios14') {
        const joined = evs.find((e) => e.action === 'joined' && e.counterpart === 'HomeNet')!;
        expect(joined.title).toBe('Wi-Fi "HomeNet": joined by the user');
        expect(new Date(joined.ts_utc_us! / 1000).toISOString()).toBe('2024-03-14T18:02:03.500Z');
        expect(extra(evs.find((e) => e.action === 'associated' && e.counterpart === 'HomeNet')!)).toMatchObject({ bssid: 'a4:2b:b0:11:22:33', channel: 36 });
      } else {
        expect(extra(evs.find((e) => e.counterpart === 'OfficeNet')!)).toMatchObject({
          bssid: '10:da:43:aa:bb:cc',
          country_code: 'US',
          wps_manufacturer: 'NETGEAR',
          security: 'WPA2 Personal',
        });
      }
      expect(evs.find((e) => e.counterpart === SCRIPT_SSID)!.title).toContain(SCRIPT_SSID);
      expect(evs.find((e) => e.counterpart === FORMULA_SSID)!.ts_utc_us).toBeNull();
      const w = warnings(casePath, 'wifi').filter((x) => x.severity === 'warning');
      expect(w).toHaveLength(1);
      expect(w[0]).toMatchObject({ source_table: truth.absurd!.table, source_rowid: truth.absurd!.index });
      expect(w[0].message).toMatch(/is not a plausible time/);
    }, 60_000);
  }

  it('a truncated plist is an error warning; the other artifacts are still extracted', async () => {
    const { t } = build('ios14', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['wifi', 'calls']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'wifi')!.status).toBe('partial');
    expect(warnings(casePath, 'wifi').some((w) => w.severity === 'error' && /known-networks\.plist.*damaged binary plist/.test(w.message))).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});
