// Recents (CoreRecents): both column sets, one event per use, addresses and names (resolved through the address book),
// hostile rows, a truncated database.
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { addRecents, FORMULA_ADDR, SCRIPT_NAME, type RecentsSchema, type RecentsTruth } from '../fixtures/artifacts/recents.js';
import { events, extra, ingestUnchanged, sourcePath, warnings } from './artifactKit.js';

function build(schema: RecentsSchema, truncate = false) {
  let truth!: RecentsTruth;
  const t = fixture({
    variant: schema === 'ios13' ? 'ios13' : 'ios17',
    contacts: 4,
    calls: 3,
    extend: (w, tr, _r, tmp) => {
      const [e164, name] = [...tr.nameByNumber.entries()][0];
      truth = addRecents(w, tmp, { schema, truncate, contactNumber: { e164, name } });
    },
  });
  return { t, truth };
}

describe('recents fixtures', () => {
  for (const schema of ['ios18', 'ios13'] as const) {
    it(`${schema}: one event per use with address, name and app; address-book names resolved`, async () => {
      const { t, truth } = build(schema);
      const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['recents']);
      expect(unchanged).toBe(true);
      const evs = events(casePath, 'recents');
      expect(evs).toHaveLength(truth.events.length);
      expect(result.summaries.find((s) => s.extractor === 'recents')!.events).toBe(truth.events.length);
      for (const x of truth.events) {
        const e = evs.find((y) => y.source_rowid === x.rowid && y.ts_utc_us === x.tsUs && y.action === x.action);
        expect(e, `row ${x.rowid} ${x.tsUs}`).toBeDefined();
        expect([e!.counterpart, e!.counterpart_name, e!.service, e!.source_table]).toEqual([x.counterpart, x.name, x.via, 'recents']);
        expect(sourcePath(casePath, e!)).toBe('HomeDomain/Library/Recents/Recents');
      }
      const alex = evs.filter((e) => e.source_rowid === 1);
      expect(alex.map((e) => new Date(e.ts_utc_us! / 1000).toISOString())).toEqual(['2024-03-12T14:30:15.123Z', '2024-03-13T09:01:02.456Z']);
      expect(alex[0].title).toBe('Recent email Alex Doe (alex@example.org) via Mail (use 1 of 2)');
      expect(extra(alex[0])).toMatchObject({ sending_address: 'sam@example.com', count: 2, metadata_keys: ['com.apple.mobilemail.messageid'] });
      expect(evs.find((e) => e.source_rowid === 2)!.counterpart).toBe('+19195550199, kim@example.net');
      expect(evs.find((e) => e.counterpart_name === SCRIPT_NAME)!.title).toContain(SCRIPT_NAME);
      expect(evs.find((e) => e.counterpart === FORMULA_ADDR)!.ts_utc_us).toBeNull();
      const w = warnings(casePath, 'recents').filter((x) => x.severity === 'warning');
      expect(w).toHaveLength(1);
      expect(w[0]).toMatchObject({ source_table: 'recents', source_rowid: truth.absurdRow });
      expect(w[0].message).toMatch(/^recents row 11: last_date 1e\+300 is not a plausible time/);
    }, 60_000);
  }

  it('a truncated Recents database is a recorded failure; calls are still extracted', async () => {
    const { t } = build('ios18', true);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['recents', 'calls']);
    expect(unchanged).toBe(true);
    expect(['failed', 'partial']).toContain(result.summaries.find((s) => s.extractor === 'recents')!.status);
    expect(warnings(casePath, 'recents').some((w) => w.severity === 'error')).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(t.calls.length);
  }, 60_000);
});
