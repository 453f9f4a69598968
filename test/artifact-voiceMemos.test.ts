// Voice Memos: CloudRecordings.db in two generations with .m4a files through ingest().
import { ingestWithTruncated } from './artifactKit.js';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, treeHash } from './helpers.js';
import { addVoiceMemos, type VmemoGeneration, type VoiceMemosTruth } from '../fixtures/artifacts/voiceMemos.js';
import { ingest } from '../src/pipeline/ingest.js';
import { locateRecording } from '../src/extractors/artifacts/voiceMemos.js';

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

describe('locateRecording', () => {
  it('maps device paths to MediaDomain, bare names beside the database, and refuses escapes', () => {
    expect(locateRecording('/var/mobile/Media/Recordings/a b.m4a', 'MediaDomain', 'Media/Recordings/CloudRecordings.db')).toEqual({
      domain: 'MediaDomain',
      relativePath: 'Media/Recordings/a b.m4a',
    });
    expect(locateRecording('x.m4a', 'AppDomainGroup-group.com.apple.VoiceMemos.shared', 'Recordings/CloudRecordings.db')).toEqual({
      domain: 'AppDomainGroup-group.com.apple.VoiceMemos.shared',
      relativePath: 'Recordings/x.m4a',
    });
    expect(locateRecording('../../etc/passwd', 'D', 'Recordings/CloudRecordings.db')).toHaveProperty('reason');
    expect(locateRecording('/var/mobile/Media/../../etc/passwd', 'D', 'Recordings/CloudRecordings.db')).toHaveProperty('reason');
    expect(locateRecording('/etc/passwd', 'D', 'Recordings/CloudRecordings.db')).toHaveProperty('reason');
  });
});

describe.each(['legacy', 'current'] as VmemoGeneration[])('CloudRecordings.db (%s)', (generation) => {
  it('one recorded event per row (plus deleted), exact times, titles, audio hashed or missing, hostile rows kept', async () => {
    let vt!: VoiceMemosTruth;
    const t = fixture({
      contacts: 2,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        vt = addVoiceMemos(w, rng, tmp, { generation, end: truth.device.backupDate });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['voice-memos'] });
    expect(treeHash(t.root)).toEqual(before);
    expect(r.summaries.find((s) => s.extractor === 'voice-memos')!.events).toBe(vt.memos.length + vt.memos.filter((m) => m.evictedUs !== null).length);
    for (const m of vt.memos) {
      const [e] = query(
        casePath,
        `SELECT e.*, f.domain, f.relative_path FROM events e JOIN files f ON f.id = e.source_file_id WHERE source_table = 'ZCLOUDRECORDING' AND source_rowid = ? AND action = 'recorded'`,
        m.pk,
      );
      const x = JSON.parse(e.extra_json as string);
      expect({ pk: m.pk, ts: e.ts_utc_us, dur: e.duration_s, title: x.recording_title, folder: x.folder ?? null, deleted: x.recently_deleted }).toEqual({
        pk: m.pk,
        ts: m.tsUs,
        dur: m.duration,
        title: m.title,
        folder: m.folder,
        deleted: m.evictedUs !== null,
      });
      expect([e.domain, e.relative_path]).toEqual([vt.domain, vt.db]);
      expect(Number(e.ts_raw)).toBe(m.mac);
      const [a] = query(
        casePath,
        'SELECT a.*, f.relative_path AS rel, f.domain AS dom, f.status AS fstatus FROM attachments a LEFT JOIN files f ON f.id = a.file_id WHERE a.event_id = ?',
        e.id,
      );
      if (m.refused) expect([a.status, a.file_id]).toEqual(['refused-path', null]);
      else if (m.file?.data) expect([a.status, a.sha256, a.dom, a.rel, a.fstatus]).toEqual(['ok', sha(m.file.data), m.file.domain, m.file.path, 'ok']);
      else expect([a.status, a.sha256, a.dom, a.rel, a.fstatus]).toEqual(['missing', null, m.file!.domain, m.file!.path, 'missing']);
      if (m.evictedUs !== null) {
        const [d] = query(casePath, "SELECT ts_utc_us FROM events WHERE source_table = 'ZCLOUDRECORDING' AND source_rowid = ? AND action = 'deleted'", m.pk);
        expect(d.ts_utc_us).toBe(m.evictedUs);
      }
    }
    const warnings = query<{ message: string; source_rowid: number }>(casePath, "SELECT message, source_rowid FROM warnings WHERE extractor = 'voice-memos'");
    expect(warnings.find((w) => w.source_rowid === vt.absurdPk)!.message).toMatch(new RegExp(`ZCLOUDRECORDING row ${vt.absurdPk}: ZDATE holds an impossible time`));
    expect(warnings.some((w) => /not looked up/.test(w.message))).toBe(true);
    expect(query(casePath, "SELECT count(*) AS n FROM files WHERE relative_path LIKE '%sms.db%'")[0].n).toBe(0);
  }, 60_000);
});

describe('Voice Memos: one store listed but missing', () => {
  it('the app-group store is still read when the MediaDomain one is listed but absent; both absent is a failure', async () => {
    let vt!: VoiceMemosTruth;
    const t = fixture({
      contacts: 1,
      calls: 1,
      extend: (w, truth, rng, tmp) => {
        w.addListedOnly('MediaDomain', 'Media/Recordings/CloudRecordings.db', 4096);
        vt = addVoiceMemos(w, rng, tmp, { generation: 'current', end: truth.device.backupDate });
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['voice-memos'] });
    const s = r.summaries.find((x) => x.extractor === 'voice-memos')!;
    expect(s.status).toBe('partial');
    expect(s.events).toBe(vt.memos.length + 1);
    expect(
      query(casePath, "SELECT message FROM warnings WHERE extractor = 'voice-memos' AND severity = 'error'")
        .map((x) => x.message)
        .join('\n'),
    ).toMatch(/MediaDomain\/Media\/Recordings\/CloudRecordings\.db: missing/);

    const t2 = fixture({
      contacts: 1,
      calls: 1,
      extend: (w) => {
        w.addListedOnly('MediaDomain', 'Media/Recordings/CloudRecordings.db', 4096);
      },
    });
    const r2 = await ingest({ backupDir: t2.root, casePath: path.join(tmpDir(), 'case.db'), tz: 'UTC', region: 'US', only: ['voice-memos'] });
    expect(r2.summaries.find((x) => x.extractor === 'voice-memos')!.status).toBe('failed');
  }, 60_000);
});

describe('Voice Memos: truncated database', () => {
  it('a CloudRecordings.db cut after its first page fails alone; calls are still extracted', async () => {
    const { result: r } = await ingestWithTruncated('MediaDomain', 'Media/Recordings/CloudRecordings.db', (cap, truth, rng, tmp) =>
      addVoiceMemos(cap as unknown as Parameters<typeof addVoiceMemos>[0], rng, tmp, { generation: 'legacy', end: truth.device.backupDate }),
    );
    expect(r.summaries.find((s) => s.extractor === 'voice-memos')!.status).toBe('failed');
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});
