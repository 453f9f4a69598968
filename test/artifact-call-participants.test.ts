// Group-call participants: CallHistory.storedata Z_2REMOTEPARTICIPANTHANDLES ↔ ZHANDLE through ingest().
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { events, extra, ingestUnchanged, warnings, truncatedSqlite } from './artifactKit.js';
import { addGroupCalls, type GroupCallTruth } from '../fixtures/artifacts/callParticipants.js';
import { usNumber } from '../fixtures/artifacts/contacts.js';

process.env.TZ = 'Pacific/Kiritimati';

describe('call participants', () => {
  it('one group-call event per call with more than one remote participant, every participant named', async () => {
    let g!: GroupCallTruth;
    let names!: Map<string, string>;
    const t = fixture({
      contacts: 4,
      calls: 0,
      extend: (w, truth, rng, tmp) => {
        names = truth.nameByNumber;
        g = addGroupCalls(w, rng, tmp, { end: truth.device.backupDate, numbers: [...truth.nameByNumber.keys()].slice(0, 3).concat(usNumber(rng).e164) });
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['call-participants']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(8);
    const ev = events(casePath, 'call-participants');
    expect(ev.map((e) => e.source_rowid)).toEqual([2, 5, 7]);
    expect(ev.map((e) => e.source_rowid)).not.toContain(g.singlePk);
    for (const e of ev) {
      const addrs = g.groups.get(e.source_rowid)!;
      const call = g.calls.find((c) => c.pk === e.source_rowid)!;
      const who = addrs.map((a) => (names.get(a) ? `${names.get(a)} (${a})` : a)).join(', ');
      expect({
        kind: e.kind,
        action: e.action,
        ts: e.ts_utc_us,
        title: e.title,
        table: e.source_table,
        counterpart: e.counterpart,
        direction: e.direction,
        duration: e.duration_s,
      }).toEqual({
        kind: 'call',
        action: 'group-call',
        ts: e.source_rowid === g.absurdPk ? null : Math.round(call.macDate * 1e6) + 978_307_200_000_000,
        title: `Group call with ${addrs.length} participants: ${who}`,
        table: 'ZCALLRECORD',
        counterpart: addrs.join(', '),
        direction: call.originated ? 'outgoing' : 'incoming',
        duration: call.duration,
      });
      const ps = extra(e).participants as { address: string; name: string | null }[];
      expect(ps.map((p) => [p.address, p.name])).toEqual(addrs.map((a) => [a, names.get(a) ?? null]));
      expect(extra(e).join_table).toBe('Z_2REMOTEPARTICIPANTHANDLES');
    }
    const w = warnings(casePath, 'call-participants');
    expect(w.map((x) => [x.source_table, x.source_rowid])).toEqual([['ZCALLRECORD', g.absurdPk]]);
    expect(w[0].message).toMatch(new RegExp(`ZCALLRECORD row ${g.absurdPk}: ZDATE holds an impossible time`));
  }, 60_000);

  it('a truncated CallHistory.storedata fails with a warning; contacts still extracted', async () => {
    const t = fixture({
      contacts: 3,
      calls: 0,
      extend: (w) => {
        w.addFile('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', truncatedSqlite());
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'call-participants')!.status).toBe('failed');
    expect(warnings(casePath, 'call-participants').some((x) => x.severity === 'error')).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'contacts')!.events).toBeGreaterThan(0);
  }, 60_000);
});
