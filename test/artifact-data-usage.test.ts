// Data usage: DataUsage.sqlite with and without the Wi-Fi columns, the real iOS 14.3 file from mvt's test backup,
// hostile rows, a truncated database.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, fixture, tmpDir, wrapRealFiles } from './helpers.js';
import { addDataUsage, FORMULA_PROC, SCRIPT_PROC, type DataUsageSchema, type DataUsageTruth } from '../fixtures/artifacts/dataUsage.js';
import { MAC_EPOCH_OFFSET_S } from '../src/formats/appleTime.js';
import { events, extra, ingestUnchanged, sourcePath, warnings } from './artifactKit.js';

const macUs = (s: number) => Math.round((s + MAC_EPOCH_OFFSET_S) * 1e6);

function build(schema: DataUsageSchema, truncate = false) {
  let truth!: DataUsageTruth;
  const t = fixture({
    variant: schema,
    contacts: 2,
    calls: 3,
    extend: (w, _t, _r, tmp) => {
      truth = addDataUsage(w, tmp, { schema, truncate });
    },
  });
  return { t, truth };
}

describe('data usage fixtures', () => {
  for (const schema of ['ios14', 'ios17'] as const) {
    it(`${schema}: first/last seen per process, one usage event per counter row, exact bytes and times`, async () => {
      const { t, truth } = build(schema);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['data-usage']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'data-usage');
      const expectedProc = truth.processes.reduce((n, p) => n + (p.first === p.last ? 1 : 2), 0);
      expect(evs).toHaveLength(expectedProc + truth.live.length);
      expect(result.summaries.find((s) => s.extractor === 'data-usage')!.events).toBe(evs.length);
      for (const p of truth.processes) {
        const mine = evs.filter((e) => e.source_table === 'ZPROCESS' && e.source_rowid === p.pk);
        const first = mine.find((e) => e.action === 'first-seen')!;
        expect(first.ts_utc_us).toBe(p.absurd ? null : macUs(p.first));
        if (p.first !== p.last) expect(mine.find((e) => e.action === 'last-seen')!.ts_utc_us).toBe(macUs(p.last));
        expect(extra(first).process_name).toBe(p.name);
        expect(sourcePath(casePath, first)).toBe('WirelessDomain/Library/Databases/DataUsage.sqlite');
      }
      expect(evs.find((e) => e.source_table === 'ZPROCESS' && e.source_rowid === 1)!.counterpart).toBe('com.apple.facetime');
      expect(evs.find((e) => e.source_table === 'ZPROCESS' && e.source_rowid === 2)!.counterpart).toBe('mDNSResponder');
      for (const l of truth.live) {
        const e = evs.find((x) => x.source_table === 'ZLIVEUSAGE' && x.source_rowid === l.pk)!;
        expect(e.action).toBe('usage');
        expect(e.ts_utc_us).toBe(macUs(l.ts));
        expect(extra(e)).toMatchObject({
          wwan_in: l.wwanIn,
          wwan_out: l.wwanOut,
          wifi_in: schema === 'ios14' ? l.wifiIn : null,
          wifi_out: schema === 'ios14' ? l.wifiOut : null,
          kind: l.kind,
          process_pk: l.proc,
        });
      }
      const wa = evs.find((x) => x.source_table === 'ZLIVEUSAGE' && x.source_rowid === 1)!;
      expect(wa.title).toBe(
        schema === 'ios14'
          ? 'Network use by net.whatsapp.WhatsApp: Wi-Fi 1.0 MB in / 2.0 KB out, cellular 247.5 KB in / 0 B out'
          : 'Network use by net.whatsapp.WhatsApp: cellular 247.5 KB in / 0 B out',
      );
      expect(new Date(wa.ts_utc_us! / 1000).toISOString()).toBe('2024-03-01T07:00:00.500Z');
      expect(evs.find((e) => e.counterpart === SCRIPT_PROC)!.title).toContain(SCRIPT_PROC);
      expect(evs.some((e) => e.counterpart === FORMULA_PROC)).toBe(true);
      const w = warnings(casePath, 'data-usage');
      const real = w.filter((x) => x.severity === 'warning');
      expect(real.map((x) => [x.source_table, x.source_rowid])).toEqual([
        ['ZPROCESS', 6],
        ['ZLIVEUSAGE', truth.orphanLivePk],
      ]);
      expect(real[0].message).toMatch(/^ZPROCESS row 6: ZFIRSTTIMESTAMP 1e\+300 is not a plausible time/);
      expect(real[1].message).toMatch(/ZHASPROCESS 3\) has no ZPROCESS row/);
      expect(w.find((x) => x.severity === 'info')!.message).toBe('ZPROCESS has no rows for Z_PK 3 (between existing rows): process records deleted');
    }, 60_000);
  }

  it('a truncated DataUsage.sqlite is a recorded failure; calls are still extracted', async () => {
    const { t } = build('ios14', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['data-usage', 'calls']);
    expect(unchanged).toBe(true);
    expect(['failed', 'partial']).toContain(result.summaries.find((s) => s.extractor === 'data-usage')!.status);
    expect(warnings(casePath, 'data-usage').some((w) => w.severity === 'error')).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('data usage: real data', () => {
  if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});

  it("mvt's DataUsage.sqlite (iOS 14.3): 40 processes, 10 counters, Z_PK 5 deleted; earliest 2019-08-27T15:08:09Z", async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      { domain: 'WirelessDomain', relativePath: 'Library/Databases/DataUsage.sqlite', source: path.join(REALDATA, 'mvt-backup/0d/0d609c54856a9bb2d56729df1d68f2958a88426b') },
    ]);
    const { casePath, unchanged } = await ingestUnchanged(root, ['data-usage']);
    expect(unchanged).toBe(true);
    const evs = events(casePath, 'data-usage');
    expect(evs.filter((e) => e.action === 'first-seen')).toHaveLength(40);
    expect(evs.filter((e) => e.action === 'last-seen')).toHaveLength(39);
    expect(evs.filter((e) => e.action === 'usage')).toHaveLength(10);
    const first = evs
      .filter((e) => e.action === 'first-seen')
      .map((e) => e.ts_utc_us!)
      .sort((a, b) => a - b)[0];
    expect(first).toBe(macUs(588611289.24041));
    expect(new Date(first / 1000).toISOString().slice(0, 19)).toBe('2019-08-27T15:08:09'); // mvt test_datausage.py: results[0].isodate
    const fc = evs.find((e) => e.source_table === 'ZPROCESS' && e.source_rowid === 1)!;
    expect([fc.counterpart, extra(fc).process_name]).toEqual(['com.apple.facetime', '1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.facetime']);
    const u1 = evs.find((e) => e.source_table === 'ZLIVEUSAGE' && e.source_rowid === 1)!;
    expect([u1.ts_utc_us, extra(u1).process_pk, extra(u1).wwan_in, extra(u1).wwan_out]).toEqual([macUs(588812862.743243), 32, 253438, 0]);
    const w = warnings(casePath, 'data-usage');
    expect(w.filter((x) => x.severity !== 'info')).toEqual([]);
    expect(w.map((x) => x.message)).toContain('ZPROCESS has no rows for Z_PK 5 (between existing rows): process records deleted');
  }, 60_000);
});
