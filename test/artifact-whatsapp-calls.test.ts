// WhatsApp call log: CallHistory.sqlite (+ ContactsV2.sqlite) in the WhatsApp app group, through ingest(): every call
// with its direction, outcome, other side (JID → number, @lid → number through ContactsV2), duration and group
// participants; odd rows kept with warnings; a reduced schema (no aggregate table, no ContactsV2); a truncated file.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_REALDATA, REALDATA, fixture, tmpDir, wrapRealFiles } from './helpers.js';
import { makeSqlite } from '../fixtures/backupWriter.js';
import { events, extra, ingestUnchanged, warnings, truncatedSqlite } from './artifactKit.js';
import { addWhatsAppCalls, WA_CALLS_SCHEMA, WA_GROUP_DOMAIN, type WaCallsTruth } from '../fixtures/artifacts/whatsappCalls.js';
import { usNumber } from '../fixtures/artifacts/contacts.js';
import { waCallMetadata, waMetadata } from '../fixtures/artifacts/whatsapp.js';
import { readWaCallInfo } from '../src/extractors/artifacts/whatsapp.js';
import { mutate } from '../fixtures/fuzz.js';
import { Rng } from '../fixtures/random.js';

process.env.TZ = 'Pacific/Kiritimati';

describe('readWaCallInfo (ChatStorage call records, ZMETADATA 87 → 1)', () => {
  it('reads video, outcome and duration; no field 87 is null; mutated inputs return or throw an Error', () => {
    expect(readWaCallInfo(waCallMetadata(true, 4, 61))).toEqual({ video: true, outcome: 4, duration: 61, participants: [] });
    expect(readWaCallInfo(waMetadata(3, '14155550100@s.whatsapp.net'))).toBeNull();
    const rng = new Rng(59);
    const seeds = [waCallMetadata(false, 0, 95), waCallMetadata(true, 1, 0)];
    for (let i = 0; i < 2000; i++) {
      try {
        readWaCallInfo(mutate(rng.pick(seeds), rng));
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }
  });
});

describe.each([false, true])('WhatsApp CallHistory.sqlite (reduced schema: %s)', (reduced) => {
  it('one call event per call row, exact direction, outcome, other side, duration and participants; odd rows warned', async () => {
    let truth!: WaCallsTruth;
    const t = fixture({
      contacts: 4,
      calls: 0,
      extend: (w, tr, rng, tmp) => {
        const known = [...tr.nameByNumber.entries()].slice(0, 2).map(([e164, name]) => ({ e164, name }));
        const unknown = [usNumber(rng), usNumber(rng)].map((n) => ({ e164: n.e164, name: null }));
        truth = addWhatsAppCalls(w, rng, tmp, { end: tr.device.backupDate, people: [...known, ...unknown], reduced });
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['whatsapp-calls']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'whatsapp-calls')!.events).toBe(truth.calls.length);
    const ev = events(casePath, 'whatsapp-calls');
    const w = warnings(casePath, 'whatsapp-calls');
    expect(ev.length).toBe(truth.calls.length);
    for (const c of truth.calls) {
      const e = ev.find((x) => x.source_table === c.table && x.source_rowid === c.pk);
      expect(e, `${c.table} ${c.pk}`).toBeTruthy();
      const x = extra(e!);
      expect({
        pk: c.pk,
        kind: e!.kind,
        service: e!.service,
        ts: e!.ts_utc_us,
        action: e!.action,
        direction: e!.direction,
        counterpart: e!.counterpart,
        counterpartName: e!.counterpart_name,
        duration: e!.duration_s,
        title: e!.title,
        outcome: x.outcome ?? null,
        video: x.video,
        participants: (x.participants as { handle: string }[]).map((p) => p.handle),
      }).toEqual({
        pk: c.pk,
        kind: 'call',
        service: 'WhatsApp',
        ts: c.tsUs,
        action: c.action,
        direction: c.direction,
        counterpart: c.counterpart,
        counterpartName: c.counterpartName,
        duration: c.duration,
        title: c.title,
        outcome: c.outcome,
        video: c.video,
        participants: c.participants,
      });
      if (c.table === 'ZWACDCALLEVENT') expect(x.group).toBe(c.group);
      const mine = w.filter((y) => y.source_table === c.table && y.source_rowid === c.pk).map((y) => y.message);
      if (c.warning) expect(mine.join('\n'), `${c.table} ${c.pk}`).toMatch(new RegExp(c.warning));
      else expect(mine, `${c.table} ${c.pk}`).toEqual([]);
    }
    expect(w.some((y) => y.source_table === 'ZWACDCALLEVENTPARTICIPANT' && y.source_rowid === truth.strayParticipantPk)).toBe(true);
    if (reduced) expect(w.map((y) => y.message).join('\n')).toMatch(/has no ZWAAGGREGATECALLEVENT table/);
  }, 60_000);
});

describe('WhatsApp CallHistory.sqlite: broken', () => {
  it('a truncated CallHistory.sqlite is a recorded failure; contacts still extracted', async () => {
    const t = fixture({
      contacts: 3,
      calls: 0,
      extend: (w) => {
        w.addFile(WA_GROUP_DOMAIN, 'CallHistory.sqlite', truncatedSqlite());
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'whatsapp-calls')!.status).toBe('failed');
    expect(warnings(casePath, 'whatsapp-calls').some((x) => x.severity === 'error')).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'contacts')!.events).toBeGreaterThan(0);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('real data: mvt test ContactsV2.sqlite (BLOB-typed columns) beside a CallHistory.sqlite', () => {
  it('an @lid participant is put to its number and name through the real ContactsV2 rows', async () => {
    const dir = tmpDir();
    const made = makeSqlite(dir, 'CallHistory.sqlite', (db) => {
      db.exec(WA_CALLS_SCHEMA);
      db.prepare('INSERT INTO ZWAAGGREGATECALLEVENT (Z_PK, Z_ENT, Z_OPT, ZINCOMING, ZMISSED, ZVIDEO, ZFIRSTDATE) VALUES (1,1,1,1,0,0,777000000), (2,1,1,0,0,1,777100000)').run();
      db.prepare(
        "INSERT INTO ZWACDCALLEVENT (Z_PK, Z_ENT, Z_OPT, ZOUTCOME, Z1CALLEVENTS, ZDATE, ZDURATION, ZCALLIDSTRING) VALUES (1,2,1,0,1,777000000,61,'A'), (2,2,1,1,2,777100000,0,'B')",
      ).run();
      db.prepare(
        "INSERT INTO ZWACDCALLEVENTPARTICIPANT (Z_PK, Z_ENT, Z_OPT, ZOUTCOME, Z1PARTICIPANTS, ZJIDSTRING) VALUES (1,3,1,0,1,'100000000000001@lid'), (2,3,1,1,2,'14155550101@s.whatsapp.net')",
      ).run();
    });
    const callPath = path.join(dir, 'CallHistory.sqlite.bin');
    fs.writeFileSync(callPath, made.db);
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, [
      { domain: WA_GROUP_DOMAIN, relativePath: 'CallHistory.sqlite', source: callPath },
      { domain: WA_GROUP_DOMAIN, relativePath: 'ContactsV2.sqlite', source: path.join(REALDATA, 'mvt-backup/b8/b8548dc30aa1030df0ce18ef08b882cf7ab5212f') },
    ]);
    const { casePath } = await ingestUnchanged(root, ['whatsapp-calls']);
    const ev = events(casePath, 'whatsapp-calls');
    // 777000000 s since 2001 = 2025-08-16T01:20:00Z; the names and numbers are the mvt file's (realdata README: Alice/Bob Example).
    expect(ev.map((e) => [e.source_rowid, e.ts_utc_us, e.action, e.counterpart, e.counterpart_name, extra(e).video])).toEqual([
      [1, Date.parse('2025-08-16T01:20:00Z') * 1000, 'received', '+14155550100', 'Alice Example', false],
      [2, (777_100_000 + 978_307_200) * 1e6, 'placed', '+14155550101', 'Bob Example', true],
    ]);
    expect((extra(ev[0]).participants as { name_source: string }[])[0].name_source).toBe('ContactsV2.ZFULLNAME');
    expect(warnings(casePath, 'whatsapp-calls')).toEqual([]);
  }, 60_000);
});
