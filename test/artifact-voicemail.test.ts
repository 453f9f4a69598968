// Voicemail: voicemail.db (two generations) and <ROWID>.amr files through ingest().
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { truncatedSqlite } from './artifactKit.js';
import { addVoicemail, type VmGeneration, type VoicemailTruth } from '../fixtures/artifacts/voicemail.js';
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
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(['legacy', 'current'] as VmGeneration[])('voicemail.db (%s schema)', (generation) => {
  it('one received event per row (plus trashed), sender named from contacts, audio hashed or missing, hostile rows kept', async () => {
    let vm!: VoicemailTruth;
    const t = fixture({
      contacts: 4,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        vm = addVoicemail(w, rng, tmp, { generation, end: truth.device.backupDate, nameByNumber: truth.nameByNumber, stranger: usNumber(rng).e164 });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['voicemail'] });
    expect(treeHash(t.root)).toEqual(before);
    const trashedRows = vm.rows.filter((x) => x.trashedMac);
    expect(r.summaries.find((s) => s.extractor === 'voicemail')!.events).toBe(vm.rows.length + trashedRows.length);
    for (const x of vm.rows) {
      const [e] = query(casePath, "SELECT * FROM events WHERE source_table = 'voicemail' AND source_rowid = ? AND action = 'received'", x.rowid);
      expect({ ts: e.ts_utc_us, counterpart: e.counterpart, name: e.counterpart_name, duration: e.duration_s, kind: e.kind, direction: e.direction }).toEqual({
        ts: x.rowid === vm.absurdRowid ? null : x.date * 1_000_000,
        counterpart: x.sender,
        name: x.name,
        duration: x.duration,
        kind: 'voicemail',
        direction: 'incoming',
      });
      expect(e.ts_epoch).toBe('unix-s');
      const [a] = query(casePath, 'SELECT a.*, f.relative_path AS rel, f.status AS fstatus FROM attachments a LEFT JOIN files f ON f.id = a.file_id WHERE a.event_id = ?', e.id);
      expect(a.rel).toBe(`Library/Voicemail/${x.rowid}.amr`);
      if (x.audio) expect([a.status, a.sha256, a.fstatus]).toEqual(['ok', sha(x.audio), 'ok']);
      else expect([a.status, a.sha256, a.fstatus]).toEqual(['missing', null, 'missing']);
      expect(JSON.parse(e.extra_json as string).deleted).toBe(x.flags === 75 || x.trashedMac !== 0);
    }
    const trashed = query(casePath, "SELECT * FROM events WHERE source_table = 'voicemail' AND action = 'trashed'");
    expect(trashed.map((e) => [e.source_rowid, isoFromUs(e.ts_utc_us as number), e.ts_epoch])).toEqual([[2, '2024-03-15T17:30:00.500Z', 'mac-s']]);
    expect(trashedRows.map((x) => x.rowid)).toEqual([2]);
    // The sender column is stored verbatim, markup and formula included.
    expect(query(casePath, "SELECT counterpart FROM events WHERE source_table = 'voicemail' AND source_rowid = ?", vm.htmlRowid)[0].counterpart).toBe(
      '<b>=HYPERLINK("http://x")</b>',
    );
    const w = query<{ message: string }>(
      casePath,
      "SELECT message FROM warnings WHERE extractor = 'voicemail' AND source_table = 'voicemail' AND source_rowid = ?",
      vm.absurdRowid,
    );
    expect(w.map((x) => x.message).join('\n')).toMatch(new RegExp(`voicemail row ${vm.absurdRowid}: date holds an impossible time`));
    if (generation === 'current')
      expect(JSON.parse(query(casePath, "SELECT extra_json FROM events WHERE source_table = 'voicemail' AND source_rowid = 1")[0].extra_json as string).account).toBe(
        '89014103211118510720',
      );
  }, 60_000);
});

describe('voicemail: broken database', () => {
  it('a truncated voicemail.db fails alone; calls still extracted', async () => {
    const t = fixture({
      contacts: 2,
      calls: 3,
      callsInWal: 0,
      extend: (w) => {
        w.addFile('HomeDomain', 'Library/Voicemail/voicemail.db', truncatedSqlite());
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(r.summaries.find((s) => s.extractor === 'voicemail')!.status).toBe('failed');
    expect(query(casePath, "SELECT count(*) AS n FROM warnings WHERE extractor = 'voicemail' AND severity = 'error'")[0].n).toBeGreaterThan(0);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});
