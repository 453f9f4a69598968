// Notes: NoteStore.sqlite (iOS 14 and iOS 16 column layouts) through ingest(): gzipped protobuf bodies decoded,
// folders and accounts named, locked notes flagged without text, attachments listed, hostile bodies and dates.
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { addNotes, gzipNote, noteProto, NOTES_DOMAIN, type NotesGeneration, type NotesTruth } from '../fixtures/artifacts/notes.js';
import { ingest } from '../src/pipeline/ingest.js';
import { decodeNoteBody, MAX_NOTE_BYTES } from '../src/extractors/artifacts/notes.js';
import { readWaMetadata } from '../src/extractors/artifacts/whatsapp.js';
import { waMetadata } from '../fixtures/artifacts/whatsapp.js';
import { mutate } from '../fixtures/fuzz.js';
import { Rng } from '../fixtures/random.js';

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

describe('decodeNoteBody', () => {
  it('reads the text at 2 → 3 → 2 and the attachment runs; refuses garbage, truncation and bombs', () => {
    expect(decodeNoteBody(gzipNote('héllo 👋\nworld'))).toEqual({ text: 'héllo 👋\nworld', attachments: [] });
    expect(decodeNoteBody(noteProto('plain, not gzipped')).text).toBe('plain, not gzipped');
    expect(decodeNoteBody(gzipNote('x\uFFFC', [{ id: 'ID-1', uti: 'public.png' }])).attachments).toEqual([{ id: 'ID-1', uti: 'public.png' }]);
    expect(() => decodeNoteBody(gzipNote('abcdefghijklmnop').subarray(0, 15))).toThrow();
    expect(() => decodeNoteBody(zlib.gzipSync(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f])))).toThrow();
    expect(() => decodeNoteBody(zlib.gzipSync(Buffer.alloc(MAX_NOTE_BYTES + 1)))).toThrow(/buffer|length|large/i);
  });
});

describe('protobuf readers on mutated inputs (seeded)', () => {
  it('decodeNoteBody and readWaMetadata return or throw an Error, each input quickly', () => {
    const rng = new Rng(20261203);
    const notes = [gzipNote('Shopping list\nMilk 🥛'), noteProto('plain \uFFFC', [{ id: 'ID-1', uti: 'public.jpeg' }]), gzipNote('x'.repeat(5000))];
    const metas = [waMetadata(5, '14155550100@s.whatsapp.net'), waMetadata(0, 'x@g.us')];
    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rng.pick(i % 2 ? metas : notes), rng);
      const t = performance.now();
      try {
        if (i % 2) readWaMetadata(input);
        else decodeNoteBody(input);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
      slowest = Math.max(slowest, performance.now() - t);
    }
    expect(slowest).toBeLessThan(1000);
  });
});

describe.each(['ios11', 'ios14', 'ios16'] as NotesGeneration[])('NoteStore.sqlite (%s layout)', (generation) => {
  it('every note is a created event (plus modified) with exact times, text, folder, account; hostile rows kept with warnings', async () => {
    let nt!: NotesTruth;
    const t = fixture({
      contacts: 2,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        nt = addNotes(w, rng, tmp, { generation, end: truth.device.backupDate });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['notes'] });
    expect(treeHash(t.root)).toEqual(before);
    const s = r.summaries.find((x) => x.extractor === 'notes')!;
    const modifiedEvents = nt.notes.filter((n) => n.modifiedUs !== n.createdUs).length;
    expect(s.events).toBe(nt.notes.length + modifiedEvents + 1 /* orphan ZICNOTEDATA row */);
    const warnings = query<{ message: string; source_table: string | null; source_rowid: number | null }>(
      casePath,
      "SELECT message, source_table, source_rowid FROM warnings WHERE extractor = 'notes'",
    );
    for (const n of nt.notes) {
      const [e] = query(
        casePath,
        `SELECT e.*, f.domain, f.relative_path FROM events e JOIN files f ON f.id = e.source_file_id
        WHERE source_table = 'ZICCLOUDSYNCINGOBJECT' AND source_rowid = ? AND action = 'created'`,
        n.pk,
      );
      expect(e, `note ${n.pk}`).toBeTruthy();
      const x = JSON.parse(e.extra_json as string);
      expect({
        pk: n.pk,
        ts: e.ts_utc_us,
        body: e.body,
        title: x.note_title,
        folder: x.folder,
        account: x.account,
        locked: x.locked,
        deleted: x.deleted,
        service: e.service,
      }).toEqual({
        pk: n.pk,
        ts: n.createdUs,
        body: n.expect === 'ok' || n.expect === 'bad-time' ? n.body : null,
        title: n.title,
        folder: n.folder,
        account: n.account,
        locked: n.locked,
        deleted: n.deleted,
        service: 'iCloud',
      });
      expect([e.domain, e.relative_path, e.ts_epoch]).toEqual([NOTES_DOMAIN, 'NoteStore.sqlite', 'mac-s']);
      expect(Number(e.ts_raw)).toBe(n.createdRaw);
      const [m] = query(casePath, "SELECT ts_utc_us FROM events WHERE source_table = 'ZICCLOUDSYNCINGOBJECT' AND source_rowid = ? AND action = 'modified'", n.pk);
      expect(m.ts_utc_us).toBe(n.modifiedUs);
      const mine = warnings.filter((w) => w.source_table === 'ZICCLOUDSYNCINGOBJECT' && w.source_rowid === n.pk);
      if (n.expect === 'bad-body') expect(mine.map((w) => w.message).join('\n'), `note ${n.pk}`).toMatch(/ZDATA could not be decoded/);
      if (n.expect === 'bad-time')
        expect(mine.map((w) => w.message).join('\n')).toMatch(new RegExp(`ZICCLOUDSYNCINGOBJECT row ${n.pk}: ZCREATIONDATE[13] holds an impossible time`));
      if (n.expect === 'ok' || n.expect === 'locked') expect(mine).toEqual([]);
      if (n.locked) {
        expect(e.title).toMatch(n.title ? new RegExp(`^Locked note created: ${n.title}`) : /^Locked note created: \(title not stored in plaintext\)/);
        expect([x.snippet, x.body_state, e.body]).toEqual([null, 'encrypted', null]);
        expect(x.encryption).toMatchObject({
          iterations: n.crypto!.iterations,
          salt_bytes: 16,
          wrapped_key_bytes: n.crypto!.wrappedKeyBytes,
          iv_bytes: 16,
          tag_bytes: 16,
          password_hint: n.crypto!.hint,
        });
        expect(x.encryption.encrypted_bytes).toBeGreaterThan(0);
        expect(x.encryption.encrypted_values_bytes).toBe(generation === 'ios16' && n.title === null ? 40 : null);
      }
      if (n.expect === 'locked-incomplete') expect(mine.map((w) => w.message)).toEqual([expect.stringMatching(/locked note Z_PK \d+: no wrapped key/)]);
      const atts = query(casePath, 'SELECT source_rowid, transfer_name, uti, status FROM attachments WHERE event_id = ? ORDER BY source_rowid', e.id);
      expect(atts).toEqual(n.attachments.map((a) => ({ source_rowid: a.pk, transfer_name: a.filename, uti: a.uti, status: 'listed' })));
    }
    const html = nt.notes[1];
    expect(query(casePath, "SELECT body FROM events WHERE source_rowid = ? AND action = 'created'", html.pk)[0].body).toBe(
      "<script>alert(1)</script>\n=cmd|' /C calc'!A0\n@SUM(1+1)",
    );
    expect(warnings.some((w) => w.source_rowid === nt.gzipBombPk)).toBe(true);
    const [orphan] = query(casePath, "SELECT * FROM events WHERE source_table = 'ZICNOTEDATA' AND source_rowid = ?", nt.orphanDataPk);
    expect([orphan.body, orphan.ts_utc_us]).toEqual(['lost body', null]);
  }, 60_000);
});

describe('Notes: broken database', () => {
  it('a truncated NoteStore.sqlite is a recorded failure; other artifacts still extracted', async () => {
    const t = fixture({
      contacts: 2,
      calls: 3,
      callsInWal: 0,
      extend: (w, truth, rng, tmp) => {
        const inner: Buffer[] = [];
        addNotes({ addDatabase: (_d: string, _p: string, f: { db: Buffer }) => inner.push(f.db) } as unknown as BackupWriterLike, rng, tmp, {
          generation: 'ios16',
          end: truth.device.backupDate,
          bulk: 400,
          bomb: false,
        });
        w.addFile(NOTES_DOMAIN, 'NoteStore.sqlite', inner[0].subarray(0, Math.floor(inner[0].length / 3)));
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(['failed', 'partial']).toContain(r.summaries.find((s) => s.extractor === 'notes')!.status);
    expect(query(casePath, "SELECT count(*) AS n FROM warnings WHERE extractor = 'notes' AND severity IN ('warning','error')")[0].n).toBeGreaterThan(0);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});

type BackupWriterLike = Parameters<typeof addNotes>[0];
