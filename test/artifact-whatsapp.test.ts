// WhatsApp ChatStorage.sqlite: two schema generations through ingest(), media hashed or missing, names from the
// address book, hostile rows, a truncated database, and mvt's reduced real-world test file.
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HAVE_REALDATA, REALDATA, fixture, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { addWhatsApp, WA_DOMAIN, type WaGeneration, type WhatsAppTruth } from '../fixtures/artifacts/whatsapp.js';
import { usNumber } from '../fixtures/artifacts/contacts.js';
import { ingest } from '../src/pipeline/ingest.js';
import { isoFromUs } from '../src/formats/appleTime.js';
import { jidToHandle, whatsappTuning, whatsappStats } from '../src/extractors/artifacts/whatsapp.js';

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
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function build(generation: WaGeneration): { root: string; wa: WhatsAppTruth } {
  let wa!: WhatsAppTruth;
  const t = fixture({
    contacts: 6,
    calls: 4,
    extend: (w, truth, rng, tmp) => {
      const strangers = [usNumber(rng).e164, usNumber(rng).e164];
      wa = addWhatsApp(w, rng, tmp, { generation, end: truth.device.backupDate, nameByNumber: truth.nameByNumber, strangers });
    },
  });
  return { root: t.root, wa };
}

describe.each(['legacy', 'current'] as WaGeneration[])('WhatsApp ChatStorage.sqlite (%s schema)', (generation) => {
  it('every ZWAMESSAGE row is one event with exact time, counterpart, contact name, text, thread and provenance', async () => {
    const { root, wa } = build(generation);
    const before = treeHash(root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['whatsapp'] });
    expect(treeHash(root)).toEqual(before);
    const s = r.summaries.find((x) => x.extractor === 'whatsapp')!;
    expect(s.events).toBe(wa.messages.length);
    expect(query(casePath, "SELECT count(*) AS n FROM events WHERE extractor = 'whatsapp'")[0].n).toBe(wa.messages.length);
    expect(wa.messages.filter((m) => m.inWal).length).toBe(2);

    for (const m of wa.messages) {
      const [e] = query(
        casePath,
        `SELECT e.*, t.identifier AS thread_identifier, t.service AS thread_service, f.relative_path AS src_path, f.domain AS src_domain
        FROM events e LEFT JOIN threads t ON t.id = e.thread_id JOIN files f ON f.id = e.source_file_id WHERE e.source_table = 'ZWAMESSAGE' AND e.source_rowid = ?`,
        m.pk,
      );
      expect(e, `Z_PK ${m.pk}`).toBeTruthy();
      expect({
        pk: m.pk,
        kind: e.kind,
        action: e.action,
        direction: e.direction,
        ts: e.ts_utc_us,
        counterpart: e.counterpart,
        name: e.counterpart_name,
        body: e.body,
        service: e.service,
      }).toEqual({
        pk: m.pk,
        kind: m.kind,
        action: m.action,
        direction: m.direction,
        ts: m.tsUs,
        counterpart: m.counterpart,
        name: m.counterpartName,
        body: m.body,
        service: 'WhatsApp',
      });
      expect(e.ts_epoch).toBe('mac-s');
      expect(Number(e.ts_raw)).toBe(m.rawDate);
      expect([e.src_domain, e.src_path]).toEqual([WA_DOMAIN, 'ChatStorage.sqlite']);
      if (m.threadJid) expect(e.thread_identifier).toBe(m.threadJid);
      expect(e.thread_service).toBe('WhatsApp');
      expect([e.latitude, e.longitude]).toEqual([m.latitude, m.longitude]);
      if (m.media) {
        const [a] = query(
          casePath,
          'SELECT a.*, f.status AS file_status, f.relative_path AS rel FROM attachments a LEFT JOIN files f ON f.id = a.file_id WHERE a.event_id = ?',
          e.id,
        );
        expect(a.status, `media of Z_PK ${m.pk}`).toBe(m.media.status);
        expect(a.source_table).toBe('ZWAMEDIAITEM');
        if (m.media.status === 'ok') {
          expect(a.sha256).toBe(sha(wa.mediaFiles.get(m.media.path)!));
          expect([a.file_status, a.rel]).toEqual(['ok', m.media.path]);
        }
        if (m.media.status === 'missing') expect([a.file_status, a.rel, a.sha256]).toEqual(['missing', m.media.path, null]);
        if (m.media.status === 'refused-path') expect(a.file_id).toBeNull();
      }
    }
    // ZMETADATA (protobuf): forwarding decoded; a corrupt blob is a warning and the message is kept.
    for (const m of wa.messages.filter((x) => x.forwarded)) {
      const [e] = query(casePath, "SELECT id, extra_json FROM events WHERE source_table = 'ZWAMESSAGE' AND source_rowid = ?", m.pk);
      const x = JSON.parse(e.extra_json as string);
      if (m.forwarded === 'corrupt') {
        expect(x.forward_count).toBeUndefined();
        const w = query<{ message: string }>(
          casePath,
          "SELECT message FROM warnings WHERE extractor = 'whatsapp' AND source_table = 'ZWAMEDIAITEM' AND message LIKE ?",
          `%message Z_PK ${m.pk})%`,
        );
        expect(w[0].message).toMatch(/ZMETADATA could not be decoded/);
      } else {
        expect([x.forward_count, x.forwarded_from, x.forwarded_from_handle]).toEqual([m.forwarded!.count, m.forwarded!.from, `+${m.forwarded!.from.split('@')[0]}`]);
      }
    }
    // Call records in chats (type 59): ZMETADATA 87 → 1 decoded into duration, video and outcome.
    const callRows = wa.messages.filter((m) => m.call);
    expect(callRows.length).toBe(2);
    for (const m of callRows) {
      const [e] = query(casePath, "SELECT title, duration_s, extra_json FROM events WHERE source_table = 'ZWAMESSAGE' AND source_rowid = ?", m.pk);
      const x = JSON.parse(e.extra_json as string);
      expect([e.title, e.duration_s, x.call_video, x.call_outcome, x.type_name]).toEqual([m.call!.title, m.call!.duration, m.call!.video, m.call!.outcome, 'call']);
    }
    // Exact time to the microsecond, spelled out once.
    const first = wa.messages[0];
    const [e1] = query(casePath, "SELECT ts_utc_us FROM events WHERE source_table = 'ZWAMESSAGE' AND source_rowid = ?", first.pk);
    expect(isoFromUs(e1.ts_utc_us as number)).toBe(new Date(Math.floor(first.tsUs! / 1000)).toISOString().replace('Z', `${String(first.tsUs! % 1000).padStart(3, '0')}Z`));
    expect(String(first.rawDate)).toMatch(/\.\d{6}$/);

    // Threads and group members.
    const threads = query(casePath, "SELECT * FROM threads WHERE extractor = 'whatsapp' AND source_table = 'ZWACHATSESSION' ORDER BY source_rowid");
    expect(threads.map((t) => t.identifier)).toEqual(wa.sessions.map((x) => x.jid));
    const group = threads.find((t) => t.is_group === 1)!;
    const members = query(casePath, 'SELECT handle, name FROM participants WHERE thread_id = ? ORDER BY handle', group.id);
    expect(members.length).toBe(2);
    const bob = wa.messages.find((m) => m.body === 'Hike on Saturday?')!;
    expect(members).toContainEqual({ handle: bob.counterpart, name: bob.counterpartName });
    expect(members).toContainEqual({ handle: wa.messages.find((m) => m.body === 'I am in')!.counterpart, name: 'Zed from gym' });
  }, 60_000);

  it('hostile rows: 1e300 date, HTML and formula text, a path leaving the folder, a missing chat session', async () => {
    const { root, wa } = build(generation);
    const before = treeHash(root);
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['whatsapp'] });
    expect(treeHash(root)).toEqual(before);
    const ev = (pk: number) => query(casePath, "SELECT * FROM events WHERE source_table = 'ZWAMESSAGE' AND source_rowid = ?", pk)[0];
    const absurd = ev(wa.hostile.absurdDatePk);
    expect([absurd.ts_utc_us, absurd.ts_raw, absurd.body]).toEqual([null, '1e+300', 'time travel']);
    const warnings = query<{ message: string; source_table: string; source_rowid: number; severity: string }>(casePath, "SELECT * FROM warnings WHERE extractor = 'whatsapp'");
    const w = warnings.find((x) => x.source_table === 'ZWAMESSAGE' && x.source_rowid === wa.hostile.absurdDatePk)!;
    expect(w.message).toMatch(new RegExp(`ZWAMESSAGE row ${wa.hostile.absurdDatePk}: ZMESSAGEDATE holds an impossible time`));
    expect(ev(wa.hostile.htmlPk).body).toBe('<script>alert("x")</script><img src=x onerror=alert(1)>');
    expect(ev(wa.hostile.formulaPk).body).toBe("=cmd|' /C calc'!A0");
    expect(warnings.some((x) => x.source_table === 'ZWAMEDIAITEM' && /would leave the WhatsApp folder/.test(x.message))).toBe(true);
    expect(query(casePath, "SELECT count(*) AS n FROM files WHERE relative_path LIKE '%etc/passwd%'")[0].n).toBe(0);
    expect(warnings.some((x) => x.source_rowid === wa.hostile.orphanSessionPk && /chat session 99/.test(x.message))).toBe(true);
    const orphan = ev(wa.hostile.orphanSessionPk);
    expect(orphan.thread_id).not.toBeNull();
  }, 60_000);
});

describe('WhatsApp: the bulk path and the row-by-row path write the same events', () => {
  it.each(['legacy', 'current'] as WaGeneration[])(
    '%s schema, 600 extra messages, pages of 64 rows',
    async (generation) => {
      let wa!: WhatsAppTruth;
      const t = fixture({
        contacts: 6,
        calls: 2,
        extend: (w, truth, rng, tmp) => {
          wa = addWhatsApp(w, rng, tmp, {
            generation,
            end: truth.device.backupDate,
            nameByNumber: truth.nameByNumber,
            strangers: [usNumber(rng).e164, usNumber(rng).e164],
            bulk: 600,
          });
        },
      });
      const cols = `ts_utc_us, ts_raw, ts_epoch, kind, action, title, body, direction, counterpart, counterpart_name, thread_id, service, duration_s, latitude, longitude,
      accuracy_m, source_table, source_rowid, extractor, extra_json`;
      const run = async (sqlBulk: boolean) => {
        const saved = { ...whatsappTuning };
        Object.assign(whatsappTuning, { sqlBulk, pageRows: 64 });
        const before = { ...whatsappStats };
        try {
          const casePath = path.join(tmpDir(), 'case.db');
          await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['whatsapp'] });
          return {
            rows: query(casePath, `SELECT ${cols} FROM events WHERE extractor = 'whatsapp' ORDER BY source_table, source_rowid, action`),
            warnings: query(casePath, "SELECT message, source_table, source_rowid FROM warnings WHERE extractor = 'whatsapp' ORDER BY message"),
            bulk: whatsappStats.bulkRows - before.bulkRows,
            rowByRow: whatsappStats.rowByRowRows - before.rowByRowRows,
          };
        } finally {
          Object.assign(whatsappTuning, saved);
        }
      };
      const fast = await run(true);
      const slow = await run(false);
      expect(fast.bulk).toBeGreaterThan(600);
      expect(fast.rowByRow).toBeGreaterThan(5);
      expect(fast.bulk + fast.rowByRow).toBe(wa.messages.length);
      expect(slow.bulk).toBe(0);
      expect(fast.rows.length).toBe(wa.messages.length);
      expect(fast.rows).toEqual(slow.rows);
      expect(fast.warnings).toEqual(slow.warnings);
    },
    120_000,
  );
});

describe('WhatsApp: broken databases', () => {
  it('a truncated ChatStorage.sqlite is a recorded failure; contacts and calls are still extracted', async () => {
    const t = fixture({
      contacts: 4,
      calls: 5,
      callsInWal: 0,
      extend: (w, truth, rng, tmp) => {
        const strangers = [usNumber(rng).e164, usNumber(rng).e164];
        const inner = { files: new Map<string, Buffer>() };
        // Build the real file, then keep only its first pages.
        const fake = { addDatabase: (_d: string, _p: string, f: { db: Buffer }) => inner.files.set('db', f.db), addFile: () => '' } as unknown as Parameters<typeof addWhatsApp>[0];
        addWhatsApp(fake, rng, tmp, { generation: 'current', end: truth.device.backupDate, nameByNumber: truth.nameByNumber, strangers, bulk: 3000, inWal: 0 });
        const db = inner.files.get('db')!;
        expect(db.length).toBeGreaterThan(8 * 4096);
        w.addFile(WA_DOMAIN, 'ChatStorage.sqlite', db.subarray(0, Math.floor(db.length / 2)));
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(treeHash(t.root)).toEqual(before);
    const wa = r.summaries.find((s) => s.extractor === 'whatsapp')!;
    expect(['failed', 'partial']).toContain(wa.status);
    const warnings = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'whatsapp' AND severity IN ('warning','error')");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.map((x) => x.message).join('\n')).toMatch(/malformed|corrupt|not a database/i);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(5);
    expect(r.summaries.find((s) => s.extractor === 'contacts')!.status).toBe('ok');
  }, 60_000);

  it('a database that is not SQLite at all fails alone', async () => {
    const t = fixture({
      contacts: 2,
      calls: 2,
      extend: (w) => {
        w.addFile(WA_DOMAIN, 'ChatStorage.sqlite', Buffer.from('<html>not a database</html>'));
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(r.summaries.find((s) => s.extractor === 'whatsapp')!.status).toBe('failed');
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(2);
  }, 60_000);

  it('JIDs: phone JIDs become E.164, others stay as they are', () => {
    expect(jidToHandle('14155550100@s.whatsapp.net')).toBe('+14155550100');
    expect(jidToHandle('14155550100:12@s.whatsapp.net')).toBe('+14155550100');
    expect(jidToHandle('120363041234567890@g.us')).toBe('120363041234567890@g.us');
    expect(jidToHandle('100000000000001@lid')).toBe('100000000000001@lid');
    expect(jidToHandle(null)).toBeNull();
  });
});

describe.skipIf(!HAVE_REALDATA)('real data: mvt test ChatStorage.sqlite (reduced schema)', () => {
  it('3 messages, 2 chat sessions; @lid and group JIDs kept; partner names used', async () => {
    const dir = tmpDir();
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, [{ domain: WA_DOMAIN, relativePath: 'ChatStorage.sqlite', source: path.join(REALDATA, 'mvt-backup/7c/7c7fba66680ef796b916b067077cc246adacf01d') }]);
    const casePath = path.join(dir, 'case.db');
    const r = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['whatsapp'] });
    expect(r.summaries.find((s) => s.extractor === 'whatsapp')!.events).toBe(3);
    expect(query(casePath, "SELECT count(*) AS n FROM threads WHERE extractor = 'whatsapp'")[0].n).toBe(2);
    const ev = query(
      casePath,
      "SELECT source_rowid, ts_utc_us, action, direction, counterpart, counterpart_name, body FROM events WHERE extractor = 'whatsapp' ORDER BY source_rowid",
    );
    expect(ev.map((e) => [e.source_rowid, isoFromUs(e.ts_utc_us as number), e.action, e.counterpart, e.counterpart_name, e.body])).toEqual([
      [1, '2025-08-27T15:06:40.000Z', 'received', '100000000000001@lid', 'Alice Example', 'Hi'],
      [2, '2025-08-28T18:53:20.000Z', 'sent', '100000000000001@lid', 'Alice Example', 'Check https://example.org/news'],
      [3, '2025-08-29T22:40:00.000Z', 'received', '+14155550101', null, 'Welcome'],
    ]);
  }, 60_000);
});
