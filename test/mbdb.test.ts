// Legacy backups (iOS 5–9, issue 15 §2): Manifest.mbdb parsing, plain and encrypted legacy backups ingest to the
// same events as the Manifest.db backup of the same data, damaged manifests give named problems, never a hang.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, fixture, tmpDir, treeHash } from './helpers.js';
import { events, extra, query, sourcePath } from './artifactKit.js';
import { buildMbdbBackup, convertToMbdb, encodeMbdb, encodeMbdbRecord, type MbdbRecordSpec } from '../fixtures/mbdbWriter.js';
import { makeFixtureEncryption } from '../fixtures/encryption.js';
import type { BuildOptions } from '../fixtures/build.js';
import { addApps, writeInfoApps } from '../fixtures/artifacts/apps.js';
import { addCallHistoryDb, addIos5Sms, addIos6Sms, addIos9CallHistory, type Ios5Message, type LegacyCall, type LegacyMessage } from '../fixtures/artifacts/legacyStores.js';
import { parseMbdb, mbdbEntries, MbdbError } from '../src/backup/mbdb.js';
import { Backup, BackupError } from '../src/backup/backup.js';
import { ingest } from '../src/pipeline/ingest.js';
import { unlockBackup } from '../src/backup/decrypt.js';
import { exportEvents } from '../src/report/exports.js';
import { buildReportModel } from '../src/report/viewModel.js';
import { CaseFile } from '../src/timeline/caseFile.js';

const PW = 'legacy pass 1234';
const SHAPE: Omit<BuildOptions, 'root'> = { seed: 15, contacts: 10, calls: 30, callsInWal: 2, strangers: 2, photos: 8, mediaFiles: 4, locations: true, messages: 60 };

const isoOf = (us: number | null) => (us === null ? null : new Date(us / 1000).toISOString());
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

function rec(over: Partial<MbdbRecordSpec> = {}): MbdbRecordSpec {
  return {
    domain: 'HomeDomain',
    relativePath: 'Library/SMS/sms.db',
    mode: 0o100644,
    inode: 77,
    mtime: 1_400_000_000,
    ctime: 1_400_000_100,
    btime: 1_300_000_000,
    size: 4096,
    protectionClass: 3,
    ...over,
  };
}

async function ingestTo(root: string, password?: string) {
  const casePath = path.join(tmpDir(), 'case.db');
  const result = await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', ...(password ? { open: { unlock: (mp) => unlockBackup(mp, { password }) } } : {}) });
  return { casePath, result };
}

/** The jsonl export, one parsed object per event, without the fields named in `drop`. */
function exported(casePath: string, drop: string[] = []): Record<string, unknown>[] {
  const out = path.join(tmpDir(), 'events.jsonl');
  const db = new Database(casePath, { readonly: true });
  try {
    exportEvents(db, 'jsonl', out);
  } finally {
    db.close();
  }
  return fs
    .readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      for (const k of drop) delete o[k];
      return o;
    });
}

describe('Manifest.mbdb records', () => {
  it('reads every field of a record, big-endian, and names the payload sha1(domain-relativePath)', () => {
    const key = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.alloc(40, 0xab)]);
    const buf = encodeMbdb([
      rec({ encryptionKey: key, digest: Buffer.alloc(20, 1), properties: [['com.apple.assetsd.UUID', Buffer.from('ABCD')]], inode: 2 ** 40 + 5, size: 2 ** 33 }),
      rec({ domain: 'CameraRollDomain', relativePath: 'Media/DCIM', mode: 0o40755, size: 0, protectionClass: 0 }),
      rec({ domain: 'HomeDomain', relativePath: 'Library/link', mode: 0o120755, target: '/var/mobile/x', size: 0 }),
    ]);
    const { records, problem } = parseMbdb(buf);
    expect(problem).toBeNull();
    expect(records).toHaveLength(3);
    const [a, b, c] = records;
    expect(a).toMatchObject({ offset: 6, domain: 'HomeDomain', relativePath: 'Library/SMS/sms.db', target: null, mode: 0o100644, inode: 2 ** 40 + 5 });
    expect(a).toMatchObject({ uid: 501, gid: 501, mtime: 1_400_000_000, ctime: 1_400_000_100, btime: 1_300_000_000, size: 2 ** 33, protectionClass: 3 });
    expect(a!.encryptionKey).toEqual(key);
    expect(a!.digest).toEqual(Buffer.alloc(20, 1));
    expect(a!.properties).toEqual([['com.apple.assetsd.UUID', Buffer.from('ABCD')]]);
    expect(c!.target).toBe('/var/mobile/x');
    const entries = mbdbEntries(records);
    expect(entries.map((e) => e.flags)).toEqual([1, 2, 4]);
    // The well-known fileID of sms.db in every iOS 5+ backup.
    expect(entries[0]!.fileID).toBe('3d0d7e5fb2ce288813306e4d4636395e047a3d28');
    expect(entries[1]!.fileID).toBe(sha1('CameraRollDomain-Media/DCIM'));
    expect(entries[0]!.mbfile).toMatchObject({ size: 2 ** 33, lastModified: 1_400_000_000, lastStatusChange: 1_400_000_100, birth: 1_300_000_000, protectionClass: 3 });
    expect(b!.encryptionKey).toBeNull();
  });

  it('an absent string (length 0xFFFF) reads as empty, not as 65535 bytes', () => {
    const { records, problem } = parseMbdb(encodeMbdb([rec({ target: null, digest: null })]));
    expect(problem).toBeNull();
    expect(records[0]).toMatchObject({ target: null, digest: null, encryptionKey: null });
  });

  it('bad magic or version is a one-line error', () => {
    expect(() => parseMbdb(Buffer.from('SQLite format 3\0'))).toThrow(MbdbError);
    expect(() => parseMbdb(Buffer.from('mbdb\x04\x00', 'latin1'))).toThrow(/version 4\.0, expected 5\.0/);
    expect(() => parseMbdb(Buffer.alloc(0))).toThrow(/does not start with "mbdb"/);
  });

  it('a truncated record ends the list with its offset; the records before it are kept', () => {
    const first = encodeMbdbRecord(rec());
    const second = encodeMbdbRecord(rec({ relativePath: 'Library/Notes/notes.sqlite' }));
    const full = encodeMbdb([rec(), rec({ relativePath: 'Library/Notes/notes.sqlite' })]);
    for (const cut of [1, 3, 30, second.length - 1]) {
      const { records, problem } = parseMbdb(full.subarray(0, 6 + first.length + cut));
      expect(records.map((r) => r.relativePath)).toEqual(['Library/SMS/sms.db']);
      expect(problem).toMatch(new RegExp(`^record 2 at offset ${6 + first.length} is damaged \\(.+\\); the 1 record\\(s\\) before it are kept`));
    }
  });

  it('a string length that runs past the end is named, not read', () => {
    const bad = Buffer.concat([encodeMbdb([rec()]), Buffer.from([0xff, 0xfe]), Buffer.from('Home')]);
    const { records, problem } = parseMbdb(bad);
    expect(records).toHaveLength(1);
    expect(problem).toMatch(/domain needs 65534 bytes, 4 left in the file/);
  });

  it('an absurd size is a damaged record', () => {
    const buf = encodeMbdb([rec()]);
    buf.writeBigUInt64BE(0xffffffffffffffffn, buf.length - 10);
    const { records, problem } = parseMbdb(buf);
    expect(records).toHaveLength(0);
    expect(problem).toMatch(/record 1 at offset 6 is damaged \(size 18446744073709551615 is not a plausible file size\)/);
  });

  it('random bytes after a valid header never hang or throw anything but a named problem', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 300; i++) {
      const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 400) }, () => Math.floor(rnd() * 256)));
      const r = parseMbdb(Buffer.concat([Buffer.from('mbdb\x05\x00', 'latin1'), body]));
      expect(r.problem === null || /^record \d+ at offset \d+ is damaged/.test(r.problem)).toBe(true);
    }
  });
});

describe('a plain legacy backup', () => {
  const dbBackup = fixture(SHAPE);
  const root = path.join(tmpDir(), 'legacy');
  convertToMbdb(dbBackup.root, root);
  const before = treeHash(root);

  it('is laid out as iOS 5–9 did: Manifest.mbdb, flat payloads, no Manifest.db', () => {
    const names = fs.readdirSync(root);
    expect(names).toContain('Manifest.mbdb');
    expect(names).not.toContain('Manifest.db');
    expect(names.filter((n) => /^[0-9a-f]{2}$/.test(n))).toEqual([]);
    expect(names).toContain('3d0d7e5fb2ce288813306e4d4636395e047a3d28'); // HomeDomain-Library/SMS/sms.db
  });

  it('opens: entries, payloads, device', async () => {
    const b = await Backup.open(root);
    try {
      expect(b.manifestName).toBe('Manifest.mbdb');
      expect(b.encrypted).toBe(false);
      expect(b.problems).toEqual([]);
      expect(b.iosVersion).toBe('9.3.5');
      const ref = await Backup.open(dbBackup.root);
      try {
        expect(b.allEntries().map((e) => [e.fileID, e.domain, e.relativePath, e.flags])).toEqual(ref.allEntries().map((e) => [e.fileID, e.domain, e.relativePath, e.flags]));
        const e = b.get('HomeDomain', 'Library/SMS/sms.db')!;
        const r = await b.read(e);
        const want = await ref.read(ref.get('HomeDomain', 'Library/SMS/sms.db')!);
        expect(r.status).toBe('ok');
        expect(r.sha256).toBe(want.sha256);
        expect(b.decode(e)).toEqual(ref.decode(ref.get('HomeDomain', 'Library/SMS/sms.db')!));
      } finally {
        ref.close();
      }
    } finally {
      b.close();
    }
  });

  it('ingests to the same events as the Manifest.db backup of the same data (jsonl exports compared)', async () => {
    const a = await ingestTo(dbBackup.root);
    const b = await ingestTo(root);
    const want = exported(a.casePath);
    expect(want.length).toBeGreaterThan(100);
    const kinds = new Set(want.map((e) => e.kind));
    for (const k of ['call', 'message', 'photo', 'location']) expect(kinds.has(k), k).toBe(true);
    expect(exported(b.casePath)).toEqual(want);
    expect(b.result.warnings).toBe(a.result.warnings);
    // The evidence row names the manifest that was read and its hash.
    const ev = query<{ manifest_db_sha256: string }>(b.casePath, 'SELECT manifest_db_sha256 FROM evidence')[0]!;
    expect(ev.manifest_db_sha256).toBe(
      createHash('sha256')
        .update(fs.readFileSync(path.join(root, 'Manifest.mbdb')))
        .digest('hex'),
    );
    const files = query<{ relative_path: string; status: string }>(b.casePath, "SELECT relative_path, status FROM files WHERE domain IS NULL AND relative_path = 'Manifest.mbdb'");
    expect(files).toEqual([{ relative_path: 'Manifest.mbdb', status: 'ok' }]);
    // The report names the file whose hash it shows.
    const cf = CaseFile.open(b.casePath, { readonly: true });
    try {
      const rows = buildReportModel(cf, { tz: 'UTC', filter: {} }).evidence.flatMap((x) => x.rows);
      expect(rows).toContainEqual({ key: 'Manifest.mbdb SHA-256', value: ev.manifest_db_sha256 });
      expect(rows.map((r) => r.key)).not.toContain('Manifest.db SHA-256');
    } finally {
      cf.close();
    }
  });

  it("app install times come from the records' Birth, as from Manifest.db MBFiles", async () => {
    const t = fixture({ contacts: 2, calls: 3, extend: (w, _t, _r, tmp) => void addApps(w, tmp, { format: 'archived' }) });
    writeInfoApps(t.root, ['net.whatsapp.WhatsApp'], [{ id: 'net.whatsapp.WhatsApp', itemName: 'WhatsApp Messenger' }]);
    const legacy = path.join(tmpDir(), 'legacy-apps');
    convertToMbdb(t.root, legacy);
    const only = async (r: string) => {
      const casePath = path.join(tmpDir(), 'case.db');
      await ingest({ backupDir: r, casePath, tz: 'UTC', region: 'US', only: ['apps'] });
      // The converter rewrites Info.plist (iOS 9 device), so only that file's hash differs.
      return exported(casePath)
        .filter((e) => e.extractor === 'apps')
        .map((e) => (e.source_path === 'Info.plist' ? { ...e, source_sha256: null } : e));
    };
    const want = await only(t.root);
    expect(want.filter((e) => e.timestamp !== null).length).toBeGreaterThan(1);
    expect(await only(legacy)).toEqual(want);
  });

  it('info and verify work on it', async () => {
    const i = await cli(['info', root]);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/iOS 9\.3\.5/);
    const { casePath } = await ingestTo(root);
    const v = await cli(['verify', root, '--case', casePath]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(root)).toEqual(before);
  });
});

describe('an encrypted legacy backup', async () => {
  // iOS 5–9 keybags have no DPSL/DPIC round: one PBKDF2-SHA1 derivation.
  const enc = await makeFixtureEncryption({ password: PW, iter: 100, dpic: null, seed: 'legacy' });
  const plainRef = fixture(SHAPE);
  const root = path.join(tmpDir(), 'legacy-enc');
  convertToMbdb(plainRef.root, root, { encryption: enc });
  const before = treeHash(root);

  it('keeps Manifest.mbdb plain, has a BackupKeyBag and no ManifestKey, and keys in the records', () => {
    const raw = fs.readFileSync(path.join(root, 'Manifest.mbdb'));
    expect(raw.subarray(0, 6).toString('latin1')).toBe('mbdb\x05\x00');
    const { records } = parseMbdb(raw);
    const files = records.filter((r) => (r.mode & 0o170000) === 0o100000 && r.size > 0);
    expect(files.length).toBeGreaterThan(5);
    for (const r of files) expect(r.encryptionKey?.length).toBe(44);
  });

  it('with the right password ingests to the same events as the plain backup (but for the ciphertext hashes)', async () => {
    const a = await ingestTo(plainRef.root);
    const b = await ingestTo(root, PW);
    expect(query(b.casePath, 'SELECT encrypted FROM evidence')).toEqual([{ encrypted: 1 }]);
    const want = exported(a.casePath, ['source_sha256']);
    expect(want.length).toBeGreaterThan(100);
    expect(exported(b.casePath, ['source_sha256'])).toEqual(want);
    const bad = query<{ n: number }>(b.casePath, "SELECT count(*) AS n FROM files WHERE domain IS NOT NULL AND status <> 'ok'")[0]!;
    expect(bad.n).toBe(0);
  });

  it("unwraps with the record's protection class, whatever the byte order of the key's class prefix", async () => {
    const be = path.join(tmpDir(), 'legacy-enc-be');
    convertToMbdb(plainRef.root, be, { encryption: enc, keyPrefixBigEndian: true });
    const sms = parseMbdb(fs.readFileSync(path.join(be, 'Manifest.mbdb'))).records.find((r) => r.relativePath === 'Library/SMS/sms.db')!;
    expect(sms.encryptionKey!.subarray(0, 4)).toEqual(Buffer.from([0, 0, 0, sms.protectionClass]));
    const a = await ingestTo(plainRef.root);
    const b = await ingestTo(be, PW);
    expect(exported(b.casePath, ['source_sha256'])).toEqual(exported(a.casePath, ['source_sha256']));
  });

  it('save-key works on it, and ingest --key-file gives the same events as the password', async () => {
    const keyFile = path.join(tmpDir(), 'legacy.key.json');
    const saved = await cli(['save-key', root, '--out', keyFile, '--password', PW, '-q']);
    expect(saved.code, saved.stderr).toBe(0);
    const withKey = path.join(tmpDir(), 'k.db');
    const r = await cli(['ingest', root, '--case', withKey, '--key-file', keyFile, '-q', '--tz', 'UTC']);
    expect(r.code, r.stderr).toBe(0);
    const withPw = await ingestTo(root, PW);
    expect(exported(withKey)).toEqual(exported(withPw.casePath));
  });

  it('a wrong password is a one-line error, exit 1', async () => {
    const r = await cli(['ingest', root, '--case', path.join(tmpDir(), 'c.db'), '--password', 'not it', '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/wrong backup password/);
  });

  it('no password: a one-line error; info still works without one', async () => {
    await expect(Backup.open(root)).rejects.toThrow(BackupError);
    const i = await cli(['info', root]);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/^Encrypted: {2}yes$/m);
    // Manifest.mbdb is plain, so the contents are listed without the password.
    const records = parseMbdb(fs.readFileSync(path.join(root, 'Manifest.mbdb'))).records;
    expect(i.stdout).toMatch(new RegExp(`^Manifest: {3}Manifest\\.mbdb \\(iOS 5–9\\), ${records.length} entries`, 'm'));
    expect(i.stdout).toMatch(/✓ Messages/);
    const j = JSON.parse((await cli(['info', root, '--json'])).stdout);
    expect(j).toMatchObject({ encrypted: true, locked: true, manifest: { source: 'Manifest.mbdb', entries: records.length } });
  });

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(root)).toEqual(before);
  });
});

describe('a damaged Manifest.mbdb', () => {
  const base = buildMbdbBackup({ root: path.join(tmpDir(), 'legacy'), seed: 3, contacts: 4, calls: 6, callsInWal: 0, strangers: 1 });

  function copyWith(mutate: (mbdb: Buffer) => Buffer): string {
    const dst = path.join(tmpDir(), 'damaged');
    fs.cpSync(base.root, dst, { recursive: true });
    const p = path.join(dst, 'Manifest.mbdb');
    fs.writeFileSync(p, mutate(fs.readFileSync(p)));
    return dst;
  }

  it('bad magic: a one-line error from ingest, exit 1', async () => {
    const root = copyWith((b) => Buffer.concat([Buffer.from('mbdx'), b.subarray(4)]));
    const r = await cli(['ingest', root, '--case', path.join(tmpDir(), 'c.db')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Manifest\.mbdb does not start with "mbdb"/);
  });

  it('a Manifest.mbdb that links out of the backup, or is a FIFO, is refused with its reason', async () => {
    const outside = path.join(tmpDir(), 'elsewhere.mbdb');
    fs.copyFileSync(path.join(base.root, 'Manifest.mbdb'), outside);
    const linked = copyWith((b) => b);
    fs.rmSync(path.join(linked, 'Manifest.mbdb'));
    fs.symlinkSync(outside, path.join(linked, 'Manifest.mbdb'));
    await expect(Backup.open(linked)).rejects.toThrow(/^Manifest\.mbdb: Manifest\.mbdb leads out of the backup/);
    const fifo = copyWith((b) => b);
    fs.rmSync(path.join(fifo, 'Manifest.mbdb'));
    execFileSync('mkfifo', [path.join(fifo, 'Manifest.mbdb')]);
    await expect(Backup.open(fifo)).rejects.toThrow(/Manifest\.mbdb.*(fifo|not a regular file)/i);
  });

  it('a record whose path climbs out ("../") is named and never used to place a file', async () => {
    const recs = parseMbdb(fs.readFileSync(path.join(base.root, 'Manifest.mbdb'))).records;
    const extra: MbdbRecordSpec = { domain: 'HomeDomain', relativePath: '../../etc/passwd', mode: 0o100644, inode: 1, mtime: 0, ctime: 0, btime: 0, size: 3, protectionClass: 0 };
    const root = copyWith((b) => Buffer.concat([b, encodeMbdbRecord(extra)]));
    const b = await Backup.open(root);
    try {
      expect(b.allEntries()).toHaveLength(recs.length + 1);
      expect(b.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/^Manifest\.mbdb row [0-9a-f]{40} has a "\.\.\/" component in its relativePath/));
    } finally {
      b.close();
    }
  });

  it('beside a Manifest.db, a Manifest.mbdb is named and not read', async () => {
    const root = path.join(tmpDir(), 'both');
    fs.cpSync(fixture({ contacts: 2, calls: 3 }).root, root, { recursive: true });
    fs.copyFileSync(path.join(base.root, 'Manifest.mbdb'), path.join(root, 'Manifest.mbdb'));
    const b = await Backup.open(root);
    try {
      expect(b.manifestName).toBe('Manifest.db');
      expect(b.problems).toContainEqual({ file: 'Manifest.mbdb', message: expect.stringMatching(/^also present .*not read, Manifest\.db lists the files$/) });
    } finally {
      b.close();
    }
  });

  it('truncated: a named warning with the offset; the records before it still ingest', async () => {
    const full = fs.readFileSync(path.join(base.root, 'Manifest.mbdb'));
    const { records } = parseMbdb(full);
    const last = records[records.length - 1]!;
    const root = copyWith((b) => b.subarray(0, last.offset + 5));
    const before = treeHash(root);
    const { casePath, result } = await ingestTo(root);
    const w = query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'backup'").map((x) => x.message);
    expect(w).toContainEqual(expect.stringMatching(new RegExp(`^Manifest\\.mbdb: record ${records.length} at offset ${last.offset} is damaged`)));
    expect(result.events).toBeGreaterThan(0);
    expect(treeHash(root)).toEqual(before);
  });
});

describe('an iOS 6 legacy backup: sms.db without attributedBody, call_history.db in WirelessDomain', async () => {
  let sms!: LegacyMessage[];
  let calls!: LegacyCall[];
  let pair!: [string, string];
  const t = buildMbdbBackup({
    root: path.join(tmpDir(), 'ios6'),
    seed: 6,
    contacts: 6,
    calls: 0,
    strangers: 0,
    productVersion: '6.1.6',
    productType: 'iPhone4,1',
    buildVersion: '10B500',
    extend: (w, truth, _rng, tmp) => {
      pair = [...truth.nameByNumber.keys()].slice(0, 2) as [string, string];
      sms = addIos6Sms(w, tmp, pair);
      calls = addCallHistoryDb(w, tmp, pair, 'ios6');
    },
  });
  const before = treeHash(t.root);
  const { casePath } = await ingestTo(t.root);

  it('gives every message with its text, Mac-seconds time in UTC, direction, counterpart and name', () => {
    const evs = events(casePath, 'messages');
    const main = evs.filter((e) => e.action === 'sent' || e.action === 'received');
    expect(main.map((e) => e.source_rowid)).toEqual(sms.map((m) => m.rowid));
    for (const m of sms) {
      const e = main.find((x) => x.source_rowid === m.rowid)!;
      expect({ row: m.rowid, utc: isoOf(e.ts_utc_us), raw: e.ts_raw, epoch: e.ts_epoch }).toEqual({ row: m.rowid, utc: m.utc, raw: String(m.date), epoch: 'mac-s' });
      expect(e.action).toBe(m.fromMe ? 'sent' : 'received');
      expect(e.direction).toBe(m.fromMe ? 'outgoing' : 'incoming');
      expect(e.counterpart).toBe(m.counterpart);
      expect(e.counterpart_name).toBe(t.nameByNumber.get(m.counterpart));
      expect(e.service).toBe(m.service);
      if (!m.attachment) expect(e.body).toBe(m.text);
      const more = evs.filter((x) => x.source_rowid === m.rowid && x !== e).map((x) => ({ action: x.action, utc: isoOf(x.ts_utc_us) }));
      expect(more).toEqual(m.more);
    }
    // The first text: 2013-01-16 09:15:00 UTC, stored as 380020500 seconds since 2001.
    expect(sms[0]!.date).toBe(380_020_500);
    expect(sms[0]!.utc).toBe('2013-01-16T09:15:00.000Z');
  });

  it('links the attachment to its file in MediaDomain', () => {
    const f = query<{ status: string }>(casePath, "SELECT status FROM files WHERE domain = 'MediaDomain' AND relative_path LIKE 'Library/SMS/Attachments/%IMG_0042.JPG'");
    expect(f).toEqual([{ status: 'ok' }]);
    const withAtt = events(casePath, 'messages').find((e) => e.source_rowid === 5 && e.action === 'sent')!;
    const att = query<{ event_id: number; status: string; mime_type: string; path: string; sha256: string }>(
      casePath,
      'SELECT event_id, status, mime_type, path, sha256 FROM attachments',
    );
    expect(att).toHaveLength(1);
    expect(att[0]).toMatchObject({ event_id: withAtt.id, status: 'ok', mime_type: 'image/jpeg' });
    expect(att[0]!.path).toContain('IMG_0042.JPG');
    expect(att[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads call_history.db from WirelessDomain: Unix-seconds times, missed = incoming with no duration', () => {
    const evs = events(casePath, 'calls');
    expect(evs.map((e) => [e.source_table, e.source_rowid])).toEqual(calls.map((c) => ['call', c.rowid]));
    for (const c of calls) {
      const e = evs.find((x) => x.source_rowid === c.rowid)!;
      expect({ row: c.rowid, utc: isoOf(e.ts_utc_us), raw: e.ts_raw, epoch: e.ts_epoch }).toEqual({ row: c.rowid, utc: c.utc, raw: String(c.date), epoch: 'unix-s' });
      expect([e.action, e.service, e.duration_s, e.counterpart, e.counterpart_name]).toEqual([c.action, c.service, c.duration, c.address, t.nameByNumber.get(c.address)]);
    }
    expect(sourcePath(casePath, evs[0]!)).toBe('WirelessDomain/Library/CallHistory/call_history.db');
    expect(calls[0]!.utc).toBe('2013-01-16T09:53:20.000Z');
  });

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(t.root)).toEqual(before);
  });
});

describe('an iOS 9 legacy backup: CallHistory.storedata of iOS 9, a leftover iOS 7 call_history.db, the iOS 9 sms.db', async () => {
  let store!: ReturnType<typeof addIos9CallHistory>;
  let old!: LegacyCall[];
  const t = buildMbdbBackup({
    root: path.join(tmpDir(), 'ios9'),
    seed: 9,
    contacts: 6,
    calls: 0,
    strangers: 0,
    messages: 60,
    smsSchema: 'legacy',
    extend: (w, truth, _rng, tmp) => {
      const pair = [...truth.nameByNumber.keys()].slice(0, 2) as [string, string];
      store = addIos9CallHistory(w, tmp, pair);
      old = addCallHistoryDb(w, tmp, pair, 'ios7');
    },
  });
  const { casePath } = await ingestTo(t.root);

  it('reads the iOS 9 ZCALLRECORD (no ZSERVICE_PROVIDER) with Mac-seconds times', () => {
    const evs = events(casePath, 'calls').filter((e) => e.source_table === 'ZCALLRECORD');
    expect(evs.map((e) => e.source_rowid)).toEqual(store.map((c) => c.rowid));
    for (const c of store) {
      const e = evs.find((x) => x.source_rowid === c.rowid)!;
      expect([isoOf(e.ts_utc_us), e.action, e.service, e.duration_s, e.counterpart_name]).toEqual([
        c.utc,
        c.action,
        c.service === 'Phone' ? 'Phone' : 'FaceTime Video',
        c.duration,
        t.nameByNumber.get(c.address),
      ]);
    }
    expect(store[0]!.utc).toBe('2016-03-18T13:20:00.250Z');
  });

  it('uses the answered column of the iOS 7 call table, and says the leftover may repeat calls', () => {
    const evs = events(casePath, 'calls').filter((e) => e.source_table === 'call');
    expect(evs.map((e) => [e.source_rowid, e.action, isoOf(e.ts_utc_us)])).toEqual(old.map((c) => [c.rowid, c.action, c.utc]));
    // Rang 9 s, not answered: missed, which the duration alone would call received.
    expect(old[4]).toMatchObject({ duration: 9, answered: 0, action: 'missed' });
    for (const e of evs) expect(String(extra(e).note)).toMatch(/CallHistory\.storedata is also present/);
  });

  it('reads every message of the iOS 9 sms.db with its Mac-seconds time', () => {
    const msgs = t.messages as { rowid: number; dateUs: number }[];
    // The first event of a row is the message itself (delivered/read/played follow it).
    const main = new Map<number, { ts_utc_us: number | null }>();
    for (const e of events(casePath, 'messages').sort((a, b) => a.id - b.id)) if (!main.has(e.source_rowid)) main.set(e.source_rowid, e);
    for (const m of msgs) expect({ row: m.rowid, us: main.get(m.rowid)?.ts_utc_us }).toEqual({ row: m.rowid, us: m.dateUs });
  });
});

describe('an iOS 5 legacy backup: SMS rows in Unix seconds and iMessage rows in Mac seconds, in one column', async () => {
  let sms!: Ios5Message[];
  const t = buildMbdbBackup({
    root: path.join(tmpDir(), 'ios5'),
    seed: 5,
    contacts: 4,
    calls: 0,
    strangers: 0,
    productVersion: '5.1.1',
    productType: 'iPhone3,1',
    buildVersion: '9B206',
    extend: (w, truth, _rng, tmp) => {
      sms = addIos5Sms(w, tmp, [...truth.nameByNumber.keys()].slice(0, 2) as [string, string]);
    },
  });
  const before = treeHash(t.root);
  const { casePath, result } = await ingestTo(t.root);

  it('gives each message its own clock, direction, counterpart, name and delivered/read times', () => {
    expect(result.summaries.find((s) => s.extractor === 'messages')?.status).toBe('ok');
    const evs = events(casePath, 'messages');
    for (const m of sms) {
      const list = evs.filter((e) => e.source_rowid === m.rowid);
      const e = list.find((x) => x.action === m.action)!;
      expect({ row: m.rowid, utc: isoOf(e.ts_utc_us), raw: e.ts_raw, epoch: e.ts_epoch }).toEqual({
        row: m.rowid,
        utc: m.utc,
        raw: String(m.date),
        epoch: m.service === 'SMS' ? 'unix-s' : 'mac-s',
      });
      expect([e.body, e.direction, e.service, e.counterpart, e.counterpart_name]).toEqual([
        m.text,
        m.action === 'sent' ? 'outgoing' : 'incoming',
        m.service,
        m.counterpart,
        t.nameByNumber.get(m.counterpart),
      ]);
      expect(list.filter((x) => x !== e).map((x) => ({ action: x.action, utc: isoOf(x.ts_utc_us) }))).toEqual(m.more);
    }
    // Read with one clock, the iMessages would land in 1980 (or 2042): here they are two hours after the SMS.
    expect(sms.map((m) => m.utc)).toEqual(['2011-10-30T18:40:00.000Z', '2011-10-30T18:45:00.000Z', '2011-10-30T20:40:00.000Z', '2011-10-30T20:42:00.000Z']);
  });

  it('the HTML report shows these thread-less messages', async () => {
    const out = path.join(tmpDir(), 'report');
    const r = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--tz', 'UTC']);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const m of sms) expect(html).toContain(m.text);
  });

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(t.root)).toEqual(before);
  });
});
