// Safari tab groups: SafariTabs.db (iOS 15+) through ingest(): every tab with its group, profile, private flag and
// time from the plists (or last_modified), every group row as an event; odd rows warned; a truncated file.
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { events, extra, ingestUnchanged, warnings, truncatedSqlite } from './artifactKit.js';
import { addSafariTabs, type TabExpected } from '../fixtures/artifacts/safariTabs.js';

process.env.TZ = 'Pacific/Kiritimati';

describe.each(['full', 'reduced'] as const)('SafariTabs.db (%s schema)', (schema) => {
  it('one event per tab and per group row, with the group, profile, private flag, action and time', async () => {
    let truth!: TabExpected[];
    const t = fixture({
      contacts: 1,
      calls: 0,
      extend: (w, _t, _r, tmp) => {
        truth = addSafariTabs(w, tmp, { schema });
      },
    });
    const { casePath, unchanged } = await ingestUnchanged(t.root, ['safari']);
    expect(unchanged).toBe(true);
    const ev = events(casePath, 'safari').filter((e) => e.source_table === 'bookmarks');
    const w = warnings(casePath, 'safari');
    expect(ev.map((e) => e.source_rowid).sort((a, b) => a - b)).toEqual(truth.map((x) => x.id).sort((a, b) => a - b));
    for (const x of truth) {
      const e = ev.find((y) => y.source_rowid === x.id)!;
      const ex = extra(e);
      const isGroup = x.action === 'tab-group';
      expect({
        id: x.id,
        kind: e.kind,
        action: e.action,
        ts: e.ts_utc_us,
        title: e.title,
        group: isGroup ? ex.group_title : ex.tab_group,
        profile: isGroup ? null : ex.profile,
        private: isGroup ? false : ex.private_browsing,
        url: isGroup ? null : ex.url,
      }).toEqual({ id: x.id, kind: 'browser-tab', action: x.action, ts: x.tsUs, title: x.title, group: x.group, profile: x.profile, private: x.private, url: x.url });
      const mine = w.filter((y) => y.source_table === 'bookmarks' && y.source_rowid === x.id).map((y) => y.message);
      if (x.warning) expect(mine.join('\n'), `row ${x.id}`).toMatch(new RegExp(x.warning));
      else expect(mine, `row ${x.id}`).toEqual([]);
    }
    if (schema === 'full') {
      const e10 = extra(ev.find((e) => e.source_rowid === 10)!);
      expect([e10.local_url, e10.device_identifier, e10.opened_from_link, e10.tab_index, e10.time_meaning]).toEqual([
        'https://www.booking.com/city/pt/lisbon.en-gb.html',
        'E003CC7C-80DB-4C2A-9045-131C69DACD10',
        true,
        0,
        'local_attributes.LastVisitTime: when the tab was last visited',
      ]);
      expect(extra(ev.find((e) => e.source_rowid === 13)!).closed_utc_us).toBe(Date.parse('2024-03-05T12:30:00Z') * 1000);
    }
  }, 60_000);
});

describe('SafariTabs.db: broken', () => {
  it('a truncated SafariTabs.db is an error warning; the safari run goes on', async () => {
    const t = fixture({
      contacts: 1,
      calls: 0,
      extend: (w) => {
        w.addFile('HomeDomain', 'Library/Safari/SafariTabs.db', truncatedSqlite());
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root);
    expect(unchanged).toBe(true);
    const w = warnings(casePath, 'safari');
    expect(w.some((x) => x.severity === 'error' && x.message.includes('SafariTabs.db'))).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'contacts')!.events).toBeGreaterThan(0);
  }, 60_000);
});
