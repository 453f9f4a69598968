// Hostile archives: `..` and absolute member names, links pointing outside, duplicate names, a zip bomb, a gzip
// bomb, truncated archives. Each gets a named warning or a one-line error; nothing is written outside the work
// folder; the archive is byte-identical afterwards; nothing hangs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import { ArchiveSource } from '../src/sources/archive.js';
import { listingHash } from '../src/custody/listing.js';
import { writeTar, writeZip, type TarMember } from '../fixtures/fileSystemWriter.js';
import { cli, tmpDir, treeHash } from './helpers.js';

const SMS = 'fs/private/var/mobile/Library/SMS/sms.db';

/** A tiny real SQLite database to stand for sms.db. */
function smallDb(marker: string): Buffer {
  const p = path.join(tmpDir(), 'x.db');
  const db = new Database(p);
  db.exec(`CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${marker}')`);
  db.close();
  return fs.readFileSync(p);
}

/** Everything under the temp folder's parent that a traversal could reach: must not gain `evil.txt`. */
function evilAnywhere(dir: string): string[] {
  const found: string[] = [];
  for (const d of [dir, path.dirname(dir), os.tmpdir()]) {
    for (const name of fs.readdirSync(d)) if (name === 'evil.txt' || name === 'passwd-copy') found.push(path.join(d, name));
  }
  return found;
}

const hostileMembers = (first: Buffer, second: Buffer): TarMember[] => [
  { name: 'fs/private/var/mobile/', type: 'directory' },
  { name: SMS, data: first },
  { name: '../evil.txt', data: Buffer.from('escaped') },
  { name: 'fs/../../evil.txt', data: Buffer.from('escaped') },
  { name: '/fs/private/var/mobile/Library/abs.txt', data: Buffer.from('absolute') },
  { name: 'fs/private/var/mobile/Library/passwd', type: 'symlink', linkname: '/etc/passwd' },
  { name: 'fs/private/var/mobile/Library/up', type: 'symlink', linkname: '../../../../../../etc' },
  { name: SMS, data: second },
];

describe('hostile tar and zip members', () => {
  for (const kind of ['tar', 'zip'] as const) {
    it(`${kind}: "..", absolute names, outward links and duplicate names are named; the later duplicate is read; nothing escapes`, async () => {
      const dir = tmpDir();
      const ev = path.join(dir, 'evidence');
      fs.mkdirSync(ev);
      const file = path.join(ev, `hostile.${kind}`);
      const first = smallDb('first');
      const second = smallDb('second');
      if (kind === 'tar') await writeTar(file, hostileMembers(first, second));
      else
        writeZip(
          file,
          hostileMembers(first, second).map((m) =>
            m.type === 'symlink' ? { name: m.name, symlink: m.linkname } : m.type === 'directory' ? { name: m.name } : { name: m.name, data: m.data },
          ),
        );
      const before = treeHash(ev);
      const src = await ArchiveSource.open(file, { want: [{ domain: 'HomeDomain', path: 'Library/SMS/sms.db' }] });
      try {
        const msgs = src.problems.map((p) => `${p.file}: ${p.message}`);
        expect(msgs.filter((m) => m.includes('climbs out with ".."'))).toHaveLength(2);
        expect(msgs.some((m) => m.includes('"/etc/passwd" points outside the archive'))).toBe(true);
        expect(msgs.some((m) => m.includes('"../../../../../../etc" points outside the archive'))).toBe(true);
        expect(msgs.some((m) => m.startsWith(`${SMS}: appears twice in the archive`))).toBe(true);
        // The absolute name is read as relative, under the same tree.
        expect(src.get('HomeDomain', 'Library/abs.txt')).toBeDefined();
        // The later copy is the one read, and its bytes are those hashed in the index pass.
        const e = src.get('HomeDomain', 'Library/SMS/sms.db')!;
        const r = await src.read(e);
        expect(r.status).toBe('ok');
        expect(fs.readFileSync(r.path!).equals(second)).toBe(true);
        expect(r.note).toBeNull();
        // Refused members are recorded, never mapped to a domain; links are never followed.
        expect(src.files.filter((f) => f.refused).map((f) => f.diskPath)).toEqual(['../evil.txt (member #3)', 'fs/../../evil.txt (member #4)']);
        expect(src.get('HomeDomain', 'Library/passwd')?.flags).toBe(4);
        expect((await src.read(src.get('HomeDomain', 'Library/passwd')!)).status).toBe('unreadable');
        // Working copies have numbered names inside the work folder, whatever the member was called.
        const copies = fs.readdirSync(path.join(src.workDir, 'members'));
        expect(copies.every((n) => /^m\d+$/.test(n))).toBe(true);
      } finally {
        src.close();
      }
      expect(evilAnywhere(dir)).toEqual([]);
      expect(treeHash(ev)).toEqual(before);
    });
  }

  it('an ingest of a hostile tar finishes, with the refusals as named errors in the case', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'hostile.tar');
    await writeTar(file, hostileMembers(smallDb('a'), smallDb('b')));
    const c = path.join(dir, 'case.db');
    const r = await cli(['ingest', file, '--case', c, '--tz', 'UTC']);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const db = new Database(c, { readonly: true });
    const w = db.prepare("SELECT message FROM warnings WHERE severity = 'error'").pluck().all() as string[];
    const rows = db.prepare("SELECT relative_path, status FROM files WHERE disk_path LIKE '%evil.txt%'").all() as { relative_path: string; status: string }[];
    db.close();
    expect(w.some((m) => m.includes('climbs out with ".."'))).toBe(true);
    expect(rows.map((x) => x.status)).toEqual(['unreadable', 'unreadable']);
  }, 60_000);
});

describe('compression bombs', () => {
  it('a zip member that inflates over 1000× is refused before it is inflated; the rest is read', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bomb.zip');
    writeZip(file, [
      { name: SMS, data: smallDb('ok') },
      { name: 'fs/private/var/mobile/Library/zeros.bin', data: Buffer.alloc(32 * 1024 * 1024) }, // deflates ~1030×
      { name: 'fs/private/var/mobile/Library/liar.bin', data: Buffer.from('tiny'), declaredSize: 3_000_000_000 },
    ]);
    const src = await ArchiveSource.open(file, { want: [{ domain: 'HomeDomain', path: 'Library/**' }] });
    try {
      const refused = Object.fromEntries(src.files.filter((f) => f.refused).map((f) => [f.diskPath, f.refused!]));
      expect(refused['fs/private/var/mobile/Library/zeros.bin']).toMatch(/inflates 10\d\d× .*over the 1000× limit: a zip bomb\? refused, not inflated/);
      expect(refused['fs/private/var/mobile/Library/liar.bin']).toMatch(/over the 1000× limit/);
      expect((await src.read(src.get('HomeDomain', 'Library/SMS/sms.db')!)).status).toBe('ok');
      // Nothing of the bomb reached the work folder.
      const copies = fs.readdirSync(path.join(src.workDir, 'members')).map((n) => fs.statSync(path.join(src.workDir, 'members', n)).size);
      expect(Math.max(...copies)).toBeLessThan(1 << 20);
    } finally {
      src.close();
    }
  });

  it('a member whose header lies about its size is caught while it is inflated (yauzl checks the real size)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'lie.zip');
    writeZip(file, [
      { name: SMS, data: smallDb('ok') },
      { name: 'fs/private/var/mobile/Library/short.bin', data: Buffer.alloc(5000, 7), declaredSize: 100 },
    ]);
    const src = await ArchiveSource.open(file);
    try {
      const f = src.files.find((x) => x.diskPath.endsWith('short.bin'))!;
      expect(f.refused).toMatch(/cannot be inflated .*too many bytes|cannot be inflated/);
    } finally {
      src.close();
    }
  });

  it('a large member (read by our own inflater) whose header lies about its size is caught too, either way', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'lie-big.zip');
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    writeZip(file, [
      { name: SMS, data: smallDb('ok') },
      { name: 'fs/private/var/mobile/Library/long.bin', data, declaredSize: 2 << 20 },
      { name: 'fs/private/var/mobile/Library/short.bin', data, declaredSize: 4 << 20 },
      { name: 'fs/private/var/mobile/Library/honest.bin', data },
    ]);
    const src = await ArchiveSource.open(file);
    try {
      const byName = (n: string) => src.files.find((x) => x.diskPath.endsWith(n))!;
      expect(byName('long.bin').refused).toMatch(/cannot be inflated \(too many bytes/);
      expect(byName('short.bin').refused).toMatch(/cannot be inflated \(too few bytes/);
      expect(byName('honest.bin').refused).toBeUndefined();
      expect(byName('honest.bin').sha256).toBe(createHash('sha256').update(data).digest('hex'));
    } finally {
      src.close();
    }
  });

  it('a tar.gz that inflates over 1000× its size is stopped with one line', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bomb.tgz');
    await writeTar(
      file,
      [
        { name: SMS, data: smallDb('ok') },
        { name: 'fs/private/var/mobile/zeros', data: Buffer.alloc(48 * 1024 * 1024) },
      ],
      true,
    );
    await expect(ArchiveSource.open(file)).rejects.toThrow(/inflates over 1000× its size .*a compression bomb\? stopped/);
    const r = await cli(['ingest', file, '--case', path.join(dir, 'c.db'), '--tz', 'UTC']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(path.join(dir, 'c.db'))).toBe(false);
  }, 60_000);
});

describe('truncated and non-archives', () => {
  for (const kind of ['tar', 'tgz', 'zip'] as const) {
    it(`a truncated ${kind} gives a one-line error, and no case file`, async () => {
      const dir = tmpDir();
      const whole = path.join(dir, `whole.${kind}`);
      const members = [
        { name: SMS, data: smallDb('x') },
        { name: 'fs/private/var/mobile/Library/big.bin', data: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)) },
      ];
      if (kind === 'zip') writeZip(whole, members);
      else await writeTar(whole, members, kind === 'tgz');
      const cut = path.join(dir, `cut.${kind}`);
      const b = fs.readFileSync(whole);
      fs.writeFileSync(cut, b.subarray(0, Math.floor(b.length * 0.6)));
      const r = await cli(['ingest', cut, '--case', path.join(dir, 'c.db'), '--tz', 'UTC']);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(kind === 'zip' ? /cut\.zip is not a readable zip archive/ : /cut\.t(ar|gz) cannot be read to the end/);
      expect(fs.existsSync(path.join(dir, 'c.db'))).toBe(false);
    }, 60_000);
  }

  it('an archive without private/var/mobile is not a file-system extraction', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'other.zip');
    writeZip(file, [{ name: 'docs/readme.txt', data: Buffer.from('hello') }]);
    const r = await cli(['info', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/other\.zip holds no private\/var\/mobile\/ folder: not a file-system extraction/);
    const plain = path.join(dir, 'notes.txt');
    fs.writeFileSync(plain, 'not an archive');
    expect((await cli(['info', plain])).stderr).toMatch(/notes\.txt is not a folder \(a backup or a file-system extraction\) nor a tar, tar\.gz or zip archive/);
  });
});

describe('a hostile file-system folder', () => {
  it('a link out of the folder and a FIFO are refused and named; a link to a folder inside is noted; the ingest finishes', async () => {
    const dir = tmpDir();
    const ev = path.join(dir, 'dump');
    const lib = path.join(ev, 'private/var/mobile/Library');
    fs.mkdirSync(path.join(lib, 'SMS'), { recursive: true });
    fs.writeFileSync(path.join(lib, 'SMS/sms.db'), smallDb('x'));
    fs.symlinkSync('/etc/passwd', path.join(lib, 'passwd'));
    fs.symlinkSync('SMS', path.join(lib, 'Messages'));
    execFileSync('mkfifo', [path.join(lib, 'pipe')]);
    // lstat only (treeHash would follow the links and block on the FIFO): names, sizes, mtimes and ctimes.
    const before = (await listingHash(ev)).sha256;
    const c = path.join(dir, 'case.db');
    const r = await cli(['ingest', ev, '--case', c, '--tz', 'UTC']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const db = new Database(c, { readonly: true });
    const errors = db.prepare("SELECT message FROM warnings WHERE severity = 'error'").pluck().all() as string[];
    const rows = db.prepare("SELECT relative_path, status, note FROM files WHERE domain = 'HomeDomain' ORDER BY relative_path").all();
    db.close();
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^private\/var\/mobile\/Library\/passwd: .*leads out of the backup folder \(to \/etc\/passwd\)/),
        expect.stringMatching(/^private\/var\/mobile\/Library\/pipe: .*not a regular file \(fifo\)/),
      ]),
    );
    expect(rows).toEqual([
      {
        relative_path: 'Library/Messages',
        status: 'listed-only',
        note: expect.stringMatching(/symbolic link to a folder inside the evidence \(private\/var\/mobile\/Library\/SMS\); not followed/),
      },
      { relative_path: 'Library/SMS/sms.db', status: 'ok', note: null },
      { relative_path: 'Library/passwd', status: 'unreadable', note: expect.stringMatching(/leads out of the backup folder/) },
      { relative_path: 'Library/pipe', status: 'unreadable', note: expect.stringMatching(/fifo/) },
    ]);
    expect((await listingHash(ev)).sha256).toBe(before);
  }, 60_000);
});
