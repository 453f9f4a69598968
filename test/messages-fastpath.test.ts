// Messages: the rows that used to leave the bulk path (message_summary_info, item_type ≠ 0, balloon_bundle_id)
// are written by the one INSERT … SELECT per page, with the same events as the row-by-row path. Checked on the
// fixture schemas (siri summary info, group events, location sharing) and on hickman's real iOS 14 sms.db
// (38 Siri summary rows, 4 location-sharing rows, 2 URL balloons).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tmpDir, REALDATA, HAVE_REALDATA, REALDATA_SKIP_REASON, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import type { FixtureMessage } from '../fixtures/artifacts/messages.js';
import { ingest } from '../src/pipeline/ingest.js';
import { messagesTuning, messagesStats } from '../src/extractors/artifacts/messages.js';

type Row = Record<string, unknown>;
const opened: Database.Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

async function ingestCase(root: string, only: string[]): Promise<{ db: Database.Database; bulkRows: number; rowByRowRows: number }> {
  const casePath = path.join(tmpDir(), 'case.db');
  await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only });
  const db = new Database(casePath, { readonly: true });
  opened.push(db);
  return { db, bulkRows: messagesStats.bulkRows, rowByRowRows: messagesStats.rowByRowRows };
}

/** Message events comparable across two ingests: links by the message they name, threads by their source. */
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
    // Keys in the order written: the bulk path must build extra_json exactly as JSON.stringify does.
    return { ...r, extra_keys: Object.keys(x).join(','), extra_json: x };
  });
}

/** Attachments with the message they belong to (by ROWID, not event id). */
function comparableAttachments(d: Database.Database): Row[] {
  return d
    .prepare(`SELECT a.source_rowid, e.source_rowid AS message_rowid, a.path, a.transfer_name, a.mime_type, a.status, a.total_bytes, a.sha256
      FROM attachments a LEFT JOIN events e ON e.id = a.event_id ORDER BY a.source_rowid`)
    .all() as Row[];
}

/** The same backup with the bulk path and without (every row read one by one). */
async function bothWays(root: string, only: string[], pageRows: number) {
  messagesTuning.pageRows = pageRows;
  try {
    const bulk = await ingestCase(root, only);
    messagesTuning.sqlBulk = false;
    const rowByRow = await ingestCase(root, only);
    expect(rowByRow.bulkRows).toBe(0);
    return { bulk, rowByRow };
  } finally {
    messagesTuning.pageRows = 4000;
    messagesTuning.sqlBulk = true;
  }
}

/** For a by-hand before/after comparison: FASTPATH_DUMP=/some/dir writes each case's events and attachments. */
function dump(name: string, db: Database.Database): void {
  const dir = process.env.FASTPATH_DUMP;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ events: comparableEvents(db), attachments: comparableAttachments(db) }, null, 1));
}

const main = (db: Database.Database, rowid: number): Row =>
  db.prepare("SELECT * FROM events WHERE extractor = 'messages' AND source_rowid = ? ORDER BY id LIMIT 1").get(rowid) as Row;

for (const schema of ['ios14', 'ios17'] as const) {
  describe(`sms.db fixture ${schema}: summary-info and item-type rows on the bulk path`, () => {
    it('writes them in bulk, the same events and attachments as row by row', async () => {
      const t = fixture({ seed: 31, variant: schema, smsSchema: schema, contacts: 10, calls: 0, messages: 150, messagesInWal: 4 });
      const msgs = t.messages as FixtureMessage[];
      const { bulk, rowByRow } = await bothWays(t.root, ['contacts', 'messages'], 7);
      dump(`fixture-${schema}`, bulk.db);
      expect(comparableEvents(bulk.db)).toEqual(comparableEvents(rowByRow.db));
      expect(comparableAttachments(bulk.db)).toEqual(comparableAttachments(rowByRow.db));
      // Ground truth from the fixture: the Siri row carries its app, the group and location rows their action.
      const siri = msgs.find((m) => m.kind === 'siri')!;
      expect(JSON.parse(String(main(bulk.db, siri.rowid).extra_json))).toMatchObject({ sent_by_app: 'com.apple.siri' });
      expect(main(bulk.db, siri.rowid)).toMatchObject({ action: 'sent', body: 'Text sent with Siri while driving' });
      for (const k of ['group-rename', 'group-add']) expect(main(bulk.db, msgs.find((m) => m.kind === k)!.rowid).action).toBe('group-event');
      const loc = msgs.find((m) => m.kind === 'location')!;
      expect(main(bulk.db, loc.rowid)).toMatchObject({ action: 'location-sharing', body: null });
      expect(JSON.parse(String(main(bulk.db, loc.rowid).extra_json))).toMatchObject({ item_type: 4, share_status: 0, share_direction: 1 });
    });
  });
}

describe.skipIf(!HAVE_REALDATA)('hickman iOS 14.1 sms.db: every real row kind on the bulk path', () => {
  it('writes Siri summary rows, location sharing and URL balloons in bulk, as row by row', async () => {
    if (!HAVE_REALDATA) throw new Error(REALDATA_SKIP_REASON);
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      ...withSiblings('HomeDomain', 'Library/SMS/sms.db', path.join(REALDATA, 'hickman-ios14/sms/sms.db')),
      ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', path.join(REALDATA, 'hickman-ios14/contacts/AddressBook.sqlitedb')),
    ]);
    // One page of all 106 rows: the first row of each conversation teaches the bulk path; with pages of 5 the
    // later rows of a conversation go in bulk.
    const { bulk, rowByRow } = await bothWays(root, ['contacts', 'messages'], 5);
    dump('hickman', bulk.db);
    const events = comparableEvents(bulk.db);
    expect(events).toEqual(comparableEvents(rowByRow.db));
    expect(comparableAttachments(bulk.db)).toEqual(comparableAttachments(rowByRow.db));
    // Ground truth (sqlite3 on the real file): 38 rows with message_summary_info, 4 of them naming
    // amsa = com.apple.siri (the others hold only ust/amc); 4 with item_type 4 (ROWIDs 46–49); 2 URL balloons.
    const mains = events.filter((e) => !['delivered', 'read'].includes(String(e.action)));
    expect(mains).toHaveLength(106);
    expect(mains.filter((e) => (e.extra_json as Row).sent_by_app === 'com.apple.siri')).toHaveLength(4);
    expect(mains.filter((e) => e.action === 'location-sharing').map((e) => e.source_rowid)).toEqual([46, 47, 48, 49]);
    expect(mains.filter((e) => (e.extra_json as Row).balloon_bundle_id === 'com.apple.messages.URLBalloonProvider')).toHaveLength(2);
    // Of 106 rows, only those whose conversation (chat, handle, direction, service) was not seen in an earlier
    // page went one by one, and the 6 replies (a link to another message, resolved in JS): every other row,
    // summary info, item type and balloon included, went in bulk.
    const seen = new Set<string>();
    let firstSeen = 0;
    const byRowid = new Map(mains.map((e) => [Number(e.source_rowid), e]));
    const rowids = [...byRowid.keys()].sort((a, b) => a - b);
    const keyOf = (e: Row) => `${e.thread_rowid}/${(e.extra_json as Row).handle_id}/${e.direction}/${e.service}`;
    expect(mains.filter((e) => (e.extra_json as Row).reply_to_guid)).toHaveLength(6);
    for (let i = 0; i < rowids.length; i += 5) {
      const page = rowids.slice(i, i + 5).map((r) => byRowid.get(r)!);
      firstSeen += page.filter((e) => !seen.has(keyOf(e)) || (e.extra_json as Row).reply_to_guid).length;
      for (const e of page) seen.add(keyOf(e));
    }
    expect(bulk.bulkRows + bulk.rowByRowRows).toBe(106);
    expect(bulk.rowByRowRows).toBe(firstSeen);
  });
});
