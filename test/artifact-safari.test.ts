// Safari: History.db visits with redirects, BrowserState.db tabs, Bookmarks.db (bookmarks, Reading List), in the pre-iOS 15 and
// iOS 17 schemas; the real History.db from plaso's test data and BrowserState.db from mvt's test backup; hostile rows.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, fixture, tmpDir, wrapRealFiles } from './helpers.js';
import { addSafari, FORMULA_TITLE, SCRIPT_TITLE, type SafariSchema, type SafariTruth } from '../fixtures/artifacts/safari.js';
import { MAC_EPOCH_OFFSET_S } from '../src/formats/appleTime.js';
import { safari, safariBookmarks, safariTuning } from '../src/extractors/artifacts/safari.js';
import { events, extra, ingestUnchanged, sourcePath, warnings } from './artifactKit.js';

const macUs = (s: number) => Math.round((s + MAC_EPOCH_OFFSET_S) * 1e6);

function build(schema: SafariSchema, truncateHistory = false) {
  let truth!: SafariTruth;
  const t = fixture({
    variant: schema,
    contacts: 2,
    calls: 3,
    extend: (w, _t, _r, tmp) => {
      truth = addSafari(w, tmp, { schema, truncateHistory });
    },
  });
  return { t, truth };
}

describe('safari fixtures', () => {
  it('descriptors: history and tabs are encrypted-only (Apple: website history), bookmarks are not', () => {
    expect(safari.encryptedOnly).toBe(true);
    expect(safariBookmarks.encryptedOnly).toBeFalsy();
  });

  for (const schema of ['ios14', 'ios17'] as const) {
    it(`${schema}: every visit, orphan item, tombstone, tab and bookmark row is one event with exact time and provenance`, async () => {
      const { t, truth } = build(schema);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['safari', 'safari-bookmarks']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'safari');
      const visits = evs.filter((e) => e.source_table === 'history_visits');
      expect(visits).toHaveLength(truth.visits.length);
      for (const v of truth.visits) {
        const e = visits.find((x) => x.source_rowid === v.id)!;
        expect(e.kind).toBe('web-visit');
        expect(e.action).toBe('visited');
        expect(extra(e).url).toBe(v.url);
        expect(extra(e).page_title).toBe(v.title);
        expect(sourcePath(casePath, e)).toBe('HomeDomain/Library/Safari/History.db');
        if (v.absurd) {
          expect(e.ts_utc_us).toBeNull();
          expect(e.ts_raw).toBe('1e+300');
        } else {
          expect(e.ts_utc_us).toBe(macUs(v.mac));
          expect(e.ts_epoch).toBe('mac-s');
        }
      }
      const first = visits.find((e) => e.source_rowid === 1)!;
      expect(first.title).toBe('Visited http://example.com/ → redirected to https://www.example.com/');
      expect(first.counterpart).toBe('example.com');
      expect(extra(first)).toMatchObject({ redirect_destination: 2, redirect_destination_url: 'https://www.example.com/' });
      expect(extra(visits.find((e) => e.source_rowid === 2)!)).toMatchObject({ redirect_source: 1, redirect_source_url: 'http://example.com/' });
      expect(visits.find((e) => e.source_rowid === 4)!.title).toBe('Visited https://www.example.com/ — Example Domain (synced from another device)');
      expect(visits.find((e) => e.source_rowid === 1)!.ts_utc_us).toBe(Date.UTC(2024, 2, 10, 9, 0, 0) * 1000 + 791503);
      // Hostile text verbatim.
      expect(extra(visits.find((e) => e.source_rowid === 5)!).page_title).toBe(SCRIPT_TITLE);
      expect(visits.find((e) => e.source_rowid === 6)!.title).toContain(FORMULA_TITLE);
      const w = warnings(casePath, 'safari').filter((x) => x.severity === 'warning');
      expect(w).toHaveLength(1);
      expect(w[0]).toMatchObject({ source_table: 'history_visits', source_rowid: 7 });
      expect(w[0].message).toMatch(/^history_visits row 7: visit_time 1e\+300 is not a plausible time/);

      // The visit that lives only in History.db-wal is read (through the attached copy too).
      expect(extra(visits.find((e) => e.source_rowid === 100)!)).toMatchObject({ url: 'https://only-in-wal.example/', page_title: 'WAL only' });
      const orphan = evs.filter((e) => e.source_table === 'history_items');
      expect(orphan.map((e) => [e.source_rowid, e.action, e.ts_utc_us])).toEqual([[50, 'listed', null]]);
      const tomb = evs.filter((e) => e.source_table === 'history_tombstones');
      expect(tomb.map((e) => [e.source_rowid, e.action, e.ts_utc_us])).toEqual(truth.tombstones.map((x) => [x.id, 'deleted', macUs(x.end)]));
      expect(tomb[0].title).toBe('History cleared: all sites visited between 2024-03-09T00:00:00.000Z and 2024-03-09T01:00:00.000Z');

      const tabs = evs.filter((e) => e.source_table === 'tabs');
      expect(tabs).toHaveLength(truth.tabs.length);
      for (const tb of truth.tabs) {
        const e = tabs.find((x) => x.source_rowid === tb.id)!;
        expect([e.kind, e.action, e.ts_utc_us, extra(e).url, extra(e).page_title, extra(e).private_browsing]).toEqual([
          'browser-tab',
          'open',
          macUs(tb.lastViewed),
          tb.url,
          tb.title,
          tb.private,
        ]);
        expect(sourcePath(casePath, e)).toBe('HomeDomain/Library/Safari/BrowserState.db');
      }
      expect(new Date(tabs[0].ts_utc_us! / 1000).toISOString()).toBe('2024-03-14T21:03:26.156Z');
      for (const c of truth.cloud) {
        const e = evs.find((x) => x.source_table === c.table && x.source_rowid === c.rowid)!;
        expect([e.kind, e.action, e.ts_utc_us, e.counterpart, e.title]).toEqual(['browser-tab', c.action, c.tsUs, c.counterpart, c.title]);
        expect(sourcePath(casePath, e)).toBe('HomeDomain/Library/Safari/CloudTabs.db');
      }
      expect(evs).toHaveLength(truth.visits.length + 1 + truth.tombstones.length + truth.tabs.length + truth.cloud.length);
      expect(result.summaries.find((s) => s.extractor === 'safari')!.events).toBe(evs.length);

      const bms = events(casePath, 'safari-bookmarks');
      expect(bms).toHaveLength(truth.bookmarks.length);
      for (const b of truth.bookmarks) {
        const e = bms.find((x) => x.source_rowid === b.id)!;
        expect([e.kind, e.action, e.ts_utc_us, extra(e).url, extra(e).bookmark_title]).toEqual(['bookmark', b.action, b.tsUs, b.url, b.title]);
        expect(e.source_table).toBe('bookmarks');
      }
      expect(extra(bms.find((e) => e.source_rowid === 4)!)).toMatchObject({ preview_text: 'Erase all content and settings', time_meaning: 'Reading List DateAdded' });
    }, 60_000);
  }

  it('bulk and row-by-row paths write the same events (SQL bulk for ordinary visits, JS for the rest)', async () => {
    const { t } = build('ios17');
    const strip = (casePath: string) => events(casePath, 'safari').map(({ id: _id, extra_json, ...rest }) => ({ ...rest, extra: extra_json ? JSON.parse(extra_json) : null }));
    const bulk = await ingestUnchanged(t.root, ['safari']);
    expect(warnings(bulk.casePath, 'safari').some((w) => /one by one/.test(w.message))).toBe(false);
    safariTuning.sqlBulk = false;
    try {
      const rowByRow = await ingestUnchanged(t.root, ['safari']);
      expect(strip(bulk.casePath)).toEqual(strip(rowByRow.casePath));
      expect(warnings(bulk.casePath, 'safari')).toEqual(warnings(rowByRow.casePath, 'safari'));
    } finally {
      safariTuning.sqlBulk = true;
    }
  }, 60_000);

  it('a truncated History.db is an error warning; tabs, bookmarks and calls are still extracted', async () => {
    const { t, truth } = build('ios17', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['safari', 'safari-bookmarks', 'calls']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'safari')!.status).toBe('partial');
    expect(warnings(casePath, 'safari').some((w) => w.severity === 'error' && w.message.includes('History.db'))).toBe(true);
    expect(events(casePath, 'safari').filter((e) => e.source_table === 'tabs')).toHaveLength(truth.tabs.length);
    expect(events(casePath, 'safari-bookmarks')).toHaveLength(truth.bookmarks.length);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('safari: real data', () => {
  if (!HAVE_REALDATA) it.skip(REALDATA_SKIP_REASON, () => {});

  it('plaso History.db: 25 visits (as plaso asserts), 6 tombstones; facebook.com visit at 2017-11-09T21:24:28.829571Z', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      { domain: 'HomeDomain', relativePath: 'Library/Safari/History.db', source: path.join(REALDATA, 'plaso/History.db') },
      { domain: 'HomeDomain', relativePath: 'Library/Safari/BrowserState.db', source: path.join(REALDATA, 'mvt-backup/3a/3a47b0981ed7c10f3e2800aa66bac96a3b5db28e') },
    ]);
    const { casePath, result, unchanged } = await ingestUnchanged(root, ['safari']);
    expect(unchanged).toBe(true);
    const evs = events(casePath, 'safari');
    const visits = evs.filter((e) => e.source_table === 'history_visits');
    expect(visits).toHaveLength(25);
    const tomb = evs.filter((e) => e.source_table === 'history_tombstones');
    expect(tomb).toHaveLength(6);
    // start_time -63114076800 is NSDate.distantPast: "everything before end_time", not an absurd time.
    expect(tomb.find((e) => e.source_rowid === 3)!.title).toBe('History cleared: all sites visited before 2017-11-07T23:27:23.583Z');
    expect(extra(tomb.find((e) => e.source_rowid === 3)!)).toMatchObject({ start_is_distant_past: true, start_raw: '-63114076800' });
    expect(evs.filter((e) => e.source_table === 'history_items')).toHaveLength(0); // all 19 items were visited
    const times = visits.map((e) => e.ts_utc_us!).sort((a, b) => a - b);
    expect(new Date(times[0] / 1000).toISOString()).toBe('2017-11-09T21:23:34.791Z');
    expect(new Date(times[24] / 1000).toISOString()).toBe('2017-11-09T21:26:46.056Z');
    const fb = visits.find((e) => e.source_rowid === 37)!;
    expect(fb.ts_utc_us).toBe(macUs(531955468.829571));
    // The file holds '' (plaso reports None, the realdata README NULL): stored verbatim.
    expect(extra(fb)).toMatchObject({ url: 'http://facebook.com/', visit_count: 2, page_title: '', http_non_get: 0 });
    expect(fb.title).toBe('Visited http://facebook.com/ → redirected to https://www.facebook.com/');
    expect(extra(visits.find((e) => e.source_rowid === 36)!)).toMatchObject({ url: 'http://start.ubuntu.com/current/Google/?sourceid=hp', page_title: 'Ubuntu Start Page' });
    expect(extra(visits.find((e) => e.source_rowid === 60)!)).toMatchObject({ url: 'https://www.google.com/?gws_rd=ssl', page_title: 'Google' });
    expect(visits.filter((e) => extra(e).redirect_source != null || extra(e).redirect_destination != null)).toHaveLength(20);
    // mvt test_safari_browserstate.py: one tab, NSO_Group.
    const tabs = evs.filter((e) => e.source_table === 'tabs');
    expect(tabs).toHaveLength(1);
    expect(extra(tabs[0])).toMatchObject({ url: 'https://en.wikipedia.org/wiki/NSO_Group', page_title: 'NSO is bad' });
    expect(tabs[0].ts_utc_us).toBe(macUs(654598606.156382));
    expect(warnings(casePath, 'safari').filter((w) => w.severity !== 'info')).toEqual([]);
    expect(result.summaries.find((s) => s.extractor === 'safari')!.status).toBe('ok');
  }, 60_000);
});
