// `ios-timeline extract`: original files out of the evidence, checked against the ingest SHA-256, named and dated
// as specified, with manifest.json, SHA256SUMS, extract.json and a custody row; verify checks the folder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import { addOrphanMedia, ORPHAN_CASE_ZONE, type FixtureOrphan } from '../fixtures/artifacts/orphans.js';
import type { SmsTruth } from '../fixtures/artifacts/messages.js';
import { makeFixtureEncryption } from '../fixtures/encryption.js';
import { addVoicemail, type VoicemailTruth } from '../fixtures/artifacts/voicemail.js';
import { usNumber } from '../fixtures/artifacts/contacts.js';
import { ingest } from '../src/pipeline/ingest.js';
import { readableName, safeSegment } from '../src/report/extract.js';
import { cli, fixture, HAVE_REALDATA, REALDATA, REALDATA_SKIP_REASON, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { query } from './artifactKit.js';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const TZ = ORPHAN_CASE_ZONE;

interface Item {
  name: string | null;
  kind: string;
  source: string | null;
  status: string;
  reason: string | null;
  evidence_sha256_ingest: string | null;
  sha256: string | null;
  mtime_utc: string | null;
  jpeg?: string | null;
}
const index = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'extract.json'), 'utf8')) as { items: Item[] }).items;

function build(extra: { encryption?: Awaited<ReturnType<typeof makeFixtureEncryption>> } = {}) {
  const t = fixture({
    contacts: 4,
    calls: 2,
    photos: 14,
    messages: 80,
    ...extra,
    extend: (w, truth) => {
      truth.orphans = addOrphanMedia(w);
    },
  });
  return { root: t.root, orphans: t.orphans as FixtureOrphan[], sms: t.sms as SmsTruth };
}

describe('file names', () => {
  it('are safe on every OS', () => {
    expect(safeSegment('a/b:c*d?"e<f>g|h')).toBe('a_b_c_d__e_f_g_h');
    expect(safeSegment('CON.txt')).toBe('_CON.txt');
    expect(safeSegment('nul')).toBe('_nul');
    expect(safeSegment('..')).toBe('__');
    expect(safeSegment('trailing. ')).toBe('trailing');
    expect(safeSegment('evil\u202Egpj.exe')).toBe('evil_gpj.exe'); // a right-to-left override would disguise the extension
    expect(safeSegment('line\nbreak\\x')).toBe('line_break_x');
    const long = safeSegment(`${'é'.repeat(200)}.JPG`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(150);
    expect(long.endsWith('.JPG')).toBe(true);
    expect(safeSegment('Cafe\u0301')).toBe('Café'); // NFC
  });
  it('carry the date in the case zone, the counterpart and the original name', () => {
    const us = Date.UTC(2020, 2, 22, 9, 45, 12) * 1000;
    expect(readableName(us, 'Alice', 'IMG_0008.JPG', 'Europe/Berlin')).toBe('2020-03-22_104512_Alice_IMG_0008.JPG');
    expect(readableName(us, null, 'IMG_0008.JPG', 'UTC')).toBe('2020-03-22_094512_IMG_0008.JPG');
    expect(readableName(null, 'Bob: "B"', 'x.heic', 'UTC')).toBe('undated_Bob_ _B__x.heic');
  });
});

describe('extract from a plain backup', () => {
  let root: string;
  let orphans: FixtureOrphan[];
  let sms: SmsTruth;
  let casePath: string;
  let out: string;
  let before: Record<string, string>;
  let items: Item[];
  let run: Awaited<ReturnType<typeof cli>>;

  beforeAll(async () => {
    ({ root, orphans, sms } = build());
    before = treeHash(root);
    casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: root, casePath, tz: TZ, region: 'US' });
    out = path.join(tmpDir(), 'media');
    run = await cli(['extract', '--case', casePath, '--out', out]);
    items = index(out);
  }, 120_000);

  it('writes every file whose payload is in the evidence, each matching its ingest SHA-256', () => {
    expect(run.stderr.replace(/^custody head of .*\n/m, '')).toBe('');
    expect(run.code).toBe(0);
    const written = items.filter((i) => i.status === 'written');
    expect(written.length).toBeGreaterThan(10);
    for (const i of written) {
      const bytes = fs.readFileSync(path.join(out, i.name!));
      expect(sha(bytes), i.name!).toBe(i.evidence_sha256_ingest);
      const [domain, ...rest] = i.source!.split('/');
      const recorded = query<{ sha256: string }>(casePath, 'SELECT sha256 FROM files WHERE domain = ? AND relative_path = ?', domain, rest.join('/'))[0];
      expect(recorded.sha256).toBe(sha(bytes));
    }
    // Every orphan and every present message attachment is among them.
    for (const o of orphans)
      expect(
        written.some((i) => i.source === `${o.domain}/${o.path}`),
        o.path,
      ).toBe(true);
    for (const a of sms.attachments.filter((x) => x.state === 'ok'))
      expect(
        written.some((i) => i.source === `MediaDomain/${a.relativePath}`),
        a.relativePath!,
      ).toBe(true);
    expect(run.stdout).toContain(`${written.length} files written`);
  });

  it('names and dates files as specified: camera roll by month, attachments per conversation, mtimes set', () => {
    const o = orphans.find((x) => x.path.endsWith('IMG_0900.JPG'))!;
    // 2023-07-14T19:30:05Z in New York (EDT) is 15:30:05.
    const i = items.find((x) => x.source === `${o.domain}/${o.path}`)!;
    expect(i.name).toBe('camera-roll/2023/07/2023-07-14_153005_IMG_0900.JPG');
    expect(fs.statSync(path.join(out, i.name!)).mtimeMs).toBe(o.mtime.getTime());
    expect(i.mtime_utc).toBe(o.mtime.toISOString());
    const mov = items.find((x) => x.source?.endsWith('IMG_0902.MOV'))!;
    expect(mov.name).toBe('camera-roll/2022/11/2022-11-01_230405_IMG_0902.MOV');
    for (const a of sms.attachments.filter((x) => x.state === 'ok')) {
      const m = sms.messages.find((x) => x.rowid === a.messageRowid)!;
      const it = items.find((x) => x.source === `MediaDomain/${a.relativePath}`)!;
      const when = DateTime.fromMillis(Math.floor(m.dateUs / 1000), { zone: TZ }).toFormat('yyyy-LL-dd_HHmmss');
      const who = m.counterpartName ?? m.counterpart;
      expect(path.posix.basename(it.name!), a.relativePath!).toBe([when, who, a.transferName].filter(Boolean).join('_'));
      expect(it.name!.startsWith('attachments/')).toBe(true);
      expect(it.name!.split('/')).toHaveLength(3);
    }
    // Orphan attachment files (no message) have their own folder.
    const orphanAtt = items.find((x) => x.source?.endsWith('IMG_4412.jpeg'))!;
    expect(orphanAtt.name).toBe('attachments/no message/2021-05-09_040000_IMG_4412.jpeg');
    // Never two files under one name, not even differing only in case.
    const names = items.filter((x) => x.name).map((x) => x.name!.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
  });

  it('lists missing payloads with their reason, in extract.json and manifest.json', () => {
    const missing = sms.attachments.filter((x) => x.state === 'missing' || x.state === 'unlisted');
    expect(missing.length).toBeGreaterThan(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { not_written: { source: string; reason: string }[] };
    for (const a of missing) {
      const it = items.find((x) => x.source === `MediaDomain/${a.relativePath}`)!;
      expect(it.status, a.relativePath!).toBe('not-written');
      expect(it.reason).toMatch(/missing|not listed/);
      expect(manifest.not_written.some((n) => n.source === it.source && n.reason === it.reason)).toBe(true);
    }
    // The hostile attachment path is never looked up: listed with the attachment's own status.
    expect(items.some((x) => x.source === null && /names no file/.test(x.reason ?? ''))).toBe(true);
  });

  it('writes manifest.json and SHA256SUMS, a custody row, and verify passes on the folder', async () => {
    const sums = fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    for (const i of items.filter((x) => x.status === 'written')) expect(sums).toContain(`${i.sha256}  ${i.name}\n`);
    const rows = query<{ action: string; detail_json: string }>(casePath, "SELECT action, detail_json FROM custody WHERE action = 'extract'");
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0].detail_json).written).toBe(items.filter((x) => x.status === 'written').length);
    const v = await cli(['verify', out, '--case', casePath]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('verify catches a tampered file', async () => {
    const copy = path.join(tmpDir(), 'copy');
    fs.cpSync(out, copy, { recursive: true });
    const victim = items.find((x) => x.status === 'written' && x.name!.endsWith('.JPG'))!;
    const f = path.join(copy, victim.name!);
    const b = fs.readFileSync(f);
    b[b.length - 10] ^= 0xff;
    fs.writeFileSync(f, b);
    const v = await cli(['verify', copy]);
    expect(v.code).toBe(1);
    expect(v.stdout + v.stderr).toContain(victim.name!);
  });

  it('--force writes into a used folder without overwriting anything, and the folder still verifies', async () => {
    const again = path.join(tmpDir(), 'again');
    fs.cpSync(out, again, { recursive: true, preserveTimestamps: true });
    const r = await cli(['extract', '--case', casePath, '--out', again, '--kinds', 'photos', '--force']);
    expect(r.code, r.stderr).toBe(0);
    const second = JSON.parse(fs.readFileSync(path.join(again, 'extract (2).json'), 'utf8')).items as Item[];
    const first = index(again);
    expect(first).toEqual(items); // the first index is kept
    for (const i of second.filter((x) => x.status === 'written')) {
      expect(i.name).toMatch(/ \(2\)\.[A-Za-z0-9]+$/);
      const before = first.find((x) => x.source === i.source)!;
      expect(sha(fs.readFileSync(path.join(again, before.name!)))).toBe(before.sha256); // untouched
    }
    expect((await cli(['verify', again, '--case', casePath])).code).toBe(0);
  });

  it('--kinds photos writes the camera roll only (--json says the same as extract.json)', async () => {
    const o2 = path.join(tmpDir(), 'photos');
    const r = await cli(['extract', '--case', casePath, '--out', o2, '--kinds', 'photos', '--json']);
    expect(r.code).toBe(0);
    const got = index(o2);
    const j = JSON.parse(r.stdout) as { written: number; items: Item[]; custody_row: number };
    expect(j.items).toEqual(got);
    expect(j.written).toBe(got.filter((x) => x.status === 'written').length);
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((x) => x.kind === 'photos')).toBe(true);
    expect(got.filter((x) => x.name).every((x) => x.name!.startsWith('camera-roll/') || x.name!.startsWith('attachments/no message/'))).toBe(true);
  });

  it('--contact and --from select by the event a file belongs to', async () => {
    const withAtt = sms.attachments.filter((x) => x.state === 'ok').map((a) => sms.messages.find((m) => m.rowid === a.messageRowid)!);
    const who = withAtt.find((m) => m.counterpartName)!.counterpartName!;
    const o3 = path.join(tmpDir(), 'contact');
    expect((await cli(['extract', '--case', casePath, '--out', o3, '--kinds', 'attachments', '--contact', who])).code).toBe(0);
    const got = index(o3).filter((x) => x.status === 'written');
    const expected = sms.attachments.filter((a) => a.state === 'ok' && sms.messages.find((m) => m.rowid === a.messageRowid)!.counterpartName === who);
    expect(got.map((x) => x.source).sort()).toEqual(expected.map((a) => `MediaDomain/${a.relativePath}`).sort());
    // --from in the case zone: the orphans of 2023 only (IMG_0900 in July, IMG_0901 in January), not 2022 or earlier.
    const o4 = path.join(tmpDir(), 'from');
    expect((await cli(['extract', '--case', casePath, '--out', o4, '--kinds', 'photos,videos', '--from', '2023-01-01', '--to', '2023-12-31'])).code).toBe(0);
    const orphanNames = index(o4)
      .map((x) => x.source)
      .filter((s) => orphans.some((o) => `${o.domain}/${o.path}` === s));
    expect(orphanNames.sort()).toEqual(['CameraRollDomain/Media/DCIM/101APPLE/IMG_0900.JPG', 'CameraRollDomain/Media/DCIM/101APPLE/IMG_0901.JPG']);
  });

  it('refuses a folder inside the evidence and a non-empty folder without --force; the evidence is untouched', async () => {
    const inside = await cli(['extract', '--case', casePath, '--out', path.join(root, 'out')]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/inside the evidence folder/);
    expect(fs.existsSync(path.join(root, 'out'))).toBe(false);
    const again = await cli(['extract', '--case', casePath, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty.*--force/);
    const bad = await cli(['extract', '--case', casePath, '--out', path.join(tmpDir(), 'x'), '--kinds', 'photos,faxes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kinds .*not faxes/);
    expect(treeHash(root)).toEqual(before);
  });
});

describe('extract --kinds voice', () => {
  it('writes voicemail audio named by caller, hostile sender text made a safe name, missing audio listed', async () => {
    let vm!: VoicemailTruth;
    const t = fixture({
      contacts: 4,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        vm = addVoicemail(w, rng, tmp, { generation: 'current', end: truth.device.backupDate, nameByNumber: truth.nameByNumber, stranger: usNumber(rng).e164 });
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: t.root, casePath, tz: TZ, region: 'US', only: ['voicemail'] });
    const out = path.join(tmpDir(), 'voice');
    const r = await cli(['extract', '--case', casePath, '--out', out, '--kinds', 'voice']);
    expect(r.code, r.stderr).toBe(0);
    const items = index(out);
    expect(items).toHaveLength(vm.rows.length);
    for (const x of vm.rows) {
      const it = items.find((i) => i.source === `HomeDomain/Library/Voicemail/${x.rowid}.amr`)!;
      if (!x.audio) {
        expect(it.status).toBe('not-written');
        expect(it.reason).toMatch(/missing/);
        continue;
      }
      expect(sha(fs.readFileSync(path.join(out, it.name!)))).toBe(sha(x.audio));
      const base = path.posix.basename(it.name!);
      expect(it.name!.startsWith('voice/voicemail/')).toBe(true);
      expect(base).not.toMatch(/[<>:"/\\|?*]/);
      if (x.rowid === vm.absurdRowid) {
        expect(base.startsWith('undated_')).toBe(true);
        continue;
      }
      const when = DateTime.fromSeconds(x.date, { zone: TZ }).toFormat('yyyy-LL-dd_HHmmss');
      // <b>=HYPERLINK("http://x")</b>: every character Windows forbids becomes "_".
      const who = x.rowid === vm.htmlRowid ? '_b_=HYPERLINK(_http___x_)__b_' : (x.name ?? x.sender);
      expect(base).toBe(`${when}_${who}_${x.rowid}.amr`);
    }
  }, 60_000);
});

describe('extract when the evidence changed since ingest', () => {
  it('does not write a file whose bytes no longer match, lists both hashes and exits 1', async () => {
    const { root, orphans } = build();
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: root, casePath, tz: TZ, region: 'US' });
    const o = orphans.find((x) => x.path.endsWith('IMG_0900.JPG'))!;
    const fileId = crypto.createHash('sha1').update(`${o.domain}-${o.path}`).digest('hex');
    const payload = path.join(root, fileId.slice(0, 2), fileId);
    const b = fs.readFileSync(payload);
    b[b.length - 5] ^= 0x01; // this test's own copy of the evidence, altered after ingest
    fs.writeFileSync(payload, b);
    const out = path.join(tmpDir(), 'media');
    const r = await cli(['extract', '--case', casePath, '--out', out, '--kinds', 'photos']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 file\(s\) no longer match/);
    const it = index(out).find((x) => x.source === `${o.domain}/${o.path}`)!;
    expect(it.status).toBe('hash-mismatch');
    expect(it.name).toBeNull();
    expect(it.reason).toContain(sha(b));
    expect(fs.existsSync(path.join(out, 'camera-roll/2023/07/2023-07-14_153005_IMG_0900.JPG'))).toBe(false);
    // The other files are written, and the folder still verifies.
    expect(index(out).filter((x) => x.status === 'written').length).toBeGreaterThan(3);
    expect((await cli(['verify', out, '--case', casePath])).code).toBe(0);
  }, 120_000);
});

describe('extract from an encrypted backup', () => {
  it('decrypts with the password and checks the evidence (ciphertext) hashes', async () => {
    const PW = 'extract pass 4411';
    const enc = await makeFixtureEncryption({ password: PW, iter: 100, dpic: 1000 });
    const { root, orphans } = build({ encryption: enc });
    const before = treeHash(root);
    const casePath = path.join(tmpDir(), 'case.db');
    expect((await cli(['ingest', root, '--case', casePath, '--tz', TZ, '--password', PW, '-q'])).code).toBe(0);
    const out = path.join(tmpDir(), 'media');
    const r = await cli(['extract', '--case', casePath, '--out', out, '--password', PW, '--kinds', 'photos,videos']);
    expect(r.code, r.stderr).toBe(0);
    const items = index(out);
    const o = orphans.find((x) => x.path.endsWith('IMG_0902.MOV'))!;
    const it = items.find((x) => x.source === `${o.domain}/${o.path}`)!;
    expect(it.status).toBe('written');
    // The written file is the plaintext movie (its QuickTime header), its hash the plaintext's; the ingest hash is the ciphertext's.
    const bytes = fs.readFileSync(path.join(out, it.name!));
    expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
    expect(it.sha256).toBe(sha(bytes));
    expect(it.evidence_sha256_ingest).not.toBe(it.sha256);
    expect((await cli(['verify', out, '--case', casePath])).code).toBe(0);
    const wrong = await cli(['extract', '--case', casePath, '--out', path.join(tmpDir(), 'w'), '--password', 'nope']);
    expect(wrong.code).not.toBe(0);
    expect(treeHash(root)).toEqual(before);
  }, 180_000);
});

describe.skipIf(!HAVE_REALDATA)(`--convert-heic jpeg (${HAVE_REALDATA ? 'realdata' : REALDATA_SKIP_REASON})`, () => {
  it('writes a JPEG beside the real HEIC and keeps the original', async () => {
    const root = path.join(tmpDir(), 'backup');
    const heic = path.join(REALDATA, 'photos-exif/iphone_7.heic');
    wrapRealFiles(root, [{ domain: 'CameraRollDomain', relativePath: 'Media/DCIM/100APPLE/IMG_0002.HEIC', source: heic }]);
    const casePath = path.join(tmpDir(), 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'Asia/Tokyo', region: 'JP' });
    const out = path.join(tmpDir(), 'media');
    const r = await cli(['extract', '--case', casePath, '--out', out, '--convert-heic', 'jpeg']);
    expect(r.code, r.stderr).toBe(0);
    const [it] = index(out);
    // README: DateTimeOriginal 2018:09:10 12:16:13 (Himeji), placed in the case zone Asia/Tokyo.
    expect(it.name).toBe('camera-roll/2018/09/2018-09-10_121613_IMG_0002.HEIC');
    expect(sha(fs.readFileSync(path.join(out, it.name!)))).toBe('2a2b5531ac2e1e3dd191f3386a09da2a39ce7f69b2d2dfd749c6c88129745040');
    expect(it.jpeg).toBe('camera-roll/2018/09/2018-09-10_121613_IMG_0002.jpg');
    const jpg = fs.readFileSync(path.join(out, it.jpeg!));
    expect([...jpg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toContain(`${sha(jpg)}  ${it.jpeg}`);
  }, 180_000);
});
