// Messages (sms.db): fixture schemas from a 2015 chat.db to iOS 17, hostile rows, real data (hickman iOS 14.1 with
// WAL-only rows, plaso's 2015 chat.db), the 7 real typedstream blobs, exports.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cli, fixture, tmpDir, treeHash, checkBackup, REALDATA, HAVE_REALDATA, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import { makeSqlite, BackupWriter } from '../fixtures/backupWriter.js';
import { smsTables } from '../fixtures/artifacts/messagesSchema.js';
import { HTML_TEXT, fillBulkSmsDb, type SmsTruth, type FixtureMessage, type SmsSchema } from '../fixtures/artifacts/messages.js';
import { ingest } from '../src/pipeline/ingest.js';
import { messagesTuning, messagesStats } from '../src/extractors/artifacts/messages.js';
import { BulkMainEvents } from '../src/extractors/messages/bulk.js';
import { locateAttachment } from '../src/extractors/messages/attachmentPath.js';
import { parseAssociatedGuid, tapbackOf } from '../src/extractors/messages/vocab.js';
import { classifyMessage } from '../src/extractors/messages/classify.js';
import { messageTitle } from '../src/extractors/messages/conversations.js';
import { macAbsoluteAuto } from '../src/formats/appleTime.js';

type Row = Record<string, unknown>;
interface Ev {
  id: number;
  ts_utc_us: number | null;
  ts_raw: string | null;
  ts_epoch: string | null;
  kind: string;
  action: string;
  title: string;
  body: string | null;
  direction: string | null;
  counterpart: string | null;
  counterpart_name: string | null;
  thread_id: number | null;
  service: string | null;
  source_file_id: number;
  source_table: string;
  source_rowid: number;
  extractor: string;
  extra_json: string | null;
}

async function ingestCase(root: string, only = ['contacts', 'messages']): Promise<{ db: Database.Database; casePath: string }> {
  const casePath = path.join(tmpDir(), 'case.db');
  await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only });
  const db = new Database(casePath, { readonly: true });
  return { db, casePath };
}

function messageEvents(db: Database.Database): Map<number, Ev[]> {
  const byRow = new Map<number, Ev[]>();
  for (const e of db.prepare("SELECT * FROM events WHERE extractor = 'messages' ORDER BY id").all() as Ev[]) {
    const list = byRow.get(e.source_rowid) ?? [];
    list.push(e);
    byRow.set(e.source_rowid, list);
  }
  return byRow;
}

const extraOf = (e: Ev): Row => JSON.parse(e.extra_json ?? '{}') as Row;

/**
 * The message events of a case in a form two ingests of the same backup can be compared by: ordered by message
 * and action, thread by its source, and links to other events by the message they name (event ids differ when
 * rows were written in another order).
 */
function comparableEvents(d: Database.Database): Row[] {
  const rowidOf = new Map(d.prepare('SELECT id, source_rowid FROM events').raw(true).all() as [number, number][]);
  const rows = d
    .prepare(`SELECT e.source_rowid, e.action, e.ts_utc_us, e.ts_raw, e.ts_epoch, e.title, e.body, e.direction, e.counterpart,
      e.counterpart_name, e.service, t.source_table AS thread_table, t.source_rowid AS thread_rowid, t.identifier AS thread, e.extra_json
    FROM events e LEFT JOIN threads t ON t.id = e.thread_id WHERE e.extractor = 'messages' ORDER BY e.source_rowid, e.action`)
    .all() as Row[];
  return rows.map((r) => {
    const x = JSON.parse(String(r.extra_json)) as Row;
    for (const k of ['of_event_id', 'reacted_to_event_id', 'reply_to_event_id', 'associated_event_id']) if (k in x) x[k] = rowidOf.get(x[k] as number);
    return { ...r, extra_json: x };
  });
}

/** Ingest twice in small pages, with the bulk path and without, and return both. */
async function bothWays(root: string, only: string[], pageRows: number): Promise<{ bulk: Database.Database; bulkRows: number; rowByRow: Database.Database }> {
  messagesTuning.pageRows = pageRows;
  try {
    const { db: bulk } = await ingestCase(root, only);
    const bulkRows = messagesStats.bulkRows;
    messagesTuning.sqlBulk = false;
    const { db: rowByRow } = await ingestCase(root, only);
    expect(messagesStats.bulkRows).toBe(0);
    opened.push(bulk, rowByRow);
    return { bulk, bulkRows, rowByRow };
  } finally {
    messagesTuning.pageRows = 4000;
    messagesTuning.sqlBulk = true;
  }
}
const opened: Database.Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

const SCHEMAS: { schema: SmsSchema; variant: 'ios13' | 'ios14' | 'ios17' }[] = [
  { schema: 'legacy', variant: 'ios14' },
  { schema: 'ios13', variant: 'ios13' },
  { schema: 'ios14', variant: 'ios14' },
  { schema: 'ios17', variant: 'ios17' },
];

for (const { schema, variant } of SCHEMAS) {
  describe(`sms.db fixture: ${schema}`, async () => {
    const t = fixture({ seed: 31, variant, smsSchema: schema, contacts: 10, calls: 0, messages: 150, messagesInWal: 4 });
    const sms = t.sms as SmsTruth;
    const msgs = t.messages as FixtureMessage[];
    const before = treeHash(t.root);
    const { db } = await ingestCase(t.root);
    opened.push(db);
    const byRow = messageEvents(db);
    const main = (m: FixtureMessage) => byRow.get(m.rowid)![0];
    const kind = (k: string) => msgs.find((m) => m.kind === k);

    it('writes a backup the independent validator accepts, and ingest leaves it byte-identical', () => {
      // With traps the backup is deliberately incomplete: one attachment is listed in Manifest.db without a payload.
      const v = checkBackup(t.root);
      const fails = v.output.split('\n').filter((l) => l.startsWith('FAIL'));
      const listedOnly = sms.attachments.find((a) => a.state === 'missing')!;
      expect(fails, v.output).toEqual([
        expect.stringMatching(
          new RegExp(`^FAIL payloads-present: 1 of \\d+ file rows have no payload, e\\.g\\. MediaDomain/${listedOnly.relativePath!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `),
        ),
      ]);
      const clean = fixture({ seed: 32, variant, smsSchema: schema, contacts: 6, calls: 0, messages: 80, messagesInWal: 2, messageTraps: false });
      const v2 = checkBackup(clean.root);
      expect(v2.ok, v2.output).toBe(true);
      expect(treeHash(t.root)).toEqual(before);
    });

    it('turns every message row, WAL-only rows included, into events with its ROWID', () => {
      expect(msgs.filter((m) => m.inWal)).toHaveLength(4);
      expect([...byRow.keys()].sort((a, b) => a - b)).toEqual(msgs.map((m) => m.rowid));
      for (const list of byRow.values())
        for (const e of list) {
          expect(e.source_table).toBe('message');
          expect(e.kind).toBe('message');
          expect(e.thread_id).not.toBeNull();
        }
      const run = db.prepare("SELECT * FROM extractor_runs WHERE extractor = 'messages'").get() as Row;
      expect(run.events).toBe([...byRow.values()].reduce((s, l) => s + l.length, 0));
    });

    it('gets text, times (exact to the microsecond), direction, counterpart, name and service right', () => {
      for (const m of msgs) {
        const e = main(m);
        expect({ rowid: m.rowid, action: e.action }).toEqual({ rowid: m.rowid, action: m.action });
        expect({ rowid: m.rowid, body: e.body }).toEqual({ rowid: m.rowid, body: m.text });
        expect(e.ts_utc_us).toBe(m.dateUs);
        expect(e.ts_raw).toBe(String(m.date));
        expect(e.ts_epoch).toBe(schema === 'legacy' ? 'mac-s' : 'mac-ns');
        expect(e.direction).toBe(m.isFromMe ? 'outgoing' : 'incoming');
        expect({ rowid: m.rowid, cp: e.counterpart, name: e.counterpart_name }).toEqual({ rowid: m.rowid, cp: m.counterpart, name: m.counterpartName });
        expect(e.service).toBe(m.service);
        expect(extraOf(e).guid).toBe(m.guid);
        expect(e.title).not.toContain('undefined');
      }
      // Names come from the address book (E.164 matching of national-format numbers).
      expect(msgs.filter((m) => m.counterpartName && !m.isFromMe).length).toBeGreaterThan(10);
      if (schema !== 'legacy') {
        const ns = msgs.find((m) => m.kind === 'normal')!;
        expect(ns.date).toBeTypeOf('bigint');
        expect(main(ns).ts_utc_us).toBe(Number((ns.date as bigint) / 1000n) + 978_307_200_000_000);
      }
    });

    it('writes delivered, read, played, edited and unsent times as separate events of the same message', () => {
      for (const m of msgs) {
        const list = byRow.get(m.rowid)!;
        expect({ rowid: m.rowid, actions: list.map((e) => e.action) }).toEqual({ rowid: m.rowid, actions: m.events });
        const at = (a: string) => list.find((e) => e.action === a)?.ts_utc_us ?? null;
        expect(at('delivered')).toBe(m.deliveredUs);
        expect(at('read')).toBe(m.readUs);
        expect(at('played')).toBe(m.playedUs);
        expect(at('edited')).toBe(m.editedUs);
        expect(at('unsent')).toBe(m.retractedUs);
        for (const e of list.slice(1)) {
          expect(extraOf(e).of_event_id).toBe(list[0].id);
          expect(e.body).toBeNull();
          expect([e.thread_id, e.direction, e.counterpart]).toEqual([list[0].thread_id, list[0].direction, list[0].counterpart]);
          expect(e.title).toContain(list[0].title);
        }
      }
      expect(msgs.some((m) => m.readUs !== null) && msgs.some((m) => m.deliveredUs !== null)).toBe(true);
    });

    it('puts every message in its thread: groups with their name and members', () => {
      const threads = db.prepare("SELECT * FROM threads WHERE extractor = 'messages' AND source_table = 'chat' ORDER BY source_rowid").all() as Row[];
      expect(threads.map((r) => r.source_rowid)).toEqual(sms.chats.map((c) => c.rowid));
      for (const c of sms.chats) {
        const th = threads.find((r) => r.source_rowid === c.rowid)!;
        expect(th).toMatchObject({ identifier: c.identifier, display_name: c.displayName, is_group: c.isGroup ? 1 : 0, service: c.service });
        const members = db.prepare('SELECT handle, name FROM participants WHERE thread_id = ? ORDER BY handle').all(th.id) as Row[];
        expect(members.map((p) => p.handle).sort()).toEqual(c.members.map((r) => sms.handles.find((h) => h.rowid === r)!.id).sort());
        for (const p of members) expect(p.name).toBe(t.nameByNumber.get(String(p.handle)) ?? null);
      }
      const named = sms.chats.find((c) => c.displayName)!;
      const th = threads.find((r) => r.source_rowid === named.rowid)!;
      for (const m of msgs.filter((x) => x.chatRowid === named.rowid)) expect(main(m).thread_id).toBe(th.id);
      const groupIn = kind('group-in')!;
      expect(main(groupIn).title).toContain(`in group “${named.displayName}”`);
      expect(main(kind('group-out')!).title).toMatch(/^iMessage to group \(/);
    });

    it('links tapbacks (added, removed, emoji, stored before their target) and inline replies to their message', () => {
      const reactions = msgs.filter((m) => m.kind.startsWith('reaction'));
      if (schema === 'legacy') {
        expect(reactions).toHaveLength(0);
        return;
      }
      expect(reactions.length).toBeGreaterThanOrEqual(4);
      for (const m of reactions) {
        const x = extraOf(main(m));
        expect(main(m).action).toBe(m.action);
        expect(x.associated_guid).toBe(m.associatedGuid);
        expect(x.reacted_to_rowid).toBe(m.targetRowid);
        expect(x.reacted_to_event_id).toBe(byRow.get(m.targetRowid!)![0].id);
        expect(x.reaction).toBe(m.reaction);
      }
      const fwd = kind('reaction-forward')!;
      expect(fwd.targetRowid).toBeGreaterThan(fwd.rowid);
      expect(main(kind('reaction-removed')!).action).toBe('reaction-removed');
      expect(main(kind('reaction-liked-by-me')!).title).toContain('you liked a message');
      if (schema === 'ios17') {
        const emo = main(kind('reaction-emoji')!);
        expect(extraOf(emo)).toMatchObject({ reaction: 'emoji', emoji: '🎉', associated_message_type: 2006 });
        expect(emo.title).toContain('reacted 🎉 to a message');
      }
      const reply = kind('reply');
      if (reply) expect(extraOf(main(reply)).reply_to_event_id).toBe(byRow.get(reply.replyToRowid!)![0].id);
    });

    it('marks edited and unsent messages, with the earlier versions message_summary_info keeps', () => {
      const ed = kind('edited');
      const un = kind('unsent');
      if (schema !== 'ios17') {
        expect(ed).toBeUndefined();
        return;
      }
      const x = extraOf(main(ed!));
      expect(x.edited).toBe(true);
      expect((x.edit_history as Row[]).map((h) => h.text)).toEqual(ed!.editHistory);
      expect(x.original_text).toBe(ed!.editHistory![0]);
      expect(main(ed!).body).toBe(ed!.editHistory!.at(-1));
      expect(main(ed!).title).toMatch(/\(edited\)$/);
      const edEv = byRow.get(ed!.rowid)!.find((e) => e.action === 'edited')!;
      expect(extraOf(edEv)).toMatchObject({ versions: 3, current_text: ed!.text });
      expect(main(un!).body).toBeNull();
      expect(extraOf(main(un!))).toMatchObject({ unsent: true, unsent_parts: [0] });
      expect(main(un!).title).toMatch(/\(unsent\)$/);
      expect(extraOf(main(kind('siri')!)).sent_by_app).toBe('com.apple.siri');
      expect(extraOf(main(kind('recently-deleted')!)).recently_deleted).toBe(true);
      expect(main(kind('rcs')!).service).toBe('RCS');
    });

    it('records group events, location sharing and audio messages', () => {
      expect(main(kind('group-rename')!)).toMatchObject({ action: 'group-event', body: null });
      expect(extraOf(main(kind('group-rename')!))).toMatchObject({ item_type: 2, group_title: 'Weekend Trip 🏕️' });
      expect(main(kind('group-add')!).title).toMatch(/you added /);
      expect(main(kind('location')!)).toMatchObject({ action: 'location-sharing', body: null });
      expect(extraOf(main(kind('audio')!)).is_audio_message).toBe(1);
    });

    it('hashes attachments found in MediaDomain, records missing ones, refuses a path that leaves the folder', () => {
      const rows = db
        .prepare(
          "SELECT a.*, f.status AS file_status, f.sha256 AS file_sha256, f.domain, f.relative_path FROM attachments a LEFT JOIN files f ON f.id = a.file_id WHERE a.extractor = 'messages' ORDER BY a.source_rowid",
        )
        .all() as Row[];
      expect(rows.map((r) => r.source_rowid)).toEqual(sms.attachments.map((a) => a.rowid));
      for (const a of sms.attachments) {
        const r = rows.find((x) => x.source_rowid === a.rowid)!;
        expect(r.event_id).toBe(byRow.get(a.messageRowid)![0].id);
        expect(r).toMatchObject({ path: a.filename, transfer_name: a.transferName, mime_type: a.mimeType, uti: a.uti, total_bytes: a.totalBytes });
        if (a.state === 'ok')
          expect(r).toMatchObject({ status: 'ok', sha256: a.sha256, file_status: 'ok', file_sha256: a.sha256, domain: 'MediaDomain', relative_path: a.relativePath });
        else if (a.state === 'hostile') expect(r).toMatchObject({ status: 'outside-attachments', file_id: null, sha256: null });
        else expect(r).toMatchObject({ status: 'missing', sha256: null, file_status: 'missing', domain: 'MediaDomain', relative_path: a.relativePath });
      }
      expect(sms.attachments.map((a) => a.state).sort()).toEqual(['hostile', 'missing', 'ok', 'ok', 'unlisted']);
      const warn = db.prepare("SELECT message, severity FROM warnings WHERE extractor = 'messages' AND message LIKE '%would leave%'").all() as Row[];
      expect(warn).toHaveLength(1);
      expect(warn[0].severity).toBe('warning');
      // The working copies made for hashing are gone; nothing was written next to the evidence.
      expect(fs.existsSync(path.join(t.root, 'private'))).toBe(false);
    });

    it('keeps hostile rows as events: corrupt body as hex, missing handle or chat, HTML text verbatim', () => {
      const warnings = (db.prepare("SELECT message FROM warnings WHERE extractor = 'messages'").all() as { message: string }[]).map((w) => w.message);
      const corrupt = kind('corrupt-body')!;
      const cx = extraOf(main(corrupt));
      expect(cx.attributed_body).toBe('undecodable');
      expect(String(cx.attributed_body_hex)).toMatch(/^040b73747265616d7479706564/);
      expect(main(corrupt).body).toBe(corrupt.text);
      expect(warnings.some((w) => w.includes(`message ROWID ${corrupt.rowid}: attributedBody could not be decoded`))).toBe(true);
      if (schema === 'ios17') {
        const empty = kind('empty-body')!;
        expect(main(empty).body).toBeNull();
        expect(extraOf(main(empty)).attributed_body_error).toMatch(/empty/i);
      }
      const mh = kind('missing-handle')!;
      expect(main(mh)).toMatchObject({ counterpart: null, body: 'Sender handle row is gone' });
      expect(extraOf(main(mh))).toMatchObject({ handle_id: 9999, handle_missing: true });
      expect(warnings.some((w) => w.includes('handle ROWID 9999'))).toBe(true);
      const mc = kind('missing-chat')!;
      expect(warnings.some((w) => w.includes(`belongs to chat ROWID ${sms.missingChatRowid}`))).toBe(true);
      const synth = db.prepare('SELECT * FROM threads WHERE id = ?').get(main(mc).thread_id) as Row;
      expect(JSON.parse(String(synth.extra_json))).toMatchObject({ synthetic: true });
      const nc = kind('no-chat')!;
      expect(main(nc).thread_id).not.toBeNull();
      expect(main(kind('html')!).body).toBe(HTML_TEXT);
      expect(main(kind('html')!).title).not.toContain('<script>');
    });

    it('the bulk path and the row-by-row path write the same events', async () => {
      // Pages of 7 rows, so the bulk statement has conversations to work with after the first page (the case
      // above fits in one page: all of it went row by row, delivered/read times through SQLite).
      const { bulk, bulkRows, rowByRow } = await bothWays(t.root, ['contacts', 'messages'], 7);
      expect(bulkRows).toBeGreaterThan(0);
      expect(comparableEvents(bulk)).toEqual(comparableEvents(rowByRow));
      expect(comparableEvents(bulk)).toEqual(comparableEvents(db));
      // Without the attached copy at all (delivered/read times through macAbsoluteAuto), the same again.
      messagesTuning.sqlMinorEvents = false;
      try {
        const { db: plain } = await ingestCase(t.root);
        opened.push(plain);
        expect(comparableEvents(plain)).toEqual(comparableEvents(db));
      } finally {
        messagesTuning.sqlMinorEvents = true;
      }
    });
  });
}

describe('bulk path on the bench generator (text-only and attributedBody-only rows)', () => {
  for (const attributedOnly of [false, true]) {
    it(`writes the same events as the row-by-row path (${attributedOnly ? 'attributedBody only' : 'text only'})`, async () => {
      const dir = tmpDir();
      const dbPath = path.join(dir, 'sms.db');
      const src = new Database(dbPath);
      fillBulkSmsDb(src, { count: 1500, attributedOnly, handles: 12 });
      src.close();
      const root = path.join(dir, 'backup');
      const w = new BackupWriter(root, {
        deviceName: 'T',
        productType: 'iPhone15,2',
        productVersion: attributedOnly ? '17.4.1' : '14.8.1',
        buildVersion: 'X',
        serialNumber: 'T',
        udid: 't'.padEnd(40, '0'),
        backupDate: new Date(Date.UTC(2024, 0, 1)),
      });
      w.addDatabase('HomeDomain', 'Library/SMS/sms.db', { db: fs.readFileSync(dbPath) });
      w.finish();
      const { bulk, bulkRows, rowByRow } = await bothWays(root, ['messages'], 100);
      expect(bulkRows).toBeGreaterThan(1000);
      const a = comparableEvents(bulk);
      expect(a).toHaveLength(3000);
      expect(a).toEqual(comparableEvents(rowByRow));
      expect(a.filter((e) => (e.extra_json as Row).body_source === (attributedOnly ? 'attributedBody' : 'text'))).toHaveLength(1500);
      if (attributedOnly) return;
      // A bulk statement that fails half-way: SQLite undoes it, those rows and the rest go row by row, with a note.
      let calls = 0;
      const real = BulkMainEvents.prototype.run;
      const spy = vi.spyOn(BulkMainEvents.prototype, 'run').mockImplementation(function (this: BulkMainEvents, lo, hi) {
        if (++calls === 4) throw new Error('simulated failure');
        return real.call(this, lo, hi);
      });
      try {
        messagesTuning.pageRows = 100;
        const { db: failed } = await ingestCase(root, ['messages']);
        opened.push(failed);
        expect(calls).toBe(4);
        expect(messagesStats.bulkRows).toBeGreaterThan(0);
        expect(comparableEvents(failed)).toEqual(a);
        expect(failed.prepare("SELECT severity, message FROM warnings WHERE extractor = 'messages'").all()).toEqual([
          { severity: 'info', message: 'message rows after ROWID 300 are read one by one (the bulk statement failed: simulated failure)' },
        ]);
      } finally {
        spy.mockRestore();
        messagesTuning.pageRows = 4000;
      }
    });
  }
});

describe('messages export', async () => {
  const t = fixture({ seed: 8, variant: 'ios17', contacts: 8, calls: 0, messages: 90, messagesInWal: 2 });
  const msgs = t.messages as FixtureMessage[];
  const casePath = path.join(tmpDir(), 'case.db');
  const r = await cli(['ingest', t.root, '--case', casePath, '--tz', 'UTC', '-q']);

  it('ingests through the CLI', () => {
    expect(r.code, r.stderr).toBe(0);
  });

  it('exports the message fields to JSONL (text, direction, counterpart, name, service, thread)', async () => {
    const out = path.join(tmpDir(), 'm.jsonl');
    const x = await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', out, '--kinds', 'message']);
    expect(x.code, x.stderr).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
    const mainLines = lines.filter((l) => ['sent', 'received', 'reaction', 'reaction-removed', 'group-event', 'location-sharing'].includes(String(l.action)));
    expect(mainLines).toHaveLength(msgs.length);
    const html = msgs.find((m) => m.kind === 'html')!;
    const hl = lines.find((l) => l.source_rowid === html.rowid && l.action === 'received')!;
    expect(hl).toMatchObject({
      text: HTML_TEXT,
      direction: 'incoming',
      counterpart: html.counterpart,
      counterpart_name: html.counterpartName,
      service: 'iMessage',
      source_table: 'message',
      source_path: 'Library/SMS/sms.db',
      timestamp_desc: 'Message Received',
    });
    expect(hl.thread).toBe(html.counterpart);
    const group = msgs.find((m) => m.kind === 'group-in')!;
    expect(lines.find((l) => l.source_rowid === group.rowid)!.thread).toBe('Weekend Trip 🏕️');
    const read = lines.find((l) => l.action === 'read')!;
    expect(read).toMatchObject({ text: null, timestamp_desc: 'Message Read' });
    expect(String(hl.message)).toContain(HTML_TEXT);
  });

  it('exports CSV without letting a message run as a formula', async () => {
    const out = path.join(tmpDir(), 'm.csv');
    expect((await cli(['export', '--case', casePath, '--format', 'csv', '--out', out, '--kinds', 'message'])).code).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('<script>alert(""pwned"")</script>');
    for (const line of text.split('\r\n').slice(1)) for (const cell of line.split(',')) if (!/^\+[1-9]\d{6,14}$/.test(cell)) expect(cell).not.toMatch(/^[=+@]/);
  });

  it('finds messages by keyword and by contact', async () => {
    const out = path.join(tmpDir(), 'k.jsonl');
    expect((await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', out, '--keyword', 'tent'])).code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Row);
    expect(lines.map((l) => l.text)).toContain('Who is bringing the tent?');
  });
});

describe('the 7 real typedstream blobs as message bodies (text NULL, iOS 16+ style)', async () => {
  const dir = path.join(REALDATA, 'typedstream');
  const expected: Record<string, string | null> = {
    AttributedBodyTextOnly: 'Noter test',
    AttributedBodyTextOnly2: 'Test 3',
    WeirdText: '𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉',
    URL: 'https://github.com/ReagentX/Logria',
    MultiPart: '\uFFFCtest 1\uFFFCtest 2 \uFFFCtest 3',
    ExtraData: null,
    Blank: null,
  };
  const names = Object.keys(expected);
  const t = HAVE_REALDATA
    ? fixture({
        seed: 3,
        variant: 'ios17',
        contacts: 2,
        calls: 0,
        extend: (w, _truth, _rng, tmp) => {
          w.addDatabase(
            'HomeDomain',
            'Library/SMS/sms.db',
            makeSqlite(tmp, 'sms.db', (db) => {
              // No secondary indexes: the extractor must then preload the join tables instead of seeking per row.
              db.exec(smsTables('ios17'));
              db.exec(
                "INSERT INTO handle (ROWID, id, service) VALUES (1, '+19195550123', 'iMessage'); INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name) VALUES (1, 'iMessage;-;+19195550123', 45, '+19195550123', 'iMessage'); INSERT INTO chat_handle_join VALUES (1, 1);",
              );
              const ins = db.prepare("INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, service, date) VALUES (?, ?, NULL, ?, 1, 'iMessage', ?)");
              names.forEach((n, i) => {
                ins.run(i + 1, `GUID-${n}`, fs.readFileSync(path.join(dir, n)), 700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n);
                db.prepare('INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (1, ?, 0)').run(i + 1);
              });
            }),
          );
        },
      })
    : null;

  it.skipIf(!HAVE_REALDATA)('decodes each to the text its README lists; Blank fails cleanly with its bytes kept', async () => {
    const { db } = await ingestCase(t!.root, ['messages']);
    opened.push(db);
    const rows = db.prepare("SELECT * FROM events WHERE extractor = 'messages' AND action = 'received' ORDER BY source_rowid").all() as Ev[];
    expect(rows).toHaveLength(7);
    names.forEach((n, i) => {
      const e = rows[i];
      if (n === 'ExtraData') expect(e.body!.slice(0, 15)).toBe('This is parsing');
      else expect({ n, body: e.body }).toEqual({ n, body: expected[n] });
    });
    const blank = rows[names.indexOf('Blank')];
    expect(extraOf(blank)).toMatchObject({ attributed_body: 'undecodable', attributed_body_hex: fs.readFileSync(path.join(dir, 'Blank')).toString('hex') });
    expect(extraOf(rows[names.indexOf('URL')]).links).toEqual(['https://github.com/ReagentX/Logria']);
    expect(extraOf(rows[names.indexOf('MultiPart')]).attachment_guids as string[]).toHaveLength(3);
    const w = db.prepare("SELECT severity, message FROM warnings WHERE extractor = 'messages' AND source_rowid = ?").all(names.indexOf('Blank') + 1) as Row[];
    expect(w).toHaveLength(1);
    expect(w[0].severity).toBe('warning');
  });
});

describe('helpers', () => {
  it('maps attachment paths to MediaDomain and refuses anything leaving the Attachments folder', () => {
    expect(locateAttachment('~/Library/SMS/Attachments/a9/09/F0D6/Memes 3.zip')).toEqual({
      ok: true,
      domain: 'MediaDomain',
      relativePath: 'Library/SMS/Attachments/a9/09/F0D6/Memes 3.zip',
    });
    expect(locateAttachment('/var/mobile/Library/SMS/Attachments/a9/09/X/a.jpg')).toMatchObject({ ok: true, relativePath: 'Library/SMS/Attachments/a9/09/X/a.jpg' });
    for (const bad of [
      '~/Library/SMS/Attachments/../../Library/SMS/sms.db',
      '~/Library/SMS/Attachments/a/./b',
      '~/Library/SMS/Attachments//etc',
      'Library/SMS/Attachments/x',
      '..\u0000/x',
      '~/Library/SMS/Attachments/',
    ]) {
      expect(locateAttachment(bad).ok).toBe(false);
    }
    expect(locateAttachment('/var/tmp/com.apple.messages/x.jpg')).toMatchObject({ ok: false, hostile: false });
    expect(locateAttachment('~/Library/SMS/Attachments/ab/../../../../etc/passwd')).toMatchObject({ ok: false, hostile: true });
    expect(locateAttachment(null)).toMatchObject({ ok: false, hostile: false });
  });

  it('parses associated GUIDs and tapback codes', () => {
    expect(parseAssociatedGuid('p:2/ABC')).toEqual({ guid: 'ABC', part: 2 });
    expect(parseAssociatedGuid('bp:ABC')).toEqual({ guid: 'ABC', part: null });
    expect(parseAssociatedGuid('ABC')).toEqual({ guid: 'ABC', part: null });
    expect(tapbackOf(2000)).toMatchObject({ added: true, name: 'love' });
    expect(tapbackOf(3005)).toMatchObject({ added: false, name: 'question' });
    expect(tapbackOf(2007)).toMatchObject({ added: true, name: 'sticker' });
    expect(tapbackOf(1000)).toBeNull();
    expect(tapbackOf(4000)).toBeNull();
  });
});

describe.skipIf(!HAVE_REALDATA)('real data: hickman iOS 14.1 sms.db (with WAL) and plaso 2015 chat.db', () => {
  it('reads all 106 messages (ROWIDs 109/110 only in the WAL) with exact times, names and attachments', async () => {
    const src = path.join(REALDATA, 'hickman-ios14');
    const realBefore = treeHash(path.join(src, 'sms'));
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      ...withSiblings('HomeDomain', 'Library/SMS/sms.db', path.join(src, 'sms/sms.db')),
      ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', path.join(src, 'contacts/AddressBook.sqlitedb')),
    ]);
    const before = treeHash(root);
    const { db } = await ingestCase(root);
    opened.push(db);
    const byRow = messageEvents(db);
    expect(byRow.size).toBe(106);
    expect(byRow.has(109) && byRow.has(110)).toBe(true);
    const mains = [...byRow.values()].map((l) => l[0]);
    const first = [...mains].sort((a, b) => a.ts_utc_us! - b.ts_utc_us!)[0];
    expect(first.source_rowid).toBe(77);
    expect(first.ts_utc_us).toBe(1584839459367563);
    expect(first.ts_raw).toBe('606532259367563904');
    expect(new Date(Math.round(first.ts_utc_us! / 1000)).toISOString()).toBe('2020-03-22T01:10:59.368Z');
    expect(first.body).toBe('G-773293 is your Google verification code.\n~FB9YQAAFDQFBWwg');
    expect(first).toMatchObject({ counterpart: '22000', service: 'SMS', direction: 'incoming', action: 'received' });
    const e1 = byRow.get(1)![0];
    expect(new Date(Math.round(e1.ts_utc_us! / 1000)).toISOString()).toBe('2021-01-30T13:31:43.540Z');
    expect(e1.body).toBe('Use 1708105 as Microsoft account security code. Go passwordless with Microsoft Authenticator https://aka.ms/authapp\n~YRjbGgBRvCcGdAg');
    const e110 = byRow.get(110)![0];
    expect(e110.ts_utc_us).toBe(1613764174007999);
    expect(e110).toMatchObject({ body: '\uFFFC', direction: 'outgoing', service: 'iMessage', counterpart: '+19198887386', counterpart_name: 'This Is DFIR Two' });
    // Every attributedBody decodes to exactly the text column (102 rows).
    const ab = mains.map((e) => extraOf(e).attributed_body).filter(Boolean);
    expect(ab).toHaveLength(102);
    expect(new Set(ab)).toEqual(new Set(['same']));
    expect(mains.filter((e) => e.service === 'SMS')).toHaveLength(65);
    expect(mains.filter((e) => e.service === 'iMessage')).toHaveLength(41);
    expect(mains.filter((e) => e.direction === 'outgoing')).toHaveLength(25);
    for (const r of [46, 47, 48, 49]) expect(byRow.get(r)![0]).toMatchObject({ action: 'location-sharing', body: null });
    // The WAL-only attachments are recorded, as missing (the backup has no payloads).
    const atts = db.prepare('SELECT a.*, e.source_rowid AS msg FROM attachments a LEFT JOIN events e ON e.id = a.event_id ORDER BY a.source_rowid').all() as Row[];
    expect(atts).toHaveLength(15);
    const a15 = atts.find((a) => a.source_rowid === 15)!;
    const a16 = atts.find((a) => a.source_rowid === 16)!;
    expect(a15).toMatchObject({ msg: 109, transfer_name: 'Memes 3.zip', mime_type: 'application/zip', status: 'missing', total_bytes: 3272322 });
    expect(a16).toMatchObject({ msg: 110, transfer_name: 'iOS_Bug_Reporting_for_Forensic_Purposes_1.2.pdf', mime_type: 'application/pdf', status: 'missing' });
    expect(db.prepare('SELECT status, domain, relative_path FROM files WHERE id = ?').get(a15.file_id)).toEqual({
      status: 'missing',
      domain: 'MediaDomain',
      relative_path: 'Library/SMS/Attachments/a9/09/F0D6E9A0-0594-40C8-82F1-2F8E4EDCB702/Memes 3.zip',
    });
    // /var/tmp staging copies that no message links to: kept, without an event, not looked up.
    expect(atts.filter((a) => a.event_id === null).map((a) => a.status)).toEqual(['outside-attachments', 'outside-attachments', 'outside-attachments']);
    expect(treeHash(root)).toEqual(before);
    expect(treeHash(path.join(src, 'sms'))).toEqual(realBefore);
  });

  it('writes the same events in bulk as row by row, on both real databases', async () => {
    const hickman = path.join(tmpDir(), 'backup');
    wrapRealFiles(hickman, [
      ...withSiblings('HomeDomain', 'Library/SMS/sms.db', path.join(REALDATA, 'hickman-ios14/sms/sms.db')),
      ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', path.join(REALDATA, 'hickman-ios14/contacts/AddressBook.sqlitedb')),
    ]);
    const plaso = path.join(tmpDir(), 'backup');
    wrapRealFiles(plaso, [{ domain: 'HomeDomain', relativePath: 'Library/SMS/sms.db', source: path.join(REALDATA, 'plaso/imessage_chat.db') }]);
    for (const root of [hickman, plaso]) {
      const { bulk, bulkRows, rowByRow } = await bothWays(root, ['contacts', 'messages'], 5);
      expect(bulkRows).toBeGreaterThan(0);
      expect(comparableEvents(bulk)).toEqual(comparableEvents(rowByRow));
    }
  });

  it('reads the 10 messages of the 2015 chat.db (dates in seconds); text wins over a differing attributedBody', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [{ domain: 'HomeDomain', relativePath: 'Library/SMS/sms.db', source: path.join(REALDATA, 'plaso/imessage_chat.db') }]);
    const { db } = await ingestCase(root);
    opened.push(db);
    const byRow = messageEvents(db);
    expect(byRow.size).toBe(10);
    const e8 = byRow.get(8)![0];
    expect(e8).toMatchObject({
      body: 'Did you try to send me a message?',
      counterpart: 'xxxxxx2015@icloud.com',
      service: 'iMessage',
      direction: 'incoming',
      ts_epoch: 'mac-s',
      ts_raw: '470573320',
    });
    expect(new Date(e8.ts_utc_us! / 1000).toISOString()).toBe('2015-11-30T10:48:40.000Z');
    expect(macAbsoluteAuto(470573320n)!.utcUs).toBe(e8.ts_utc_us);
    const first = [...byRow.values()].map((l) => l[0]).sort((a, b) => a.ts_utc_us! - b.ts_utc_us!)[0];
    expect(first.source_rowid).toBe(1);
    expect(new Date(first.ts_utc_us! / 1000).toISOString()).toBe('2015-11-22T18:09:46.000Z');
    for (const r of [6, 10]) {
      const x = extraOf(byRow.get(r)![0]);
      expect(byRow.get(r)![0].body).toMatch(/Open Office/);
      expect(x).toMatchObject({ body_source: 'text', attributed_body: 'differs' });
      expect(String(x.attributed_body_text)).toMatch(/Microsoft Office/);
    }
    const w = db.prepare("SELECT count(*) AS n FROM warnings WHERE extractor = 'messages' AND severity != 'info'").get() as { n: number };
    expect(w.n).toBe(0);
  });
});

describe('a doctored sms.db: minimal columns, no indexes, odd values', async () => {
  const big = 1n << 60n;
  const t = fixture({
    seed: 4,
    variant: 'ios17',
    contacts: 2,
    calls: 0,
    extend: (w, _truth, _rng, tmp) => {
      w.addDatabase(
        'HomeDomain',
        'Library/SMS/sms.db',
        makeSqlite(tmp, 'sms.db', (db) => {
          db.exec(`CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER, date INTEGER, date_read INTEGER, is_from_me INTEGER,
          associated_message_guid TEXT, associated_message_type INTEGER);
          CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
          INSERT INTO handle VALUES (1, '+19195550123', 'SMS');`);
          const ins = db.prepare('INSERT INTO message VALUES (?,?,?,?,?,?,?,?,?)');
          ins.run(1, 'G-1', 'first', 1, 700000000000000000n, 700000000500000000n, 0, null, null);
          ins.run(2, 'G-2', 'float seconds', 1, 470573320.25, 470573330.5, 0, null, null);
          ins.run(3, 'G-3', 'negative date', 1, -5, -7, 1, null, null);
          ins.run(4, 'G-4', 'text date', 1, 'yesterday', null, 1, null, null);
          ins.run(5, 'G-5', null, 1, null, null, 0, null, null);
          ins.run(6, 'G-6', Buffer.from('blob text ✓', 'utf8'), 1, 700000001000000000n, null, 1, null, null);
          ins.run(7, 'G-7', 'Loved “first”', 1, 700000002000000000n, null, 1, 'p:0/G-1', 2000);
          ins.run(big, 'G-big', 'huge rowid', 1, 700000003000000000n, null, 0, 'G-2', 2001);
        }),
      );
    },
  });

  it('still makes one event per row, warns about what it cannot read, and links by GUID without an index', async () => {
    const { db } = await ingestCase(t.root, ['messages']);
    opened.push(db);
    const run = db.prepare("SELECT status, message FROM extractor_runs WHERE extractor = 'messages'").get() as Row;
    expect(run.status).toBe('partial');
    const mains = db.prepare("SELECT * FROM events WHERE extractor = 'messages' AND action IN ('sent','received','reaction') ORDER BY id").all() as Ev[];
    expect(mains).toHaveLength(8);
    const by = (g: string) => mains.find((e) => extraOf(e).guid === g)!;
    expect(by('G-1').ts_utc_us).toBe(700000000000000 + 978307200000000);
    expect(by('G-2')).toMatchObject({ ts_utc_us: Math.round((470573320.25 + 978307200) * 1e6), ts_epoch: 'mac-s', body: 'float seconds' });
    expect(db.prepare("SELECT ts_utc_us FROM events WHERE action = 'read' AND source_rowid = 2").get()).toEqual({ ts_utc_us: Math.round((470573330.5 + 978307200) * 1e6) });
    expect(by('G-3').ts_utc_us).toBeNull();
    expect(by('G-4').ts_utc_us).toBeNull();
    expect(by('G-5')).toMatchObject({ ts_utc_us: null, body: null });
    expect(by('G-6').body).toBe('blob text ✓');
    expect(extraOf(by('G-7'))).toMatchObject({ reacted_to_event_id: by('G-1').id, reacted_to_rowid: 1 });
    expect(extraOf(by('G-big'))).toMatchObject({ reacted_to_event_id: by('G-2').id });
    const warnings = (db.prepare("SELECT message FROM warnings WHERE extractor = 'messages'").all() as { message: string }[]).map((w) => w.message).join('\n');
    expect(warnings).toMatch(/ROWID 3: date holds an invalid time/);
    expect(warnings).toMatch(/ROWID 3: date_read holds an invalid time/);
    expect(warnings).toMatch(/ROWID 4: date holds an invalid time/);
    expect(warnings).toMatch(/beyond exact JavaScript numbers/);
    expect(mains.every((e) => e.thread_id !== null)).toBe(true);
  });
});

describe('classifyMessage: what a row is, without a database', () => {
  const alice = { rowid: 1, id: '+15551230001', service: 'iMessage', name: 'Alice', label: 'Alice (+15551230001)' };
  const bob = { rowid: 2, id: '+15551230002', service: 'iMessage', name: null, label: '+15551230002' };
  const handles = new Map([
    [1, alice],
    [2, bob],
  ]);
  const chat = {
    rowid: 9,
    threadId: 3,
    identifier: 'chat9',
    displayName: 'Trip',
    service: 'iMessage',
    isGroup: true,
    members: [alice, bob],
    label: 'group “Trip”',
    memberHandles: null,
    memberNames: null,
  };
  const parties = (fromMe: boolean) => ({
    fromMe,
    service: 'iMessage',
    who: fromMe ? 'group “Trip”' : 'Alice (+15551230001) in group “Trip”',
    chat,
    handle: fromMe ? undefined : alice,
    handles,
  });

  it('an ordinary row is sent or received, titled by the shared builder', () => {
    const extra: Record<string, unknown> = {};
    const c = classifyMessage(undefined, parties(true), 5, extra);
    expect([c.action, c.title, c.links, extra]).toEqual(['sent', 'iMessage to group “Trip”', [], {}]);
    expect(messageTitle(null, false, 'x')).toBe('Message from x');
  });

  it('a removed tapback names its target by GUID and the verb it undoes', () => {
    const extra: Record<string, unknown> = {};
    const c = classifyMessage({ associated_message_type: 3001, associated_message_guid: 'p:0/ABC-1' }, parties(false), 7, extra);
    expect(c.action).toBe('reaction-removed');
    expect(c.title).toBe('iMessage reaction removed from Alice (+15551230001) in group “Trip”: no longer liked a message');
    expect(c.links).toEqual([{ key: 'reacted_to_event_id', guid: 'ABC-1' }]);
    expect(extra).toMatchObject({ reaction: 'like', associated_guid: 'ABC-1', associated_part: 0, associated_message_type: 3001 });
  });

  it('a group member added names the other handle; a rename keeps the title on one line', () => {
    const add = classifyMessage({ item_type: 1, other_handle: 2, group_action_type: 0 }, parties(false), 8, {});
    expect([add.action, add.title]).toEqual(['group-event', 'iMessage group “Trip”: Alice (+15551230001) added +15551230002']);
    const ren = classifyMessage({ item_type: 2, group_title: 'New\nname' }, parties(true), 9, {});
    expect(ren.title).toBe('iMessage group “Trip”: you renamed the group to “New name”');
  });

  it('an unreadable message_summary_info becomes a note and hex, never an exception', () => {
    const extra: Record<string, unknown> = {};
    const c = classifyMessage({ message_summary_info: Buffer.from('not a plist') }, parties(true), 11, extra);
    expect(c.notes).toEqual([expect.stringMatching(/^message ROWID 11: message_summary_info could not be read/)]);
    expect(extra.message_summary_info_hex).toBe(Buffer.from('not a plist').toString('hex'));
  });
});
