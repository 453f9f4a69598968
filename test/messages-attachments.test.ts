// Message attachments are read a page at a time (message_attachment_join joined to attachment in one query) when
// the join is indexed on message_id, as every real sms.db is; an sms.db without that index reads each attachment
// row by its ROWID. Both must record the same attachments, files, thumbnails and warnings, in the same order.
// The sms.db here is built to hold every case the recorder distinguishes, with known counts:
//   m1, m2     → A1, one image in the backup, linked twice (one files row, one thumbnail copied)
//   m3, m4     → A2 (m3 and m4), A3 (m4): two attachment rows naming the same path, not in the backup (one 'missing'
//                files row); m4 has two attachments
//   m5         → attachment ROWID 999, which the attachment table does not hold
//   m6…m60     → 55 staging paths under /var/tmp (not looked up, not hostile)
//   m61        → a path that climbs out of the Attachments folder (hostile: named past the cap)
//   m62…m121   → 60 distinct paths not in the backup
//   m122       → a folder the backup lists (a bundle attachment)
//   m123       → an attachment row without a file name
//   orphans    → one with a relative climbing path (hostile), one linked only to messages 124 and 9999, which do not
//                exist (124 lies inside the last page, between m123 and m125: still one orphan row, not two)
import { createHash } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tmpDir } from './helpers.js';
import { makeSqlite } from '../fixtures/backupWriter.js';
import { smsTables } from '../fixtures/artifacts/messagesSchema.js';
import { tinyJpeg } from '../fixtures/artifacts/photos.js';
import { ingest } from '../src/pipeline/ingest.js';
import { messagesTuning } from '../src/extractors/artifacts/messages.js';

type Row = Record<string, unknown>;
const opened: Database.Database[] = [];
afterAll(() => {
  for (const db of opened) db.close();
});

const IMAGE = tinyJpeg();
const IMAGE_PATH = 'Library/SMS/Attachments/a1/01/G-A1/IMG_0001.JPG';
const SHARED_MISSING = 'Library/SMS/Attachments/b2/02/G-A2/shared.pdf';
const BUNDLE = 'Library/SMS/Attachments/c3/03/G-BUNDLE';
const STAGING = 55;
const MISSING = 60;

function backup(indexed: boolean): string {
  return fixture({
    seed: 8,
    variant: 'ios17',
    contacts: 0,
    calls: 0,
    extend: (w, _truth, _rng, tmp) => {
      w.addFile('MediaDomain', IMAGE_PATH, IMAGE);
      w.addFile('MediaDomain', `${BUNDLE}/payload.bin`, Buffer.from('bundle part'));
      const sms = makeSqlite(tmp, 'sms.db', (db) => {
        db.pragma('foreign_keys = OFF'); // dangling links (attachment 999, message 9999) are the point
        db.exec(smsTables('ios17', { triggers: false }));
        // Without the UNIQUE (message_id, attachment_id) index, nothing on the join starts with message_id.
        if (!indexed) db.exec('DROP TABLE message_attachment_join; CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER);');
        db.exec(`INSERT INTO handle (ROWID, id, service) VALUES (1, '+15555550100', 'iMessage');
          INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name) VALUES (1, 'iMessage;-;+15555550100', 45, '+15555550100', 'iMessage');
          INSERT INTO chat_handle_join VALUES (1, 1);`);
        const msg = db.prepare('INSERT INTO message (ROWID, guid, text, handle_id, service, date, is_from_me) VALUES (?, ?, ?, 1, ?, ?, ?)');
        const inChat = db.prepare('INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (1, ?, ?)');
        for (let m = 1; m <= 123; m++) {
          const date = 700000000000000000n + BigInt(m) * 1000000000n;
          msg.run(m, `M-${m}`, `message ${m}`, 'iMessage', date, m % 2);
          inChat.run(m, date);
        }
        const att = db.prepare(
          'INSERT INTO attachment (ROWID, guid, original_guid, created_date, filename, mime_type, transfer_name, total_bytes, is_outgoing, transfer_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 5)',
        );
        const link = db.prepare('INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?, ?)');
        let rowid = 0;
        const add = (filename: string | null, mime: string | null, ...messages: number[]) => {
          rowid++;
          att.run(rowid, `A-${rowid}`, `O-${rowid}`, 700000000 + rowid, filename, mime, null, 1000 + rowid);
          for (const m of messages) link.run(m, rowid);
        };
        add(`~/${IMAGE_PATH}`, 'image/jpeg', 1, 2);
        add(`~/${SHARED_MISSING}`, 'application/pdf', 3, 4);
        add(`~/${SHARED_MISSING}`, 'application/pdf', 4);
        link.run(5, 999);
        for (let i = 0; i < STAGING; i++) add(`/var/tmp/com.apple.messages/Media/S-${i}/IMG_${i}.JPG`, 'image/jpeg', 6 + i);
        add('~/Library/SMS/Attachments/../../../Library/SMS/sms.db', null, 61);
        for (let i = 0; i < MISSING; i++) add(`~/Library/SMS/Attachments/d4/${i}/G-${i}/IMG_${i}.HEIC`, 'image/heic', 62 + i);
        add(`~/${BUNDLE}`, null, 122);
        add(null, null, 123);
        add('Attachments/../../etc/passwd', null);
        add('~/Library/SMS/Attachments/e5/05/G-ORPHAN/gone.mov', 'video/quicktime', 124, 9999);
        msg.run(125, 'M-125', 'message 125', 'iMessage', 700000000000000000n + 125n * 1000000000n, 1);
        inChat.run(125, 700000000000000000n + 125n * 1000000000n);
      });
      w.addDatabase('HomeDomain', 'Library/SMS/sms.db', sms);
    },
  }).root;
}

async function ingestCase(indexed: boolean): Promise<Database.Database> {
  const casePath = path.join(tmpDir(), 'case.db');
  messagesTuning.pageRows = 7; // many pages, and links that cross them
  try {
    await ingest({ backupDir: backup(indexed), casePath, tz: 'UTC', region: 'US', only: ['messages'] });
  } finally {
    messagesTuning.pageRows = 4000;
  }
  const db = new Database(casePath, { readonly: true });
  opened.push(db);
  return db;
}

const all = (db: Database.Database, sql: string) => db.prepare(sql).all() as Row[];
const attachmentRows = (db: Database.Database) => all(db, `SELECT a.*, e.source_rowid AS message_rowid FROM attachments a LEFT JOIN events e ON e.id = a.event_id ORDER BY a.id`);
const attachmentFiles = (db: Database.Database) => all(db, "SELECT * FROM files WHERE domain = 'MediaDomain' ORDER BY id");
const thumbnails = (db: Database.Database) => all(db, 'SELECT * FROM thumbnails ORDER BY id');
const messageWarnings = (db: Database.Database) => all(db, "SELECT severity, message, source_table, source_rowid, file_id FROM warnings WHERE extractor = 'messages' ORDER BY id");

describe('message attachments: a page at a time, and by ROWID without the join index', async () => {
  const paged = await ingestCase(true);
  const byRowid = await ingestCase(false);

  it('records every link and every orphan with its status and file', () => {
    const rows = attachmentRows(paged);
    const of = (rowid: number) => rows.filter((r) => r.source_rowid === rowid);
    // 2 links of A1, 2 of A2, A3, 55 staging, 1 climbing, 60 missing, the bundle, the nameless one, 2 orphans.
    expect(rows).toHaveLength(2 + 3 + STAGING + 1 + MISSING + 1 + 1 + 2);
    const sha = createHash('sha256').update(IMAGE).digest('hex');
    expect(of(1).map((r) => [r.message_rowid, r.status, r.sha256])).toEqual([
      [1, 'ok', sha],
      [2, 'ok', sha],
    ]);
    expect(of(1)[0].file_id).toBe(of(1)[1].file_id);
    // Two attachment rows naming one missing path share its one files row.
    const [a2, a2again, a3] = [...of(2), ...of(3)];
    expect([a2, a2again, a3].map((r) => [r.message_rowid, r.status, r.file_id])).toEqual([
      [3, 'missing', a2.file_id],
      [4, 'missing', a2.file_id],
      [4, 'missing', a2.file_id],
    ]);
    // m4's two attachments in attachment ROWID order.
    expect(a3.id).toBe(Number(a2again.id) + 1);
    const files = attachmentFiles(paged);
    expect(files.filter((f) => f.relative_path === SHARED_MISSING)).toMatchObject([{ id: a2.file_id, status: 'missing', read_by: 'messages' }]);
    expect(files.filter((f) => f.status === 'missing')).toHaveLength(1 + MISSING + 1);
    expect(rows.filter((r) => r.status === 'outside-attachments')).toHaveLength(STAGING + 2);
    expect(rows.find((r) => r.path === `~/${BUNDLE}`)).toMatchObject({ status: 'directory', message_rowid: 122 });
    expect(files.find((f) => f.relative_path === BUNDLE)).toMatchObject({ status: 'listed-only', flags: 2 });
    expect(rows.find((r) => r.path === null)).toMatchObject({ status: 'no-path', message_rowid: 123 });
    const orphans = rows.filter((r) => r.event_id === null);
    expect(orphans.map((r) => r.path)).toEqual(['Attachments/../../etc/passwd', '~/Library/SMS/Attachments/e5/05/G-ORPHAN/gone.mov']);
    expect(JSON.parse(String(a2.extra_json))).toEqual({
      guid: 'A-2',
      message_rowid: 3,
      created: new Date((700000002 + 978307200) * 1000).toISOString(),
      transfer_state: 5,
      is_outgoing: 1,
      domain: 'MediaDomain',
      relative_path: SHARED_MISSING,
    });
  });

  it('gives the image one thumbnail and its second link a copy', () => {
    const t = thumbnails(paged);
    const a1 = attachmentRows(paged).filter((r) => r.source_rowid === 1);
    expect(t.map((x) => x.attachment_id)).toEqual(a1.map((r) => r.id));
    expect(t[0].data).toEqual(t[1].data);
  });

  it('names the first 50 of each kind, every hostile path, and counts the rest', () => {
    const w = messageWarnings(paged);
    const notLookedUp = w.filter((x) => String(x.message).includes('not looked up in the backup'));
    expect(notLookedUp.filter((x) => x.severity === 'info')).toHaveLength(50);
    // The climbing path comes after 55 staging paths, the orphan's at the end: both still named, as warnings.
    expect(notLookedUp.filter((x) => x.severity === 'warning').map((x) => x.source_rowid)).toEqual([1 + 2 + STAGING + 1, 1 + 2 + STAGING + 1 + MISSING + 2 + 1]);
    expect(w.filter((x) => String(x.message).includes('is not in this backup (recorded as missing)'))).toHaveLength(50);
    expect(w.map((x) => x.message)).toContain(
      `${(STAGING + 1).toLocaleString('en-US')} attachment rows name no file this backup can hold (no path, or a path outside the attachment folders); the first 50 are named in their own warnings, and every one is recorded with its reason`,
    );
    expect(w.map((x) => x.message)).toContain(
      `${2 + MISSING + 1} attachment files are not in this backup; the first 50 are named in their own warnings, and every one is a files row with status 'missing'`,
    );
    expect(w.filter((x) => x.source_table === 'message_attachment_join')).toMatchObject([
      { severity: 'warning', source_rowid: 5, message: 'message ROWID 5 links attachment ROWID 999, which is not in the attachment table' },
    ]);
  });

  it('writes the same rows, ids and order either way', () => {
    expect(attachmentRows(byRowid)).toEqual(attachmentRows(paged));
    expect(attachmentFiles(byRowid)).toEqual(attachmentFiles(paged));
    expect(thumbnails(byRowid)).toEqual(thumbnails(paged));
    expect(messageWarnings(byRowid)).toEqual(messageWarnings(paged));
  });
});
