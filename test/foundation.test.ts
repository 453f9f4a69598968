// Foundation: backup reader, case file, contacts and calls, exports, CLI behaviour, evidence untouched.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, cliProcess, fixture, tmpDir, treeHash, checkBackup, REALDATA, HAVE_REALDATA, wrapRealFiles } from './helpers.js';
import { withSiblings } from '../fixtures/wrapReal.js';
import { MAC_EPOCH_MS } from '../fixtures/random.js';
import { csvCell } from '../src/report/exports.js';
import { verifyCustodyChain } from '../src/timeline/custodyLog.js';

function open(db: string) {
  return new Database(db, { readonly: true });
}

async function ingestOk(backup: string, extra: string[] = []) {
  const caseFile = path.join(tmpDir(), 'case.db');
  const r = await cli(['ingest', backup, '--case', caseFile, '--tz', 'Europe/Berlin', '-q', ...extra]);
  expect(r.stderr).not.toMatch(/\n\s+at /); // never a stack trace
  expect(r.code, r.stderr).toBe(0);
  return caseFile;
}

/** An ingest where these extractors failed completely: the case is written, the exit status is 1 (issue #13). */
async function ingestPartial(backup: string, failed: string[]) {
  const caseFile = path.join(tmpDir(), 'case.db');
  const r = await cli(['ingest', backup, '--case', caseFile, '--tz', 'Europe/Berlin', '-q']);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(new RegExp(`^PARTIAL INGEST: ${failed.length} extractors? failed completely \\(${failed.join(', ')}\\)`, 'm'));
  expect(r.code, r.stderr).toBe(1);
  expect(fs.existsSync(caseFile)).toBe(true);
  return caseFile;
}

describe('fixture builder', () => {
  for (const variant of ['ios13', 'ios14', 'ios17'] as const) {
    it(`writes a backup the independent validator accepts (${variant})`, () => {
      const t = fixture({ variant, calls: 20, contacts: 8 });
      const v = checkBackup(t.root);
      expect(v.output).toMatch(/checks passed/);
      expect(v.ok, v.output).toBe(true);
    });
  }
});

describe('ingest of a fixture backup', async () => {
  const t = fixture({ seed: 11, calls: 60, callsInWal: 3, contacts: 15, strangers: 4 });
  const before = treeHash(t.root);
  const caseFile = await ingestOk(t.root);
  const db = open(caseFile);

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(t.root)).toEqual(before);
    expect(db.prepare('SELECT listing_unchanged FROM evidence').get()).toEqual({ listing_unchanged: 1 });
  });

  it('turns every ZCALLRECORD row into one event, WAL-only rows included', () => {
    const rows = db.prepare("SELECT * FROM events WHERE kind = 'call' ORDER BY source_rowid").all() as Record<string, unknown>[];
    expect(rows.map((r) => r.source_rowid)).toEqual(t.calls.map((c) => c.pk));
    for (const [i, c] of t.calls.entries()) {
      const r = rows[i];
      expect(r.source_table).toBe('ZCALLRECORD');
      expect(r.ts_utc_us).toBe(Math.round(c.macDate * 1e6) + MAC_EPOCH_MS * 1000);
      expect(r.ts_epoch).toBe('mac-s');
      expect(Number(r.ts_raw)).toBeCloseTo(c.macDate, 5);
      expect(r.direction).toBe(c.originated ? 'outgoing' : 'incoming');
      expect(r.action).toBe(c.originated ? 'placed' : c.answered ? 'received' : 'missed');
      expect(r.counterpart).toBe(c.address);
      expect(r.counterpart_name).toBe(t.nameByNumber.get(c.address) ?? null);
      expect(r.duration_s).toBeCloseTo(c.duration, 6);
      expect(r.service).toBe({ 0: 'Third-party app', 1: 'Phone', 8: 'FaceTime Video', 16: 'FaceTime Audio' }[c.type]);
    }
    expect(t.calls.filter((c) => c.inWal)).toHaveLength(3);
  });

  it('reads contacts with normalised numbers and their creation events', () => {
    const contacts = db.prepare('SELECT * FROM contacts ORDER BY source_rowid').all() as Record<string, unknown>[];
    expect(contacts.map((c) => c.display_name)).toEqual(t.contacts.map((c) => c.displayName));
    const handles = db.prepare("SELECT normalized FROM contact_handles WHERE kind = 'phone'").all() as { normalized: string }[];
    for (const h of handles) expect(h.normalized).toMatch(/^\+1\d{10}$/);
    const created = db.prepare("SELECT count(*) AS n FROM events WHERE kind = 'contact' AND action = 'created'").get() as { n: number };
    expect(created.n).toBe(t.contacts.length);
  });

  it('records provenance: every event names its evidence file, table and row', () => {
    const orphans = db.prepare('SELECT count(*) AS n FROM events WHERE source_file_id IS NULL OR source_table IS NULL OR source_rowid IS NULL').get() as { n: number };
    expect(orphans.n).toBe(0);
    const f = db.prepare("SELECT * FROM files WHERE relative_path = 'Library/CallHistoryDB/CallHistory.storedata-wal'").get() as Record<string, unknown>;
    expect(f.status).toBe('ok');
    expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    const payload = path.join(t.root, String(f.file_id).slice(0, 2), String(f.file_id));
    expect(f.size).toBe(fs.statSync(payload).size);
  });

  it('writes the metadata, evidence row and an intact custody chain', () => {
    const meta = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    expect(meta.time_zone).toBe('Europe/Berlin');
    expect(Number(meta.schema_version)).toBeGreaterThanOrEqual(1);
    const ev = db.prepare('SELECT * FROM evidence').get() as Record<string, unknown>;
    expect(ev.ios_version).toBe(t.device.productVersion);
    expect(ev.encrypted).toBe(0);
    expect(ev.backup_date).toBe('2024-03-15T18:30:00.000Z');
    const chain = verifyCustodyChain(db);
    expect(chain.rows).toBeGreaterThanOrEqual(1);
    expect(chain.problems).toEqual([]);
  });

  it('exports Timesketch JSONL with the contract fields', async () => {
    const out = path.join(tmpDir(), 'x.jsonl');
    const r = await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--kinds', 'call']);
    expect(r.code, r.stderr).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(t.calls.length);
    const first = [...t.calls].sort((a, b) => a.macDate - b.macDate)[0];
    expect(lines[0].timestamp).toBe(Math.round(first.macDate * 1e6) + MAC_EPOCH_MS * 1000);
    expect(lines[0].datetime).toBe(new Date(Math.floor(lines[0].timestamp / 1000)).toISOString().replace('Z', '').slice(0, 23) + lines[0].datetime.slice(23));
    for (const k of [
      'datetime',
      'timestamp',
      'timestamp_desc',
      'message',
      'kind',
      'action',
      'text',
      'direction',
      'counterpart',
      'counterpart_name',
      'service',
      'duration_s',
      'latitude',
      'longitude',
      'source_domain',
      'source_path',
      'source_table',
      'source_rowid',
      'source_sha256',
    ]) {
      expect(lines[0]).toHaveProperty(k);
    }
    expect(lines[0].source_path).toMatch(/^Library\/CallHistoryDB\/CallHistory\.storedata/);
    expect(lines[0].timestamp_desc).toMatch(/^Call (Started|Missed)$/);
    expect(lines[0].datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,6}Z$/);
  });

  it('filters exports by time, contact and kind', async () => {
    const out = path.join(tmpDir(), 'x.jsonl');
    const someone = t.calls.find((c) => t.nameByNumber.has(c.address))!;
    const name = t.nameByNumber.get(someone.address)!;
    expect((await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--contact', name, '--kinds', 'call'])).code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(t.calls.filter((c) => t.nameByNumber.get(c.address) === name).length);
    const bad = await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', `${out}.2`, '--from', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot read "yesterday-ish"/);
  });

  it('a misspelt filter, an inverted range, a bare command and an existing --out are errors, never surprises', async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: ios-timeline/);
    const out = path.join(tmpDir(), 'x.jsonl');
    const kinds = await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--kinds', 'messages']);
    expect(kinds.code).toBe(2);
    expect(kinds.stderr).toMatch(/unknown kind "messages" \(kinds: .*\bmessage\b.*\)/);
    const inverted = await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--from', '2024-03-10', '--to', '2024-03-01']);
    expect(inverted.code).toBe(2);
    expect(inverted.stderr).toMatch(/--from 2024-03-10 is after --to 2024-03-01/);
    expect(fs.existsSync(out)).toBe(false);
    expect((await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out])).code).toBe(0);
    const first = fs.readFileSync(out);
    const again = await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--kinds', 'call']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; choose another name, or add --force/);
    expect(fs.readFileSync(out)).toEqual(first); // not overwritten
    expect((await cli(['export', '--case', caseFile, '--format', 'jsonl', '--out', out, '--kinds', 'call', '--force'])).code).toBe(0);
    expect(
      fs
        .readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).kind === 'call'),
    ).toBe(true);
  });

  it('exports CSV that a spreadsheet cannot run as formulas', async () => {
    const out = path.join(tmpDir(), 'x.csv');
    expect((await cli(['export', '--case', caseFile, '--format', 'csv', '--out', out])).code).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.split('\r\n')[0]).toMatch(/^\ufeffdatetime,timestamp,timestamp_desc,message/);
    expect(text.split('\r\n').length - 2).toBe((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1 919 555 0100')).toBe("'+1 919 555 0100");
    expect(csvCell('+14015069680')).toBe('+14015069680'); // an E.164 number alone is data: scripts get the number intact
    expect(csvCell('+1-1')).toBe("'+1-1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell(-3.5)).toBe('-3.5');
    // No cell in the file starts with a formula trigger, except bare E.164 numbers; the counterparts are among them.
    const cells = text
      .split('\r\n')
      .slice(1)
      .flatMap((line) => line.split(','));
    for (const cell of cells) if (!/^\+[1-9]\d{6,14}$/.test(cell)) expect(cell).not.toMatch(/^[=+@]/);
    expect(cells.some((c) => t.nameByNumber.has(c))).toBe(true);
  });
});

describe('CLI behaviour', () => {
  const t = fixture({ calls: 5, contacts: 3 });

  it('info describes the backup without writing anything', async () => {
    const before = treeHash(t.root);
    const r = await cli(['info', t.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.encrypted).toBe(false);
    expect(j.device.productVersion).toBe(t.device.productVersion);
    expect(j.artifacts.find((a: { id: string }) => a.id === 'calls').present).toHaveLength(1);
    expect(treeHash(t.root)).toEqual(before);
  });

  it('exits 2 on usage errors with one clear line', async () => {
    expect((await cli(['ingest', t.root])).code).toBe(2); // --case missing
    const r = await cli(['ingest', t.root, '--case', path.join(tmpDir(), 'c.db'), '--tz', 'Mars/Olympus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown time zone "Mars\/Olympus"/);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['--help'])).code).toBe(0);
  });

  it('notes a password given for a backup that is not encrypted, and never stores it', async () => {
    const c = path.join(tmpDir(), 'c.db');
    const r = await cli(['ingest', t.root, '--case', c, '-q', '--password', 'hunter2-not-needed']);
    expect(r.code, r.stderr).toBe(0);
    const db = open(c);
    const w = (db.prepare("SELECT message FROM warnings WHERE extractor = 'backup'").all() as { message: string }[]).map((x) => x.message);
    expect(w).toContain('Manifest.plist: a password or key file was given, but this backup is not encrypted: it was not used');
    db.close();
    expect(fs.readFileSync(c).includes(Buffer.from('hunter2-not-needed'))).toBe(false);
  });

  it('refuses to overwrite an existing case file', async () => {
    const c = path.join(tmpDir(), 'c.db');
    fs.writeFileSync(c, 'precious');
    const r = await cli(['ingest', t.root, '--case', c]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already exists/);
    expect(fs.readFileSync(c, 'utf8')).toBe('precious');
  });
});

describe('bad input', () => {
  // The real binary: a crash or a stack trace would show here as it would to a user.
  const fail = (args: string[], message: RegExp) => {
    const r = cliProcess(args);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  };

  it('rejects what is not a backup, with one line and no case file', () => {
    const dir = tmpDir();
    const c = path.join(tmpDir(), 'c.db');
    fail(['ingest', dir, '--case', c], /not an iPhone backup/);
    fail(['ingest', path.join(dir, 'nope'), '--case', c], /does not exist/);
    fs.writeFileSync(path.join(dir, 'file.txt'), 'x');
    fail(['info', path.join(dir, 'file.txt')], /is not a folder/);
    expect(fs.existsSync(c)).toBe(false);
    expect(fs.existsSync(`${c}.partial`)).toBe(false);
  });

  it('names a truncated, garbage or missing Manifest.db', () => {
    const t = fixture({ calls: 3, contacts: 2 });
    const m = path.join(t.root, 'Manifest.db');
    const bytes = fs.readFileSync(m);
    fs.writeFileSync(m, bytes.subarray(0, 2000));
    fail(['info', t.root], /Manifest\.db/);
    fs.writeFileSync(m, Buffer.from('this is not a database at all'));
    fail(['info', t.root], /Manifest\.db is not an SQLite database/);
    fs.writeFileSync(m, Buffer.alloc(0));
    fail(['info', t.root], /Manifest\.db is empty/);
    fs.rmSync(m);
    fs.rmSync(path.join(t.root, 'Manifest.plist'));
    fs.rmSync(path.join(t.root, 'Info.plist'));
    fs.rmSync(path.join(t.root, 'Status.plist'));
    fail(['info', t.root], /not an iPhone backup/);
  });

  it('records a truncated or garbage plist as a warning and goes on', async () => {
    const t = fixture({ calls: 4, contacts: 2 });
    const info = path.join(t.root, 'Info.plist');
    fs.writeFileSync(info, fs.readFileSync(info).subarray(0, 300));
    fs.writeFileSync(path.join(t.root, 'Status.plist'), Buffer.from('bplist00garbage'));
    const r = await cli(['info', t.root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Info\.plist: Info\.plist is a damaged XML plist/);
    expect(r.stdout).toMatch(/Status\.plist: Status\.plist is a damaged binary plist/);
    const c = await ingestOk(t.root);
    const db = open(c);
    expect((db.prepare("SELECT count(*) AS n FROM events WHERE kind='call'").get() as { n: number }).n).toBe(4);
    const w = db.prepare("SELECT message FROM warnings WHERE extractor = 'backup'").all() as { message: string }[];
    expect(w.map((x) => x.message).join('\n')).toMatch(/Info\.plist is a damaged XML plist/);
  });

  it('keeps going when one artifact is missing, not SQLite, or of an unknown schema', async () => {
    const t = fixture({ calls: 6, contacts: 3 });
    const fileId = (rel: string) => {
      const db = new Database(path.join(t.root, 'Manifest.db'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT fileID FROM Files WHERE relativePath = ?').get(rel) as { fileID: string }).fileID;
      } finally {
        db.close();
      }
    };
    // The manifest is opened read-only above only on this disposable copy; the real reader never does that.
    const ab = fileId('Library/AddressBook/AddressBook.sqlitedb');
    fs.writeFileSync(path.join(t.root, ab.slice(0, 2), ab), Buffer.from('<html>not a database</html>'));
    const c = await ingestPartial(t.root, ['contacts']);
    const db = open(c);
    const runs = Object.fromEntries(
      (db.prepare('SELECT extractor, status, message FROM extractor_runs').all() as { extractor: string; status: string; message: string }[]).map((r) => [r.extractor, r]),
    );
    expect(runs.contacts.status).toBe('failed');
    expect(runs.contacts.message).toMatch(/AddressBook\.sqlitedb is not an SQLite database/);
    expect(runs.calls.status).toBe('ok');
    expect((db.prepare("SELECT count(*) AS n FROM events WHERE kind='call'").get() as { n: number }).n).toBe(6);
    expect((db.prepare("SELECT status FROM files WHERE relative_path = 'Library/AddressBook/AddressBook.sqlitedb'").get() as { status: string }).status).toBe('not-sqlite');

    // Now remove the call history payload: listed but missing.
    const ch = fileId('Library/CallHistoryDB/CallHistory.storedata');
    fs.rmSync(path.join(t.root, ch.slice(0, 2), ch));
    const c2 = await ingestPartial(t.root, ['contacts', 'calls', 'call-participants']);
    const db2 = open(c2);
    const w = (db2.prepare("SELECT message FROM warnings WHERE extractor = 'calls'").all() as { message: string }[]).map((x) => x.message).join('\n');
    expect(w).toMatch(/CallHistory\.storedata: missing \(listed in Manifest\.db but not present/);
    expect((db2.prepare("SELECT status FROM files WHERE relative_path = 'Library/CallHistoryDB/CallHistory.storedata'").get() as { status: string }).status).toBe('missing');
  });

  it('reports an unknown schema clearly', async () => {
    const t = fixture({
      calls: 2,
      contacts: 2,
      extend: (w) => {
        // A CallHistoryTemp.storedata that is SQLite but holds no ZCALLRECORD table.
        const dir = tmpDir();
        const p = path.join(dir, 'x.db');
        const d = new Database(p);
        d.exec('CREATE TABLE something_else (a)');
        d.close();
        w.addFile('HomeDomain', 'Library/CallHistoryDB/CallHistoryTemp.storedata', fs.readFileSync(p));
      },
    });
    const db = open(await ingestPartial(t.root, ['calls', 'call-participants']));
    const run = db.prepare("SELECT status, message FROM extractor_runs WHERE extractor = 'calls'").get() as { status: string; message: string };
    expect(run.status).toBe('failed');
    expect(run.message).toMatch(/CallHistoryTemp\.storedata has no ZCALLRECORD table/);
    // The main call history was read before the failure and its events are kept.
    expect((db.prepare("SELECT count(*) AS n FROM events WHERE kind='call'").get() as { n: number }).n).toBe(2);
  });

  it('refuses a hostile fileID instead of building a path from it', async () => {
    const t = fixture({ calls: 2, contacts: 2 });
    const m = path.join(t.root, 'Manifest.db');
    const d = new Database(m);
    d.prepare("UPDATE Files SET fileID = '../../../../etc/passwd' WHERE relativePath = 'Library/CallHistoryDB/CallHistory.storedata'").run();
    d.close();
    const db = open(await ingestPartial(t.root, ['calls', 'call-participants']));
    const w = (db.prepare('SELECT message FROM warnings').all() as { message: string }[]).map((x) => x.message).join('\n');
    expect(w).toMatch(/invalid fileID/);
    expect((db.prepare("SELECT count(*) AS n FROM events WHERE kind='contact'").get() as { n: number }).n).toBeGreaterThan(0);
  });
});

describe.skipIf(!HAVE_REALDATA)('real data', () => {
  it('reads the mvt backup layout (3,721 Files rows)', async () => {
    const root = path.join(REALDATA, 'mvt-backup');
    const before = treeHash(root);
    const r = await cli(['info', root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.manifest).toMatchObject({ entries: 3721, file: 1089, directory: 2618, symlink: 14 });
    expect(j.device).toMatchObject({ productVersion: '14.3', buildVersion: '18C66', imei: '42', productType: 'iPhone9,3' });
    // Its payloads are not in the folder: every extractor whose database is listed but absent fails, and
    // only those. The PARTIAL line names exactly the failed runs, and each failed because its file is missing.
    const caseFile = path.join(tmpDir(), 'case.db');
    const ing = await cli(['ingest', root, '--case', caseFile, '-q']);
    expect(ing.code, ing.stderr).toBe(1);
    const db = open(caseFile);
    const failed = db.prepare("SELECT extractor, message FROM extractor_runs WHERE status = 'failed' ORDER BY id").all() as { extractor: string; message: string }[];
    expect(failed.map((f) => f.extractor)).toEqual(expect.arrayContaining(['contacts', 'calls', 'locationd', 'photos']));
    for (const f of failed) expect(f.message, f.extractor).toMatch(/: missing/);
    expect(ing.stderr).toMatch(new RegExp(`^PARTIAL INGEST: ${failed.length} extractors failed completely \\(${failed.map((f) => f.extractor).join(', ')}\\)`, 'm'));
    const files = db.prepare("SELECT status FROM files WHERE relative_path = 'Library/CallHistoryDB/CallHistory.storedata'").get() as { status: string };
    expect(files.status).toBe('missing');
    expect(treeHash(root)).toEqual(before);
  });

  it('gets all 25 hickman iOS 14.3 calls (2 only in the WAL) with exact UTC times', async () => {
    const root = path.join(tmpDir(), 'backup');
    wrapRealFiles(root, [
      ...withSiblings('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', path.join(REALDATA, 'hickman-ios14/calls/CallHistory.storedata')),
      ...withSiblings('HomeDomain', 'Library/AddressBook/AddressBook.sqlitedb', path.join(REALDATA, 'hickman-ios14/contacts/AddressBook.sqlitedb')),
    ]);
    const db = open(await ingestOk(root));
    const calls = db.prepare("SELECT * FROM events WHERE kind='call' AND recovered = 0 ORDER BY source_rowid").all() as Record<string, number & string>[];
    expect(calls).toHaveLength(25);
    expect(calls.map((c) => c.source_rowid)).toContain(84);
    expect(calls.map((c) => c.source_rowid)).toContain(85);
    const byPk = new Map(calls.map((c) => [c.source_rowid, c]));
    expect(new Date(byPk.get(6)!.ts_utc_us / 1000).toISOString()).toBe('2020-12-18T17:39:01.286Z');
    expect(byPk.get(6)!.ts_utc_us).toBe(1608313141286573);
    expect(byPk.get(84)!.ts_utc_us).toBe(1613671178070888);
    expect(byPk.get(85)!.ts_utc_us).toBe(1613752612062927);
    expect(byPk.get(85)).toMatchObject({ counterpart: '9192853680', direction: 'outgoing', action: 'placed' });
    expect(calls.reduce((s, c) => s + c.duration_s, 0)).toBeCloseTo(1275.791, 2);
    const byService = (s: string) => calls.filter((c) => c.service === s).length;
    expect([byService('Phone'), byService('FaceTime Video'), byService('FaceTime Audio')]).toEqual([20, 2, 3]);
    expect(calls.filter((c) => c.direction === 'outgoing')).toHaveLength(7);
    expect(calls.filter((c) => c.action === 'received')).toHaveLength(5);
    // The number is in the address book twice (persons 2 and 3, both "This Is DFIR Two"): resolved, not guessed.
    expect(byPk.get(65)!.counterpart_name).toBe('This Is DFIR Two');
    expect(byPk.get(66)!.counterpart_name).toBe('This Is DFIR Two');
    const contacts = db.prepare('SELECT display_name FROM contacts ORDER BY source_rowid').all() as { display_name: string }[];
    expect(contacts.map((c) => c.display_name)).toEqual(['This Is DFIR', 'This Is DFIR Two', 'This Is DFIR Two', 'Josh Hickman']);
    const created = db.prepare("SELECT ts_utc_us FROM events WHERE kind='contact' AND action='created' AND source_rowid = 1").get() as { ts_utc_us: number };
    expect(new Date(created.ts_utc_us / 1000).toISOString()).toBe('2021-01-17T19:29:05.000Z');
  });
});

describe('bundled sample backup', () => {
  it('passes the independent validator', () => {
    const v = checkBackup(path.resolve(__dirname, '../fixtures/sample-backup'));
    expect(v.ok, v.output).toBe(true);
  });
});
