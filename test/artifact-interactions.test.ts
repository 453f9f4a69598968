// CoreDuet interactionC.db (two generations) through ingest(); mvt's synthetic interactionC.db as real-world layout.
import { ingestWithTruncated } from './artifactKit.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HAVE_REALDATA, REALDATA, fixture, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { addInteractions, type InteractionsGeneration, type InteractionsTruth } from '../fixtures/artifacts/interactions.js';
import { usNumber } from '../fixtures/artifacts/contacts.js';
import { ingest } from '../src/pipeline/ingest.js';
import { isoFromUs } from '../src/formats/appleTime.js';

process.env.TZ = 'Pacific/Kiritimati';
type Row = Record<string, unknown>;
function query<T = Row>(casePath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

describe.each(['ios12', 'ios16'] as InteractionsGeneration[])('interactionC.db (%s)', (generation) => {
  it('one event per ZINTERACTIONS row: time, direction, app, counterpart named from contacts, recipients, attachments', async () => {
    let it!: InteractionsTruth;
    const t = fixture({
      contacts: 4,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        const known = [...truth.nameByNumber.entries()][0];
        it = addInteractions(w, rng, tmp, { generation, end: truth.device.backupDate, known, stranger: usNumber(rng).e164 });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['interactions'] });
    expect(treeHash(t.root)).toEqual(before);
    expect(r.summaries.find((s) => s.extractor === 'interactions')!.events).toBe(it.rows.length);
    for (const x of it.rows) {
      const [e] = query(casePath, "SELECT * FROM events WHERE source_table = 'ZINTERACTIONS' AND source_rowid = ?", x.pk);
      const extra = JSON.parse(e.extra_json as string);
      expect({
        pk: x.pk,
        ts: e.ts_utc_us,
        dir: e.direction,
        action: e.action,
        service: e.service,
        cp: e.counterpart,
        name: e.counterpart_name,
        dur: e.duration_s,
        recips: extra.recipients.length,
        atts: extra.attachments?.length ?? 0,
      }).toEqual({
        pk: x.pk,
        ts: x.tsUs,
        dir: x.direction,
        action: x.direction,
        service: x.service,
        cp: x.counterpart,
        name: x.counterpartName,
        dur: x.durationS,
        recips: x.recipients,
        atts: x.attachments,
      });
      expect(Number(e.ts_raw)).toBe(x.raw);
    }
    const w = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'interactions' AND source_rowid = ?", it.absurdPk);
    expect(w[0].message).toMatch(/ZINTERACTIONS row 5: ZSTARTDATE holds an impossible time/);
    if (generation === 'ios16')
      expect(JSON.parse(query(casePath, "SELECT extra_json FROM events WHERE source_rowid = 3 AND extractor = 'interactions'")[0].extra_json as string).group_name).toBe(
        '<b>Family</b>',
      );
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('real data: mvt interactionC.db (reduced schema)', () => {
  it('3 interactions: WhatsApp incoming from a LID, WhatsApp outgoing to +14155550100, Messages from Bob Example', async () => {
    const dir = tmpDir();
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, [
      { domain: 'HomeDomain', relativePath: 'Library/CoreDuet/People/interactionC.db', source: path.join(REALDATA, 'mvt-backup/1f/1f5a521220a3ad80ebfdc196978df8e7a2e49dee') },
    ]);
    const casePath = path.join(dir, 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['interactions'] });
    const ev = query(
      casePath,
      "SELECT source_rowid, ts_utc_us, direction, service, counterpart, counterpart_name FROM events WHERE extractor = 'interactions' ORDER BY source_rowid",
    );
    expect(ev.map((e) => [e.source_rowid, isoFromUs(e.ts_utc_us as number), e.direction, e.service, e.counterpart, e.counterpart_name])).toEqual([
      [1, '2025-09-08T04:53:20.000Z', 'incoming', 'WhatsApp', '100000000000001@lid', null],
      [2, '2025-09-09T08:40:00.000Z', 'outgoing', 'WhatsApp', '+14155550100', null],
      [3, '2025-09-10T12:26:40.000Z', 'incoming', 'Messages', '+14155550101', 'Bob Example'],
    ]);
  }, 60_000);
});

describe('interactionC.db: truncated database', () => {
  it('cut after its first page: fails alone; calls are still extracted', async () => {
    const { result: r } = await ingestWithTruncated('HomeDomain', 'Library/CoreDuet/People/interactionC.db', (cap, truth, rng, tmp) =>
      addInteractions(cap as unknown as Parameters<typeof addInteractions>[0], rng, tmp, {
        generation: 'ios16',
        end: truth.device.backupDate,
        known: [...truth.nameByNumber.entries()][0]!,
        stranger: '+14155550123',
      }),
    );
    expect(r.summaries.find((s) => s.extractor === 'interactions')!.status).toBe('failed');
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});
