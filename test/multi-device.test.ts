// Several phones in one case (ingest --add) and the Timesketch export. Two fixture backups with different device
// info; the second holds the same sms.db messages (same guids: the same conversation seen on both phones).
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { cli, fixture, HAVE_REALDATA, REALDATA, REPO, tmpDir, treeHash } from './helpers.js';
import type { FixtureTruth } from '../fixtures/build.js';
import type { FixtureMessage } from '../fixtures/artifacts/messages.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { Backup, fileIdFor } from '../src/backup/backup.js';
import { runExtractors } from '../src/pipeline/runExtractors.js';
import { messageLocations } from '../src/extractors/artifacts/messageLocations.js';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from '../src/timeline/schema.js';
import { buildReportModel, eventRows } from '../src/report/viewModel.js';
import { countEvents } from '../src/timeline/query.js';
import { exportTimesketch } from '../src/report/timesketch.js';
import { readAndValidateJsonl } from './timesketchValidate.js';
import puppeteer from 'puppeteer';
import { resolveChromium } from '../src/report/pdf.js';
import { addSafari } from '../fixtures/artifacts/safari.js';
import { addWhatsApp } from '../fixtures/artifacts/whatsapp.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;

const sha256 = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const ALEX = { deviceName: 'Alex’s iPhone', udid: 'b'.repeat(40), serialNumber: 'G6TZ0ALEX001', phoneNumber: '+1 (919) 555-0199' };

let a: FixtureTruth;
let b: FixtureTruth;
let dir: string;
let casePath: string;
let beforeA: Record<string, string>;
let beforeB: Record<string, string>;

beforeAll(async () => {
  a = fixture({ seed: 7, messages: 30 });
  // Alex's phone also has Safari and WhatsApp (added after the messages, so the message guids stay the same).
  b = fixture({
    seed: 7,
    messages: 30,
    device: ALEX,
    extend: (w, truth, rng, tmp) => {
      addSafari(w, tmp, { schema: 'ios17' });
      addWhatsApp(w, rng, tmp, { generation: 'current', end: truth.device.backupDate, nameByNumber: truth.nameByNumber, strangers: ['+14155550123'] });
    },
  });
  beforeA = treeHash(a.root);
  beforeB = treeHash(b.root);
  dir = tmpDir();
  casePath = path.join(dir, 'case.db');
  const r1 = await cli(['ingest', a.root, '--case', casePath, '--case-number', 'CN-2024-17', '--tz', 'America/New_York', '-q']);
  expect(r1.code, r1.stderr).toBe(0);
  const r2 = await cli(['ingest', b.root, '--case', casePath, '--add', '-q', '--json']);
  expect(r2.code, r2.stderr).toBe(0);
  const j = JSON.parse(r2.stdout);
  expect([j.device_id, j.devices]).toEqual([2, 2]);
  expect(j.linked_duplicate_messages).toBeGreaterThan(20);
}, 120_000);

const open = () => new Database(casePath, { readonly: true });

describe('several devices in one case', () => {
  it('gives each source its evidence row as device id, on every row read from it', () => {
    const db = open();
    try {
      const ev = db.prepare('SELECT id, device_name, udid FROM evidence ORDER BY id').all() as { id: number; device_name: string; udid: string }[];
      expect(ev.map((e) => e.device_name)).toEqual([a.device.deviceName, ALEX.deviceName]);
      expect(ev[1].udid.toLowerCase()).toBe(ALEX.udid);
      for (const t of ['events', 'files', 'threads', 'contacts', 'extractor_runs', 'recovery_runs']) {
        const nulls = db.prepare(`SELECT count(*) FROM ${t} WHERE device_id IS NULL OR device_id NOT IN (1, 2)`).pluck().get();
        expect(nulls, t).toBe(0);
        const devices = db.prepare(`SELECT DISTINCT device_id FROM ${t} ORDER BY 1`).pluck().all();
        expect(devices, t).toEqual([1, 2]);
      }
      // Every call of each phone's call history, on its own device.
      for (const [id, truth] of [
        [1, a],
        [2, b],
      ] as const) {
        expect(db.prepare("SELECT count(*) FROM events WHERE kind = 'call' AND extractor = 'calls' AND device_id = ?").pluck().get(id)).toBe(truth.calls.length);
        expect(db.prepare('SELECT count(*) FROM contacts WHERE device_id = ?').pluck().get(id)).toBe(truth.contacts.length);
      }
      // files is per device: each backup's Manifest.db has its own row with its own hash.
      for (const [id, truth] of [
        [1, a],
        [2, b],
      ] as const) {
        const row = db.prepare("SELECT sha256 FROM files WHERE domain IS NULL AND relative_path = 'Manifest.db' AND device_id = ?").get(id) as { sha256: string };
        expect(row.sha256).toBe(sha256(path.join(truth.root, 'Manifest.db')));
      }
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      // The case's zone and number stay those of the first ingest.
      expect(db.prepare("SELECT value FROM meta WHERE key = 'time_zone'").pluck().get()).toBe('America/New_York');
      expect(db.prepare("SELECT count(*) FROM custody WHERE action = 'ingest'").pluck().get()).toBe(2);
      // Every writer (row by row, and the bulk INSERT … SELECT of messages, Safari, WhatsApp) set the device itself.
      const details = (db.prepare("SELECT detail_json FROM custody WHERE action = 'ingest' ORDER BY seq").pluck().all() as string[]).map((d) => JSON.parse(d));
      expect(details.map((d) => [d.device_id, d.rows_written_without_device])).toEqual([
        [1, 0],
        [2, 0],
      ]);
      for (const ex of ['safari', 'whatsapp', 'messages']) {
        expect(Number(db.prepare('SELECT count(*) FROM events WHERE extractor = ? AND device_id = 2').pluck().get(ex)), ex).toBeGreaterThan(0);
      }
    } finally {
      db.close();
    }
  });

  it('links the same iMessage seen on both phones (same guid and action): two rows, the second points to the first', () => {
    const db = open();
    try {
      const guids = new Set((b.messages as FixtureMessage[]).map((m) => m.guid));
      const rows = db.prepare("SELECT id, device_id, action, duplicate_of, json_extract(extra_json, '$.guid') AS guid FROM events WHERE kind = 'message'").all() as {
        id: number;
        device_id: number;
        action: string;
        duplicate_of: number | null;
        guid: string | null;
      }[];
      const first = new Map(rows.filter((r) => r.device_id === 1 && r.guid).map((r) => [`${r.guid} ${r.action}`, r.id]));
      const second = rows.filter((r) => r.device_id === 2 && r.guid && guids.has(r.guid));
      expect(second.length).toBeGreaterThan(20);
      for (const r of second) expect(r.duplicate_of, `${r.guid} ${r.action}`).toBe(first.get(`${r.guid} ${r.action}`) ?? null);
      expect(second.filter((r) => r.duplicate_of !== null).length).toBeGreaterThan(20);
      expect(rows.filter((r) => r.device_id === 1 && r.duplicate_of !== null)).toEqual([]);
      // Both rows keep their own provenance: the second copy's source file is Alex's sms.db.
      const prov = db
        .prepare(`SELECT f.device_id AS fdev, f.sha256 FROM events e JOIN files f ON f.id = e.source_file_id WHERE e.id = ?`)
        .get(second.find((r) => r.duplicate_of !== null)!.id) as { fdev: number; sha256: string };
      expect(prov.fdev).toBe(2);
    } finally {
      db.close();
    }
  });

  it('counts a shared message once in statistics and shows it once in conversations, naming the other device', () => {
    const cf = CaseFile.open(casePath, { readonly: true });
    try {
      const both = buildReportModel(cf, { tz: 'UTC', filter: {} });
      const onlyA = buildReportModel(cf, { tz: 'UTC', filter: { devices: [1] } });
      const onlyB = buildReportModel(cf, { tz: 'UTC', filter: { devices: [2] } });
      const linked = Number(cf.db.prepare('SELECT count(*) FROM events WHERE duplicate_of IS NOT NULL').pluck().get());
      expect(both.counts.devices).toBe(2);
      expect(both.counts.linkedDuplicates).toBe(linked);
      // Device 2's copies of device 1's messages are not counted again.
      expect(both.counts.events).toBe(countEvents(cf.db) - linked);
      expect(both.counts.messages).toBeLessThan(onlyA.counts.messages + onlyB.counts.messages);
      expect(both.evidence.map((e) => e.title)).toEqual([`Device 1 (${a.device.deviceName})`, `Device 2 (${ALEX.deviceName})`]);
      const conv = [...eventRows(cf.db, {}, 'UTC', { threadOrder: true })];
      expect(conv.some((r) => r[21] !== 0)).toBe(false);
      const firstCopy = Number(cf.db.prepare('SELECT duplicate_of FROM events WHERE duplicate_of IS NOT NULL LIMIT 1').pluck().get());
      const cell = conv.find((r) => r[0] === firstCopy)!;
      expect(cell[17]).toMatch(new RegExp(`also on 2 \\(${ALEX.deviceName}\\): event \\d+`));
      expect(cell[20]).toBe(`1 (${a.device.deviceName})`);
    } finally {
      cf.close();
    }
  });

  it('--device filters exports by id, name or UDID; an unknown device is an error that lists them', async () => {
    const db = open();
    const perDevice = db.prepare('SELECT device_id, count(*) AS n FROM events GROUP BY device_id ORDER BY 1').all() as { device_id: number; n: number }[];
    db.close();
    for (const [spec, expected] of [
      ['2', perDevice[1].n],
      ['alex', perDevice[1].n],
      [ALEX.udid.toUpperCase(), perDevice[1].n],
      ['1', perDevice[0].n],
      ['1,2', perDevice[0].n + perDevice[1].n],
    ] as const) {
      const out = path.join(tmpDir(), 'x.csv');
      const r = await cli(['export', '--case', casePath, '--format', 'csv', '--out', out, '--device', spec]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${expected} events written`));
    }
    const bad = await cli(['export', '--case', casePath, '--format', 'csv', '--out', path.join(tmpDir(), 'y.csv'), '--device', 'Pixel']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no device "Pixel" in this case \(devices: 1 \(Sam’s iPhone\), 2 \(Alex’s iPhone\)\)/);
  });

  it('verify checks the case and each backup against its own device; the evidence is unchanged', async () => {
    const v = await cli(['verify', casePath, '--no-record']);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/2 devices in the case, each with its ingest custody row/);
    for (const truth of [a, b]) {
      const r = await cli(['verify', truth.root, '--case', casePath, '--no-record']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const rb = await cli(['verify', b.root, '--case', casePath, '--no-record']);
    expect(rb.stdout).toMatch(/device 2 \(Alex’s iPhone\) of the 2 in the case/);
    expect(treeHash(a.root)).toEqual(beforeA);
    expect(treeHash(b.root)).toEqual(beforeB);
  });

  it('content digests cover the second device: an edited row of it is named', async () => {
    const d = tmpDir();
    const copy = path.join(d, 'case.db');
    fs.copyFileSync(casePath, copy);
    fs.copyFileSync(`${casePath}.custody-heads`, `${copy}.custody-heads`);
    const db = new Database(copy);
    const id = db.prepare('SELECT id FROM events WHERE device_id = 2 AND body IS NOT NULL ORDER BY id LIMIT 1').pluck().get() as number;
    db.prepare("UPDATE events SET body = 'edited' WHERE id = ?").run(id);
    db.close();
    const v = await cli(['verify', copy, '--no-record']);
    expect(v.code).toBe(1);
    expect(v.stdout + v.stderr).toContain(`events row ${id}`);
  });

  it('refuses to ingest the same backup (same UDID) into the case again, leaving the case as it was', async () => {
    const before = sha256(casePath);
    const again = await cli(['ingest', b.root, '--case', casePath, '--add', '-q']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already in this case as device 2 \(Alex’s iPhone, UDID/);
    // A copy of the first backup elsewhere (same UDID, another folder) is the same evidence too.
    const copyA = path.join(tmpDir(), 'backup');
    fs.cpSync(a.root, copyA, { recursive: true });
    const third = await cli(['ingest', copyA, '--case', casePath, '--add', '-q']);
    expect(third.code).toBe(2);
    expect(third.stderr).toMatch(/already in this case as device 1/);
    expect(sha256(casePath)).toBe(before);
    expect(fs.existsSync(`${casePath}.partial`)).toBe(false);
    // Without --add an existing case is still never overwritten.
    const plain = await cli(['ingest', b.root, '--case', casePath, '-q']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/already exists.*--add/);
  });

  it('info CASE lists the devices; the HTML report names them and filters by --device', async () => {
    const info = await cli(['info', casePath, '--json']);
    expect(info.code, info.stderr).toBe(0);
    const j = JSON.parse(info.stdout);
    const db = open();
    const perDevice = db.prepare('SELECT count(*) FROM events WHERE device_id = ?').pluck();
    expect(j.devices.map((d: { id: number; device_name: string; events: number }) => [d.id, d.device_name, d.events])).toEqual([
      [1, a.device.deviceName, perDevice.get(1)],
      [2, ALEX.deviceName, perDevice.get(2)],
    ]);
    db.close();
    const text = await cli(['info', casePath]);
    expect(text.stdout).toMatch(/Devices: {4}2\n {2}1 \(Sam’s iPhone\): iPhone15,2/);
    const out = path.join(tmpDir(), 'r');
    const r = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--device', 'Alex']);
    expect(r.code, r.stderr).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('Device 2 (Alex’s iPhone)');
    expect(html).toContain('Device 1 (Sam’s iPhone)'); // the evidence section lists every source, filtered or not
    expect(html).toMatch(/Filter[^<]*<\/th><td>[^<]*device/i);
    // The events carry their device (the page shows it before each source line); only device 2's are here.
    const events = JSON.parse(html.match(/<script type="application\/json" id="d-events">(.*?)<\/script>/s)![1]) as unknown[][];
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e[20]))).toEqual(new Set(['2 (Alex’s iPhone)']));
  });

  it('names a number from another device’s address book (contacts unified by E.164 number)', async () => {
    // A third phone whose own address book is empty (its rows deleted and the file vacuumed before ingest).
    const c = fixture({ seed: 7, calls: 40, device: { deviceName: 'Kim’s iPhone', udid: 'd'.repeat(40), serialNumber: 'KIM0001' } });
    const ab = path.join(c.root, ...((id) => [id.slice(0, 2), id])(fileIdFor('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb')));
    const adb = new Database(ab);
    adb.exec('DELETE FROM ABMultiValue; DELETE FROM ABPerson; VACUUM;');
    adb.close();
    const alone = path.join(tmpDir(), 'alone.db');
    expect((await cli(['ingest', c.root, '--case', alone, '-q'])).code).toBe(0);
    const named = (p: string, device: number) => {
      const db = new Database(p, { readonly: true });
      try {
        return db.prepare("SELECT counterpart, counterpart_name FROM events WHERE extractor = 'calls' AND device_id = ?").all(device) as {
          counterpart: string;
          counterpart_name: string | null;
        }[];
      } finally {
        db.close();
      }
    };
    expect(named(alone, 1).filter((r) => r.counterpart_name).length).toBe(0);
    const both = path.join(tmpDir(), 'both.db');
    fs.copyFileSync(casePath, both);
    fs.copyFileSync(`${casePath}.custody-heads`, `${both}.custody-heads`);
    const r = await cli(['ingest', c.root, '--case', both, '--add', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}device 3 of 3 in this case\n/m);
    const calls = named(both, 3);
    const known = calls.filter((x) => a.nameByNumber.has(`+1${x.counterpart.replace(/\D/g, '').slice(-10)}`));
    expect(known.length).toBeGreaterThan(10);
    for (const x of known) expect(x.counterpart_name, x.counterpart).toBe(a.nameByNumber.get(`+1${x.counterpart.replace(/\D/g, '').slice(-10)}`));
    expect(calls.filter((x) => !known.includes(x) && x.counterpart_name)).toEqual([]);
  });

  it('reads an older case opened read-only (no device columns): report model, rows and Timesketch export', () => {
    const p = path.join(tmpDir(), 'v4.db');
    const db = new Database(p);
    for (const m of MIGRATIONS.slice(0, 4)) db.exec(m);
    db.exec(`INSERT INTO meta VALUES ('schema_version', '4');
      INSERT INTO evidence (id, backup_path, device_name) VALUES (1, '/old', 'Old phone');
      INSERT INTO events (id, ts_utc_us, kind, action, extractor, title) VALUES (1, 1700000000000000, 'call', 'placed', 'calls', 'Call'), (2, NULL, 'contact', 'created', 'contacts', 'C');`);
    db.close();
    const cf = CaseFile.open(p, { readonly: true });
    try {
      expect(buildReportModel(cf, { tz: 'UTC', filter: {} }).counts.events).toBe(2);
      expect([...eventRows(cf.db, {}, 'UTC', { threadOrder: true })]).toEqual([]);
      const out = path.join(tmpDir(), 'old.jsonl');
      expect(exportTimesketch(cf.db, out).undated).toBe(1);
      const v = readAndValidateJsonl(fs.readFileSync(out, 'utf8'));
      expect(v.lines.map((l) => [l.event_id, l.datetime, 'device' in l])).toEqual([[1, '2023-11-14T22:13:20.000+00:00', false]]);
    } finally {
      cf.close();
    }
  });

  it.skipIf(!HAVE_BROWSER)(
    'the HTML page shows each shared message once in conversations, every row with its device in the timeline',
    async () => {
      const out = path.join(tmpDir(), 'r');
      expect((await cli(['report', '--case', casePath, '--out', out, '--format', 'html'])).code).toBe(0);
      const db = open();
      // Conversations listed: threads holding at least one row that is not another device's copy.
      const expected = Number(db.prepare('SELECT count(DISTINCT e.thread_id) FROM events e JOIN threads t ON t.id = e.thread_id WHERE e.duplicate_of IS NULL').pluck().get());
      const withCopies = Number(db.prepare('SELECT count(DISTINCT e.thread_id) FROM events e JOIN threads t ON t.id = e.thread_id').pluck().get());
      db.close();
      expect(expected).toBeLessThan(withCopies);
      const browser = await puppeteer.launch({ executablePath: (await resolveChromium())!, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`file://${path.join(out, 'report.html')}`, { waitUntil: 'load' });
        await page.waitForSelector('html[data-ready]');
        expect(errors).toEqual([]);
        const info = await page.$eval('#conversations-list .conv-list .info', (e) => e.textContent ?? '');
        expect(info).toMatch(new RegExp(`of ${expected}$`));
        const sources = await page.$$eval('#timeline-list td.src', (t) => t.map((x) => x.textContent ?? ''));
        expect(sources.length).toBeGreaterThan(0);
        for (const s of sources) expect(s).toMatch(/^\[[12] \((Sam|Alex)’s iPhone\)\] /);
      } finally {
        await browser.close();
      }
    },
    120_000,
  );

  it('extract writes one device at a time: several devices need --device, which opens that device’s backup', async () => {
    const none = await cli(['extract', '--case', casePath, '--out', path.join(tmpDir(), 'x')]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/this case holds 2 devices \(ids 1, 2\); extract one device at a time with --device/);
    const out = path.join(tmpDir(), 'x');
    const r = await cli(['extract', '--case', casePath, '--out', out, '--device', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const db = open();
    const custody = JSON.parse(db.prepare("SELECT detail_json FROM custody WHERE action = 'extract' ORDER BY seq DESC LIMIT 1").pluck().get() as string);
    db.close();
    expect(JSON.stringify(custody)).toContain(b.root);
  });

  it('message locations look only at the attachments of the device being ingested', async () => {
    const rel = 'Library/SMS/Attachments/4b/11/AB12CD34/Shared Location.loc.vcf';
    const vcard = 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Home\r\nitem1.URL;type=pref:http://maps.apple.com/?ll=50.894967\\,4.341626\r\nEND:VCARD\r\n';
    const t = fixture({ contacts: 0, calls: 0, extend: (w) => w.addFile('MediaDomain', rel, Buffer.from(vcard)) });
    const cf = CaseFile.create(path.join(tmpDir(), 'c.db'));
    const backup = await Backup.open(t.root);
    try {
      // Both devices hold the same shared location; only the second one is being ingested now.
      for (const device of [1, 2]) {
        cf.db.prepare('INSERT INTO evidence (id, backup_path) VALUES (?, ?)').run(device, `/phone${device}`);
        cf.deviceId = device;
        const fileId = cf.recordFile({ domain: 'MediaDomain', relativePath: rel, fileId: null, status: 'ok', readBy: 'messages' });
        const ts = { utcUs: 1_613_764_174_008_000 + device, raw: '635456974007999872', epoch: 'mac-ns' as const };
        const ev = cf.addEvent({ ts, kind: 'message', action: 'received', sourceFileId: null, sourceTable: 'message', sourceRowid: device }, 'messages');
        cf.addAttachment({
          eventId: ev,
          extractor: 'messages',
          sourceFileId: null,
          sourceTable: 'attachment',
          sourceRowid: device,
          fileId,
          path: `~/${rel}`,
          transferName: 'Shared Location.loc.vcf',
          mimeType: 'text/x-vlocation',
          uti: 'public.vlocation',
          totalBytes: vcard.length,
          status: 'ok',
          sha256: null,
        });
      }
      const s = await runExtractors(backup, cf, [messageLocations], { tz: 'UTC', region: 'US' });
      expect(s[0].events).toBe(1);
      expect(cf.db.prepare("SELECT device_id, ts_utc_us FROM events WHERE extractor = 'message-locations'").all()).toEqual([{ device_id: 2, ts_utc_us: 1_613_764_174_008_002 }]);
    } finally {
      backup.close();
      cf.close();
    }
  });

  it('backfills an older one-device case to its single evidence row, files unique per device', () => {
    const db = new Database(':memory:');
    for (const m of MIGRATIONS.slice(0, 4)) db.exec(m);
    db.exec(`INSERT INTO meta VALUES ('schema_version', '4');
      INSERT INTO evidence (id, backup_path) VALUES (7, '/old');
      INSERT INTO files (id, domain, relative_path, status, origin) VALUES (3, 'HomeDomain', 'Library/SMS/sms.db', 'ok', 'manifest');
      INSERT INTO events (id, kind, action, extractor, source_file_id) VALUES (11, 'message', 'sent', 'messages', 3);`);
    migrate(db);
    expect(db.prepare('SELECT device_id FROM events WHERE id = 11').pluck().get()).toBe(7);
    expect(db.prepare('SELECT id, device_id, origin FROM files').all()).toEqual([{ id: 3, device_id: 7, origin: 'manifest' }]);
    // The same path may now exist once per device.
    db.exec("INSERT INTO evidence (id, backup_path) VALUES (8, '/other')");
    db.exec("INSERT INTO files (domain, relative_path, status, device_id) VALUES ('HomeDomain', 'Library/SMS/sms.db', 'ok', 8)");
    expect(() => db.exec("INSERT INTO files (domain, relative_path, status, device_id) VALUES ('HomeDomain', 'Library/SMS/sms.db', 'ok', 8)")).toThrow(/UNIQUE/);
    db.close();
  });
});

describe('Timesketch export', () => {
  it('passes Timesketch’s own JSONL validation, one JSON type per field, with device, data_type, case number and tags', async () => {
    const out = path.join(tmpDir(), 'timeline.jsonl');
    const r = await cli(['export', '--case', casePath, '--format', 'timesketch', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const v = readAndValidateJsonl(fs.readFileSync(out, 'utf8'));
    expect(v.skipped).toEqual([]);
    expect(v.mixedTypes).toEqual({});
    const db = open();
    const dated = Number(db.prepare('SELECT count(*) FROM events WHERE ts_utc_us IS NOT NULL').pluck().get());
    const undated = Number(db.prepare('SELECT count(*) FROM events WHERE ts_utc_us IS NULL').pluck().get());
    const kinds = new Map((db.prepare('SELECT id, kind FROM events').all() as { id: number; kind: string }[]).map((e) => [e.id, e.kind]));
    db.close();
    expect(v.lines.length).toBe(dated);
    const custody = open();
    const detail = JSON.parse(custody.prepare("SELECT detail_json FROM custody WHERE action = 'export' ORDER BY seq DESC LIMIT 1").pluck().get() as string);
    custody.close();
    expect(detail.undated_left_out).toBe(undated);
    expect(detail.events).toBe(dated);
    for (const l of v.lines) {
      expect(l.datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/);
      expect(Date.parse(l.datetime as string) * 1000).toBe(Math.floor((l.timestamp as number) / 1000) * 1000);
      expect(l.case_number).toBe('CN-2024-17');
      expect(l.tag).toEqual([]);
      expect(l.device).toMatch(/^[12] \((Sam|Alex)’s iPhone\)$/);
      expect(l.data_type).toMatch(/^ios:/);
      expect(kinds.get(l.event_id as number)).toBeDefined();
    }
    const call = v.lines.find((l) => kinds.get(l.event_id as number) === 'call')!;
    expect(call.data_type).toBe('ios:calls:call');
    expect(v.lines.find((l) => kinds.get(l.event_id as number) === 'message')!.data_type).toBe('ios:messages:message');
    expect(v.lines.filter((l) => l.device_id === 2).length).toBeGreaterThan(0);
    expect(v.lines.some((l) => typeof l.duplicate_of === 'number')).toBe(true);
  });

  it('splits into numbered files under --split-mb, each listed in the manifest, together every dated event once', async () => {
    const out = path.join(tmpDir(), 'timeline.jsonl');
    const r = await cli(['export', '--case', casePath, '--format', 'timesketch', '--out', out, '--split-mb', '0.05']);
    expect(r.code, r.stderr).toBe(0);
    const folder = path.dirname(out);
    const parts = fs
      .readdirSync(folder)
      .filter((n) => /^timeline\.\d{3}\.jsonl$/.test(n))
      .sort();
    expect(parts.length).toBeGreaterThan(2);
    expect(fs.existsSync(out)).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual(parts);
    const ids: number[] = [];
    for (const p of parts) {
      expect(fs.statSync(path.join(folder, p)).size).toBeLessThanOrEqual(0.05 * 1024 * 1024);
      const v = readAndValidateJsonl(fs.readFileSync(path.join(folder, p), 'utf8'));
      expect(v.mixedTypes).toEqual({});
      ids.push(...v.lines.map((l) => l.event_id as number));
    }
    const db = open();
    const dated = db.prepare('SELECT id FROM events WHERE ts_utc_us IS NOT NULL ORDER BY id').pluck().all() as number[];
    db.close();
    expect([...ids].sort((x, y) => x - y)).toEqual(dated);
    const v = await cli(['verify', folder, '--case', casePath, '--no-record']);
    expect(v.code, v.stdout).toBe(0);
  });

  it('emits the examiner’s tags (ios-timeline tag) as a list on their events', async () => {
    const copy = path.join(tmpDir(), 'case.db');
    fs.copyFileSync(casePath, copy);
    fs.copyFileSync(`${casePath}.custody-heads`, `${copy}.custody-heads`);
    for (const tag of ['suspect', 'exhibit-3']) expect((await cli(['tag', '--case', copy, '1', '--tag', tag])).code).toBe(0);
    const out = path.join(tmpDir(), 't.jsonl');
    const r = await cli(['export', '--case', copy, '--format', 'timesketch', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const v = readAndValidateJsonl(fs.readFileSync(out, 'utf8'));
    expect(v.mixedTypes).toEqual({});
    expect(v.lines.find((l) => l.event_id === 1)?.tag).toEqual(['exhibit-3', 'suspect']);
    expect(v.lines.filter((l) => (l.tag as string[]).length).length).toBe(1);
    // The older table layout without tags (a case read without migrating) gives every event an empty list.
    const db = new Database(copy);
    db.exec('DROP TABLE event_tags');
    const res = exportTimesketch(db, path.join(tmpDir(), 'u.jsonl'), {}, { caseNumber: 'X' });
    db.close();
    expect(readAndValidateJsonl(fs.readFileSync(res.files[0], 'utf8')).lines.every((l) => Array.isArray(l.tag) && !(l.tag as string[]).length)).toBe(true);
  });

  it.skipIf(!HAVE_REALDATA)(
    'a real backup (mvt, iOS 14.3) and the sample backup in one case pass the validation too',
    async () => {
      const mvt = path.join(REALDATA, 'mvt-backup');
      const before = treeHash(mvt);
      const c = path.join(tmpDir(), 'real.db');
      expect((await cli(['ingest', mvt, '--case', c, '-q'])).code).toBeLessThan(2);
      const add = await cli(['ingest', path.join(REPO, 'fixtures/sample-backup'), '--case', c, '--add', '-q']);
      expect(add.code, add.stderr).toBeLessThan(2);
      const out = path.join(tmpDir(), 'real.jsonl');
      expect((await cli(['export', '--case', c, '--format', 'timesketch', '--out', out])).code).toBe(0);
      const v = readAndValidateJsonl(fs.readFileSync(out, 'utf8'));
      expect(v.skipped).toEqual([]);
      expect(v.mixedTypes).toEqual({});
      // The one sms.db message of the mvt backup (README: ROWID 3, 2019-08-29T23:13:30Z), on device 1.
      const sms = v.lines.find((l) => l.data_type === 'ios:messages:message' && l.source_rowid === 3 && l.device_id === 1)!;
      expect(sms.text).toBe('Please click here https://badbadbad.example.org/');
      expect(sms.datetime).toMatch(/^2019-08-29T23:13:30\.\d+\+00:00$/);
      expect(new Set(v.lines.map((l) => l.device_id))).toEqual(new Set([1, 2]));
      expect(treeHash(mvt)).toEqual(before);
    },
    120_000,
  );

  it('the validation port rejects what Timesketch rejects', () => {
    expect(() => readAndValidateJsonl('{"message":"m","datetime":"2024-01-01T00:00:00+00:00"}\n')).toThrow(/Missing field\(s\) at line 1: timestamp_desc/);
    expect(() => readAndValidateJsonl('{"message":"m"\n')).toThrow(/Error parsing JSON at line 1/);
    const mixed = readAndValidateJsonl(
      '{"message":"a","datetime":"2024-01-01T00:00:00+00:00","timestamp_desc":"x","n":1}\n{"message":"b","datetime":"2024-01-01T00:00:00+00:00","timestamp_desc":"x","n":"1"}\n',
    );
    expect(mixed.mixedTypes).toEqual({ n: ['number', 'string'] });
    expect(readAndValidateJsonl('{"message":"a","datetime":"nonsense","timestamp_desc":"x"}\n').skipped).toEqual([1]);
  });
});

describe('the review page with two devices', () => {
  it('offers the devices and filters the timeline by one of them', async () => {
    const { ReviewApi } = await import('../src/serve/api.js');
    const db = new Database(casePath, { readonly: true });
    try {
      const api = new ReviewApi(db, 'America/New_York', 'US', () => null);
      const meta = api.meta() as { devices: { id: number; name: string }[] };
      expect(meta.devices.map((d) => [d.id, d.name])).toEqual([
        [1, a.device.deviceName],
        [2, ALEX.deviceName],
      ]);
      const perDevice = db.prepare('SELECT device_id, count(*) AS n FROM events WHERE ts_utc_us IS NOT NULL GROUP BY device_id ORDER BY device_id').all() as {
        device_id: number;
        n: number;
      }[];
      for (const { device_id, n } of perDevice) {
        let seen = 0;
        let cursor: { ts: number; id: number } | null = null;
        for (;;) {
          const page = api.events(api.parseFilter({ device: String(device_id) }), { order: 'asc', cursor, limit: 500 });
          seen += page.events.length;
          if (!page.next) break;
          const [ts, id] = page.next.split('.').map(Number);
          cursor = { ts, id };
        }
        expect(seen).toBe(n);
      }
      expect(() => api.parseFilter({ device: '9' })).toThrow(/no device "9" in this case/);
    } finally {
      db.close();
    }
  });
});
