// Issue #13: hostile backup folders. FIFOs and devices must never be opened (a read would block forever), links
// must never carry a read out of the evidence folder, and duplicate rows, odd paths, damaged MBFile records and
// unusable WAL frames must become named warnings. Every variant is built from the fixture builder in a temp
// folder; the CLI runs in a child process with a timeout, so a hang fails the test instead of blocking it.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, tmpDir, REPO } from './helpers.js';
import { fileIdFor, Backup } from '../src/backup/backup.js';
import { resolveInside } from '../src/backup/safePath.js';
import { inspectWal } from '../src/backup/wal.js';
import { makeSqlite } from '../fixtures/backupWriter.js';
import { makeFixtureEncryption } from '../fixtures/encryption.js';
import { unlockBackup } from '../src/backup/decrypt.js';

const SMS = 'Library/SMS/sms.db';
const SMS_ID = fileIdFor('HomeDomain', SMS);
const AB = 'Library/AddressBook/AddressBook.sqlitedb';
const AB_ID = fileIdFor('HomeDomain', AB);
const payload = (root: string, id: string) => path.join(root, id.slice(0, 2), id);

/** Run the built CLI; a run that outlives the timeout is a hang and fails the test. */
function run(args: string[], timeoutMs = 90_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, 'dist/src/cli/run.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'Pacific/Kiritimati' },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (r.signal || r.error) throw new Error(`ios-timeline ${args[0]} did not finish within ${timeoutMs} ms (hang?)`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Like helpers' treeHash, but never opens a FIFO or follows a link (treeHash would block on the FIFO): content
 * hash for regular files, the link text for links, the type for anything else.
 */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(p)}`;
      else if (st.isFile()) out[rel] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
      else out[rel] = `special:${st.mode.toString(8)}`;
    }
  };
  walk(root);
  return out;
}

function mkfifo(p: string): void {
  fs.rmSync(p, { force: true });
  execFileSync('mkfifo', [p]);
}

function query<T>(casePath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

interface FileRow {
  domain: string | null;
  relative_path: string;
  status: string;
  note: string | null;
  sha256: string | null;
}
interface WarningRow {
  severity: string;
  message: string;
}
const warnings = (c: string) => query<WarningRow>(c, 'SELECT severity, message FROM warnings');
const messageEvents = (c: string) => query<{ n: number }>(c, "SELECT count(*) AS n FROM events WHERE extractor = 'messages'")[0].n;
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

/** A fresh fixture with messages (sms.db + a WAL holding the newest rows). */
function smsFixture(seed = 5): string {
  return fixture({ seed, contacts: 4, calls: 6, messages: 30, messagesInWal: 4 }).root;
}

describe('resolveInside', () => {
  const root = path.join(tmpDir(), 'root');
  const outside = tmpDir('iot-outside-');
  fs.mkdirSync(path.join(root, 'ab'), { recursive: true });
  fs.writeFileSync(path.join(root, 'ab', 'file'), 'x');
  fs.writeFileSync(path.join(outside, 'secret'), 'planted');
  fs.symlinkSync(outside, path.join(root, 'out'));
  fs.symlinkSync(path.join(root, 'ab'), path.join(root, 'cd'));
  fs.symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling'));
  mkfifo(path.join(root, 'ab', 'fifo'));

  it('reads a plain file as itself', () => {
    const r = resolveInside(root, 'ab/file');
    expect(r.refused).toBeNull();
    expect(r.kind).toBe('file');
    expect(r.linkedTo).toBeNull();
    expect(fs.readFileSync(r.path!, 'utf8')).toBe('x');
  });
  it('refuses a file reached through a folder link that leaves the root, naming where it leads', () => {
    const r = resolveInside(root, 'out/secret');
    expect(r.path).toBeNull();
    expect(r.refused).toContain('leads out of the backup folder');
    expect(r.refused).toContain(fs.realpathSync(outside));
  });
  it('follows a link that stays inside, and says where it went', () => {
    const r = resolveInside(root, 'cd/file');
    expect(r.refused).toBeNull();
    expect(r.linkedTo).toBe('ab/file');
  });
  it('refuses a FIFO, a folder, a dangling link, ../ and NUL without opening anything', () => {
    expect(resolveInside(root, 'ab/fifo').refused).toMatch(/not a regular file \(fifo\)/);
    expect(resolveInside(root, 'ab').refused).toMatch(/not a regular file \(directory\)/);
    expect(resolveInside(root, 'dangling').refused).toMatch(/leads nowhere/);
    expect(resolveInside(root, '../x').refused).toMatch(/not a plain path/);
    expect(resolveInside(root, 'ab/fi\0le').refused).toMatch(/not a plain path/);
    expect(resolveInside(root, 'ab/none').kind).toBe('missing');
  });
});

describe('FIFOs and other non-regular files in the backup', () => {
  it('a FIFO as the sms.db payload: ingest finishes, the files row and a warning say "fifo", nothing written', () => {
    const root = smsFixture();
    mkfifo(payload(root, SMS_ID));
    const before = snapshot(root);
    const c = path.join(tmpDir(), 'case.db');
    const r = run(['ingest', root, '--case', c, '-q']);
    // messages cannot read its database at all: the ingest says so loudly and exits 1 (issue #13, exit codes).
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^PARTIAL INGEST: 1 extractor failed completely \(messages\)/m);
    const row = query<FileRow>(c, 'SELECT * FROM files WHERE domain = ? AND relative_path = ?', 'HomeDomain', SMS)[0];
    expect(row.status).toBe('unreadable');
    expect(row.note).toMatch(/not a regular file \(fifo\)/);
    expect(warnings(c).some((w) => w.message.includes(SMS) && w.message.includes('fifo'))).toBe(true);
    const info = run(['info', root]);
    expect(info.code).toBe(1);
    expect(info.stdout).toMatch(/! Messages.* — refused: HomeDomain\/Library\/SMS\/sms\.db: .*not a regular file \(fifo\)/);
    expect(snapshot(root)).toEqual(before);
  });

  it('a FIFO left unlisted in a shard folder is recorded with its type, not hashed', () => {
    const root = smsFixture(6);
    fs.mkdirSync(path.join(root, 'ee'), { recursive: true });
    mkfifo(path.join(root, 'ee', 'planted'));
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    const row = query<FileRow>(c, "SELECT * FROM files WHERE relative_path = 'ee/planted'")[0];
    expect(row.status).toBe('unreadable');
    expect(row.sha256).toBeNull();
    expect(row.note).toMatch(/fifo/);
    expect(warnings(c).some((w) => w.severity === 'error' && w.message.includes('ee/planted') && w.message.includes('fifo'))).toBe(true);
  });

  it('a FIFO as Info.plist: ingest and info finish; info names it and exits 1', () => {
    const root = smsFixture(7);
    mkfifo(path.join(root, 'Info.plist'));
    const before = snapshot(root);
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    expect(query<{ h: string | null }>(c, 'SELECT info_plist_sha256 AS h FROM evidence')[0].h).toBeNull();
    expect(warnings(c).some((w) => w.message.startsWith('Info.plist') && w.message.includes('fifo'))).toBe(true);
    const info = run(['info', root]);
    expect(info.code).toBe(1);
    expect(info.stdout).toMatch(/! Info\.plist: .*not a regular file \(fifo\)/);
    expect(info.stderr).toBe('ios-timeline: 1 evidence file(s) refused, not read: Info.plist\n');
    expect(snapshot(root)).toEqual(before);
  });

  it('a FIFO as Manifest.db: info and ingest stop with one line and exit 1', () => {
    const root = smsFixture(8);
    mkfifo(path.join(root, 'Manifest.db'));
    for (const args of [
      ['info', root],
      ['ingest', root, '--case', path.join(tmpDir(), 'case.db'), '-q'],
    ]) {
      const r = run(args);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/Manifest\.db.*not a regular file \(fifo\)/);
    }
  });

  it('a payload path that is a folder is "not a regular file (directory)", not "not present"', () => {
    const root = smsFixture(9);
    fs.rmSync(payload(root, AB_ID));
    fs.mkdirSync(payload(root, AB_ID));
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(1); // contacts failed: nothing to read
    const row = query<FileRow>(c, 'SELECT * FROM files WHERE domain = ? AND relative_path = ?', 'HomeDomain', AB)[0];
    expect(row.status).toBe('unreadable');
    expect(row.note).toMatch(/not a regular file \(directory\)/);
  });

  it('verify BACKUP --case: a payload replaced by a FIFO after ingest is named, exit 1, no hang', () => {
    const root = smsFixture(10);
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    expect(run(['verify', root, '--case', c, '--no-record', '-q']).code).toBe(0);
    mkfifo(payload(root, AB_ID));
    const v = run(['verify', root, '--case', c, '--no-record', '-q']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(new RegExp(`✗ ${AB_ID.slice(0, 2)}/${AB_ID}.*not a regular file \\(fifo\\)`));
    noStack(v.stderr);
    // A FIFO given as the case file is refused in one line, not opened.
    const fifoCase = path.join(tmpDir(), 'case.db');
    mkfifo(fifoCase);
    const f = run(['verify', root, '--case', fifoCase, '--no-record', '-q']);
    expect(f.code).toBe(1);
    expect(f.stderr.trim()).toBe(`ios-timeline: ${fifoCase} is not an SQLite case file`);
  });
});

describe('symbolic links', () => {
  it('a shard folder linked out of the backup: the planted sms.db is refused, the row and a warning say so', () => {
    const root = smsFixture(11);
    // Move the real 3d/ shard (holding sms.db) outside and link it back: every byte read through it would
    // come from outside the evidence folder.
    const outside = path.join(tmpDir('iot-outside-'), '3d');
    fs.renameSync(path.join(root, '3d'), outside);
    fs.symlinkSync(outside, path.join(root, '3d'));
    const before = { root: snapshot(root), outside: snapshot(outside) };
    const c = path.join(tmpDir(), 'case.db');
    // messages has nothing it may read: a failed extractor, exit 1.
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'messages']).code).toBe(1);
    expect(messageEvents(c)).toBe(0);
    const row = query<FileRow>(c, 'SELECT * FROM files WHERE domain = ? AND relative_path = ?', 'HomeDomain', SMS)[0];
    expect(row.status).toBe('unreadable');
    expect(row.sha256).toBeNull();
    expect(row.note).toMatch(/leads out of the backup folder/);
    expect(warnings(c).some((w) => w.message.includes(SMS) && w.message.includes('leads out of the backup folder'))).toBe(true);
    const info = run(['info', root]);
    expect(info.code).toBe(1);
    expect(info.stdout).toMatch(/! Messages.* — refused: HomeDomain\/Library\/SMS\/sms\.db: .*leads out of the backup folder/);
    expect(info.stderr).toBe(`ios-timeline: 1 evidence file(s) refused, not read: HomeDomain/${SMS}\n`);
    expect({ root: snapshot(root), outside: snapshot(outside) }).toEqual(before);
  });

  it('Info.plist linked out of the backup is not read and no hash of it is stored as evidence', () => {
    const root = smsFixture(12);
    const outside = path.join(tmpDir('iot-outside-'), 'Info.plist');
    fs.renameSync(path.join(root, 'Info.plist'), outside);
    fs.symlinkSync(outside, path.join(root, 'Info.plist'));
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    expect(query<{ h: string | null }>(c, 'SELECT info_plist_sha256 AS h FROM evidence')[0].h).toBeNull();
    const outsideHash = createHash('sha256').update(fs.readFileSync(outside)).digest('hex');
    expect(query<{ n: number }>(c, 'SELECT count(*) AS n FROM files WHERE sha256 = ?', outsideHash)[0].n).toBe(0);
    expect(warnings(c).some((w) => w.message.startsWith('Info.plist') && w.message.includes('leads out of the backup folder'))).toBe(true);
    const info = run(['info', root]);
    expect(info.code).toBe(1);
    expect(info.stdout).toMatch(/! Info\.plist: .*leads out of the backup folder/);
    expect(info.stderr).toBe('ios-timeline: 1 evidence file(s) refused, not read: Info.plist\n');
  });

  it('Manifest.db linked out of the backup: info and ingest stop with one line, exit 1', () => {
    const root = smsFixture(13);
    const outside = path.join(tmpDir('iot-outside-'), 'Manifest.db');
    fs.renameSync(path.join(root, 'Manifest.db'), outside);
    fs.symlinkSync(outside, path.join(root, 'Manifest.db'));
    for (const args of [
      ['info', root],
      ['ingest', root, '--case', path.join(tmpDir(), 'case.db'), '-q'],
    ]) {
      const r = run(args);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/Manifest\.db.*leads out of the backup folder/);
    }
  });

  it('verify BACKUP --case: a payload swapped for a link out of the backup is named, exit 1', () => {
    const root = smsFixture(14);
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    const outside = path.join(tmpDir('iot-outside-'), 'ab');
    fs.renameSync(payload(root, AB_ID), outside);
    fs.symlinkSync(outside, payload(root, AB_ID));
    const v = run(['verify', root, '--case', c, '--no-record', '-q']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/leads out of the backup folder/);
  });

  it('a link that stays inside the backup is followed and recorded as followed; verify accepts it', () => {
    const root = smsFixture(15);
    const content = fs.readFileSync(payload(root, AB_ID));
    fs.mkdirSync(path.join(root, 'zz'));
    fs.renameSync(payload(root, AB_ID), path.join(root, 'zz', 'ab-copy'));
    fs.symlinkSync(path.join('..', 'zz', 'ab-copy'), payload(root, AB_ID));
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    const row = query<FileRow>(c, 'SELECT * FROM files WHERE domain = ? AND relative_path = ?', 'HomeDomain', AB)[0];
    expect(row.status).toBe('ok');
    expect(row.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(row.note).toContain(`symbolic link inside the backup folder followed: ${AB_ID.slice(0, 2)}/${AB_ID} → zz/ab-copy`);
    expect(query<{ n: number }>(c, "SELECT count(*) AS n FROM events WHERE extractor = 'contacts'")[0].n).toBeGreaterThan(0);
    const v = run(['verify', root, '--case', c, '--no-record', '-q']);
    expect(v.code, v.stdout).toBe(0);
  });
});

describe('quiet data loss in Manifest.db', () => {
  /** Add a second Files row for (HomeDomain, sms.db) whose fileID has no payload. */
  function addDuplicate(root: string, first: boolean): string {
    const bogus = createHash('sha1').update('not the real sms.db').digest('hex');
    const db = new Database(path.join(root, 'Manifest.db'));
    try {
      const real = db.prepare('SELECT * FROM Files WHERE fileID = ?').get(SMS_ID) as Record<string, unknown>;
      if (first) {
        // Put the bogus row first in rowid order: re-insert the real one after it.
        db.prepare('DELETE FROM Files WHERE fileID = ?').run(SMS_ID);
        db.prepare('INSERT INTO Files VALUES (?,?,?,?,?)').run(bogus, real.domain, real.relativePath, real.flags, real.file);
        db.prepare('INSERT INTO Files VALUES (?,?,?,?,?)').run(SMS_ID, real.domain, real.relativePath, real.flags, real.file);
      } else db.prepare('INSERT INTO Files VALUES (?,?,?,?,?)').run(bogus, real.domain, real.relativePath, real.flags, real.file);
    } finally {
      db.close();
    }
    return bogus;
  }

  it('duplicate rows for sms.db: the one with a payload is read, whichever comes last; the warning names both fileIDs', async () => {
    for (const first of [false, true]) {
      const root = smsFixture(16);
      const bogus = addDuplicate(root, first);
      const b = await Backup.open(root);
      try {
        expect(b.get('HomeDomain', SMS)!.fileID).toBe(SMS_ID);
        expect(b.find('HomeDomain', 'Library/SMS/*.db').map((e) => e.fileID)).toEqual([SMS_ID]);
        expect(b.problems.some((p) => p.message.includes(SMS_ID) && p.message.includes(bogus))).toBe(true);
      } finally {
        b.close();
      }
    }
    // Both rows with a payload: the one whose fileID is the path's SHA-1 is read; the other payload is still
    // evidence, hashed and recorded under its disk path with a note.
    const root = smsFixture(17);
    const bogus = addDuplicate(root, false);
    fs.mkdirSync(path.join(root, bogus.slice(0, 2)), { recursive: true });
    fs.writeFileSync(payload(root, bogus), 'not an sqlite database');
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'messages']).code).toBe(0);
    expect(messageEvents(c)).toBeGreaterThan(0);
    expect(warnings(c).some((w) => w.message.includes(SMS_ID) && w.message.includes(bogus) && w.message.includes(`using ${SMS_ID}`))).toBe(true);
    const dropped = query<FileRow>(c, 'SELECT * FROM files WHERE relative_path = ?', `${bogus.slice(0, 2)}/${bogus}`)[0];
    expect(dropped.sha256).toBe(createHash('sha256').update('not an sqlite database').digest('hex'));
    expect(dropped.note).toContain(`duplicate Manifest.db row for HomeDomain/${SMS}`);
    const v = run(['verify', root, '--case', c, '--no-record', '-q']);
    expect(v.code, v.stdout).toBe(0);
  });

  it('"../", NUL and undecodable MBFile records are named in warnings', () => {
    const root = smsFixture(18);
    const db = new Database(path.join(root, 'Manifest.db'));
    try {
      const ins = db.prepare('INSERT INTO Files VALUES (?,?,?,?,?)');
      ins.run(fileIdFor('HomeDomain', '../../etc/passwd'), 'HomeDomain', '../../etc/passwd', 1, null);
      ins.run(fileIdFor('HomeDomain', 'a\0b'), 'HomeDomain', 'a\0b', 1, null);
      db.prepare('UPDATE Files SET file = ? WHERE fileID = ?').run(Buffer.from('bplist00 garbage'), AB_ID);
    } finally {
      db.close();
    }
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'contacts']).code).toBe(0);
    const w = warnings(c);
    expect(w.some((x) => x.message.includes('../../etc/passwd') && x.message.includes('"../"'))).toBe(true);
    expect(w.some((x) => x.message.includes('a\\u0000b') && x.message.includes('NUL'))).toBe(true);
    expect(w.some((x) => x.severity === 'warning' && x.message.includes(AB) && x.message.includes('MBFile record'))).toBe(true);
  });
});

describe('WAL frames SQLite would drop', () => {
  /** A WAL whose N single-row transactions each write exactly one frame (one small table page), all commits. */
  function walOf(n: number): { dir: string; db: Buffer; wal: Buffer } {
    const dir = tmpDir();
    const files = makeSqlite(
      dir,
      't.db',
      (db) => db.exec('CREATE TABLE t (x INTEGER)'),
      (db) => {
        for (let i = 0; i < n; i++) db.prepare('INSERT INTO t VALUES (?)').run(i);
      },
    );
    return { dir, db: files.db, wal: files.wal! };
  }
  /** Rows SQLite itself sees in db + wal (on a scratch copy). */
  function rowsSqliteSees(db: Buffer, wal: Buffer): number {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'x.db'), db);
    fs.writeFileSync(path.join(dir, 'x.db-wal'), wal);
    const d = new Database(path.join(dir, 'x.db'), { readonly: true });
    try {
      return Number((d.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);
    } finally {
      d.close();
    }
  }

  it('counts usable frames exactly as SQLite replays them when a frame salt is broken', () => {
    const { dir, db, wal } = walOf(6);
    const pageSize = wal.readUInt32BE(8);
    const frames = (wal.length - 32) / (24 + pageSize);
    expect(frames).toBe(6); // one frame per transaction, as built
    const p = path.join(dir, 'w');
    fs.writeFileSync(p, wal);
    expect(inspectWal(p)).toMatchObject({ frames: 6, usable: 6, unusable: 0, problem: null });
    expect(rowsSqliteSees(db, wal)).toBe(6);
    const broken = Buffer.from(wal);
    const k = 3; // break frame 3's salt-1: SQLite stops there and keeps frames 0..2
    broken.writeUInt32BE((broken.readUInt32BE(32 + k * (24 + pageSize) + 8) + 1) >>> 0, 32 + k * (24 + pageSize) + 8);
    fs.writeFileSync(p, broken);
    const c = inspectWal(p);
    expect(rowsSqliteSees(db, broken)).toBe(k);
    expect(c).toMatchObject({ frames: 6, usable: k, unusable: 6 - k, saltMatches: 5 });
    expect(c.problem).toMatch(/3 of 6 WAL frame\(s\) are unusable/);
  });

  it('a garbage sms.db-wal: ingest warns (severity warning) that its frames are unusable', () => {
    const root = smsFixture(19);
    const walPath = payload(root, fileIdFor('HomeDomain', `${SMS}-wal`));
    const size = fs.statSync(walPath).size;
    const frames = (size - 32) / (24 + fs.readFileSync(walPath).readUInt32BE(8)); // from the intact header, before ruining it
    expect(Number.isInteger(frames) && frames > 0).toBe(true);
    fs.writeFileSync(walPath, Buffer.alloc(size, 0x5a));
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'messages']).code).toBe(0);
    const w = warnings(c).filter((x) => x.message.includes(`${SMS}-wal`) && /unusable/.test(x.message));
    expect(w.length).toBeGreaterThan(0);
    expect(w[0].severity).toBe('warning');
    expect(w[0].message).toContain(`not a WAL file (magic 0x5a5a5a5a): all ${frames} frame(s) (${size} bytes) are unusable`);
  });

  it('an intact sms.db-wal raises no WAL warning', () => {
    const root = smsFixture(20);
    const c = path.join(tmpDir(), 'case.db');
    expect(run(['ingest', root, '--case', c, '-q', '--only', 'messages']).code).toBe(0);
    expect(warnings(c).filter((x) => x.message.includes('WAL frame'))).toEqual([]);
  });

  it('an encrypted backup: the WAL is checked after decryption, and the read says how many frames are lost', async () => {
    const PW = 'hardening';
    const enc = await makeFixtureEncryption({ password: PW, iter: 10, dpic: 10 });
    const { db, wal } = walOf(4);
    const pageSize = wal.readUInt32BE(8);
    const broken = Buffer.from(wal);
    broken.writeUInt32BE((broken.readUInt32BE(32 + 1 * (24 + pageSize) + 12) + 1) >>> 0, 32 + 1 * (24 + pageSize) + 12); // frame 1's salt-2
    const root = fixture({
      seed: 22,
      contacts: 2,
      calls: 2,
      encryption: enc,
      extend: (w) => {
        w.addDatabase('HomeDomain', 'Library/Good/g.db', { db, wal });
        w.addDatabase('HomeDomain', 'Library/Bad/b.db', { db, wal: broken });
      },
    }).root;
    const b = await Backup.open(root, { unlock: (p) => unlockBackup(p, { password: PW }) });
    try {
      const good = await b.read(b.get('HomeDomain', 'Library/Good/g.db-wal')!);
      expect(good.status).toBe('ok');
      expect(good.wal).toMatchObject({ frames: 4, usable: 4, problem: null });
      const bad = await b.read(b.get('HomeDomain', 'Library/Bad/b.db-wal')!);
      expect(bad.wal).toMatchObject({ frames: 4, usable: 1, unusable: 3 });
      expect(bad.note).toMatch(/3 of 4 WAL frame\(s\) are unusable/);
    } finally {
      b.close();
    }
  });
});
