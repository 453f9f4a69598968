// `ios-timeline verify`: untouched, everything passes with a short summary; tamper with one thing at a time
// (always on copies) and verify fails and names exactly that thing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, cli, treeHash, tmpDir } from './helpers.js';
import { writeOutputManifest } from '../src/custody/outputs.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { READ_CHUNK } from '../src/custody/hashWorker.js';
import { fileIdFor } from '../src/backup/backup.js';

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

function copy(src: string): string {
  const dst = path.join(tmpDir(), path.basename(src));
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, offset);
  b[0] ^= 0x01;
  fs.writeSync(fd, b, 0, 1, offset);
  fs.closeSync(fd);
}

function sql(dbPath: string, statement: string): void {
  const db = new Database(dbPath);
  db.prepare(statement).run();
  db.close();
}

interface JsonReport {
  ok: boolean;
  kind: string;
  problems: { area: string; item: string; message: string; range?: { start: number; end: number } }[];
  checks: string[];
  custody: string | null;
}
const json = (stdout: string) => JSON.parse(stdout) as JsonReport;

describe('verify', () => {
  const BIG = 'Media/Recordings/interview.m4a';
  const bigId = fileIdFor('MediaDomain', BIG);
  const t = fixture({
    seed: 21,
    calls: 8,
    contacts: 4,
    extend: (w) => {
      w.addFile('MediaDomain', BIG, bytes(3 * READ_CHUNK + 500, 9));
    },
  });
  const work = tmpDir();
  const casePath = path.join(work, 'case.db');
  const out = path.join(work, 'out');
  const keys = path.join(work, 'keys');
  const pub = path.join(keys, 'ios-timeline-signing.pub');
  let evidence: Record<string, string>;

  beforeAll(async () => {
    evidence = treeHash(t.root);
    expect((await cli(['ingest', t.root, '--case', casePath, '--examiner', 'Jane Doe', '-q'])).code).toBe(0);
    expect((await cli(['keygen', '--out', keys])).code).toBe(0);
    // A report folder (written through the same API the report command uses), then an export merged into it.
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'report.html'), '<!doctype html><title>report</title>');
    fs.writeFileSync(path.join(out, 'report.pdf'), Buffer.concat([Buffer.from('%PDF-1.7\n'), bytes(300_000, 4)]));
    const cf = CaseFile.open(casePath);
    try {
      await writeOutputManifest(out, [path.join(out, 'report.html'), path.join(out, 'report.pdf')], cf, {
        action: 'report',
        signKeyPath: path.join(keys, 'ios-timeline-signing.key'),
      });
    } finally {
      cf.close();
    }
    const e = await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', path.join(out, 'timeline.jsonl'), '--sign-key', path.join(keys, 'ios-timeline-signing.key')]);
    expect(e.code, e.stderr).toBe(0);
  });

  describe('untouched', () => {
    it('passes on the case file, the backup folder and the output folder, with a short summary', async () => {
      const c = await cli(['verify', casePath]);
      expect(c.code, c.stdout + c.stderr).toBe(0);
      expect(c.stdout).toMatch(/^OK: .*case\.db \(case\) verified/);
      expect(c.stdout).toMatch(/custody chain: \d+ rows intact/);
      expect(c.stdout).toMatch(/case content: \d+ tables, \d+ rows as recorded at ingest/);

      const b = await cli(['verify', t.root, '--case', casePath]);
      expect(b.code, b.stdout + b.stderr).toBe(0);
      expect(b.stdout).toMatch(/evidence: (\d+) of \1 recorded files match/);

      const o = await cli(['verify', out, '--case', casePath, '--pub-key', pub]);
      expect(o.code, o.stdout + o.stderr).toBe(0);
      expect(o.stdout).toMatch(/outputs: 3 of 3 files match manifest\.json/);
      expect(o.stdout).toMatch(/signature: valid Ed25519 signature/);
      expect(o.stdout).toMatch(/custody: the 2 action\(s\) in manifest\.json are in the case's chain/);
    });

    it('never writes the evidence, and records each verification in the custody chain', async () => {
      expect(treeHash(t.root)).toEqual(evidence);
      const db = new Database(casePath, { readonly: true });
      const actions = (db.prepare('SELECT action FROM custody ORDER BY seq').all() as { action: string }[]).map((r) => r.action);
      db.close();
      expect(actions.slice(0, 3)).toEqual(['ingest', 'report', 'export']);
      expect(actions.filter((a) => a === 'verify').length).toBeGreaterThanOrEqual(3);
      expect((await cli(['verify', casePath, '--json'])).code).toBe(0); // the chain stays intact with verify rows in it
    });

    it('prints JSON on request', async () => {
      const r = await cli(['verify', out, '--pub-key', pub, '--json']);
      expect(r.code).toBe(0);
      const j = json(r.stdout);
      expect(j.ok).toBe(true);
      expect(j.kind).toBe('outputs');
      expect(j.problems).toEqual([]);
      expect(j.custody).toBeNull(); // no case file given: nothing to record in
    });
  });

  describe('tampered (each on a copy)', () => {
    it('one byte of an evidence file: names the file and its first changed MiB', async () => {
      const b = copy(t.root);
      const before = treeHash(b);
      flipByte(path.join(b, bigId.slice(0, 2), bigId), 2 * READ_CHUNK + 4242);
      const r = await cli(['verify', b, '--case', casePath, '--json', '--no-record']);
      expect(r.code).toBe(1);
      const j = json(r.stdout);
      expect(j.problems).toHaveLength(1);
      expect(j.problems[0].item).toBe(`${bigId.slice(0, 2)}/${bigId} (MediaDomain/${BIG})`);
      expect(j.problems[0].range).toEqual({ start: 2 * READ_CHUNK, end: 3 * READ_CHUNK - 1 });
      const text = await cli(['verify', b, '--case', casePath, '--no-record']);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^MISMATCH: .* 1 problem\n/);
      expect(text.stdout).toContain(`MediaDomain/${BIG}): content differs`);
      expect(text.stdout).toContain('first difference in bytes 2,097,152–3,145,727');
      // verify read the copy without writing it (beyond our own flip).
      const after = treeHash(b);
      expect(after).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, k.endsWith(bigId) ? after[k] : v])));
      expect(treeHash(t.root)).toEqual(evidence);
    });

    it('a missing and an added evidence file are named', async () => {
      const b = copy(t.root);
      fs.rmSync(path.join(b, 'Status.plist'));
      fs.writeFileSync(path.join(b, 'planted.txt'), 'x');
      const j = json((await cli(['verify', b, '--case', casePath, '--json', '--no-record'])).stdout);
      expect(j.ok).toBe(false);
      expect(j.problems.map((p) => `${p.item}: ${p.message}`).sort()).toEqual([
        'Status.plist: recorded at ingest but missing from the backup folder',
        'planted.txt: not recorded in the case file (added after ingest?)',
      ]);
    });

    it('a row of the case file: names the table and row id', async () => {
      const c = copy(casePath);
      sql(c, "UPDATE events SET title = 'Call from someone else' WHERE id = 3");
      const r = await cli(['verify', c]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('✗ events row 3: changed since ingest');
      const j = json((await cli(['verify', c, '--json', '--no-record'])).stdout);
      expect(j.problems.map((p) => p.item)).toEqual(['events row 3']);
      const c2 = copy(casePath);
      sql(c2, "UPDATE files SET sha256 = 'ab' || substr(sha256, 3) WHERE id = 2");
      expect(json((await cli(['verify', c2, '--json', '--no-record'])).stdout).problems.map((p) => p.item)).toEqual(['files row 2']);
      // A blob planted in a text column (JSON cannot hold one: the rows are serialised again with blobs as hex).
      const c3 = copy(casePath);
      sql(c3, "UPDATE events SET extra_json = X'00ff' WHERE id = 4");
      expect(json((await cli(['verify', c3, '--json', '--no-record'])).stdout).problems.map((p) => p.item)).toEqual(['events row 4']);
    });

    it('a custody row: names the row', async () => {
      const c = copy(casePath);
      sql(c, "UPDATE custody SET actor = 'Someone Else' WHERE seq = 2");
      const r = await cli(['verify', c, '--no-record']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/✗ custody row 2: row content does not match its hash/);
      const c2 = copy(casePath);
      sql(c2, 'DELETE FROM custody WHERE seq = 2');
      expect((await cli(['verify', c2, '--no-record'])).stdout).toMatch(/custody row 3: sequence gap: expected 2, found 3/);
    });

    it('a byte of report.pdf: names the file and the 64 KiB range', async () => {
      const o = copy(out);
      flipByte(path.join(o, 'report.pdf'), 70_000);
      const r = await cli(['verify', o, '--pub-key', pub, '--json']);
      expect(r.code).toBe(1);
      const j = json(r.stdout);
      expect(j.problems).toHaveLength(1);
      expect(j.problems[0].item).toBe('report.pdf');
      expect(j.problems[0].range).toEqual({ start: 65536, end: 131071 });
      const text = (await cli(['verify', o])).stdout;
      expect(text).toContain('✗ report.pdf: content differs from manifest.json');
      // A mismatch never gets a tick (issue #14: "✓ outputs: 0 of 1 files match").
      expect(text).not.toMatch(/✓ outputs:/);
      expect(text).toMatch(/· outputs: only (\d+) of (?!\1\b)\d+ files match manifest\.json/);
    });

    it('the signature: names manifest.json.sig (altered signature, other key, edited manifest)', async () => {
      const o = copy(out);
      const sig = path.join(o, 'manifest.json.sig');
      const s = Buffer.from(fs.readFileSync(sig, 'utf8').trim(), 'base64');
      s[10] ^= 0xff;
      fs.writeFileSync(sig, s.toString('base64') + '\n');
      const r = await cli(['verify', o, '--pub-key', pub]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/✗ manifest\.json\.sig: does not verify with this public key/);

      const other = path.join(tmpDir(), 'k');
      expect((await cli(['keygen', '--out', other])).code).toBe(0);
      const r2 = await cli(['verify', out, '--pub-key', path.join(other, 'ios-timeline-signing.pub')]);
      expect(r2.code).toBe(1);
      expect(r2.stdout).toMatch(/manifest\.json\.sig: does not verify: the manifest names a different signing key/);

      const o2 = copy(out);
      const mp = path.join(o2, 'manifest.json');
      fs.writeFileSync(mp, fs.readFileSync(mp, 'utf8').replace('"examiner": "Jane Doe"', '"examiner": "John Roe"'));
      const items = json((await cli(['verify', o2, '--pub-key', pub, '--json'])).stdout).problems.map((p) => p.item);
      expect(items).toEqual(expect.arrayContaining(['manifest.json.sig', 'SHA256SUMS line 4']));
    });

    it('outputs against the case: a manifest pointing at custody rows the case does not hold', async () => {
      const c = copy(casePath);
      const fresh = path.join(tmpDir(), 'other.db');
      expect((await cli(['ingest', t.root, '--case', fresh, '-q'])).code).toBe(0);
      const r = await cli(['verify', out, '--case', fresh, '--no-record']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/custody row \d+: (the report at .* is not in this case file's custody log|hash .* differs from manifest\.json's)/);
      expect((await cli(['verify', out, '--case', c, '--no-record'])).code).toBe(0);
    });
  });

  it('a symbolic link in the backup folder is recorded, never followed, and does not fail verify', async () => {
    const f = fixture({ seed: 5, calls: 3, contacts: 2 });
    fs.symlinkSync('/etc/hostname', path.join(f.root, 'outside-link'));
    const c = path.join(tmpDir(), 'case.db');
    expect((await cli(['ingest', f.root, '--case', c, '-q'])).code).toBe(0);
    const db = new Database(c, { readonly: true });
    const row = db.prepare("SELECT status, sha256, origin, note FROM files WHERE disk_path = 'outside-link'").get();
    db.close();
    expect(row).toEqual({ status: 'unreadable', sha256: null, origin: 'unlisted', note: 'symbolic link, not followed' });
    const v = await cli(['verify', f.root, '--case', c, '--no-record']);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toContain('outside-link was recorded as unreadable at ingest and is not compared');
  });

  const hasChromium = !!process.env.PUPPETEER_EXECUTABLE_PATH || fs.existsSync('/usr/bin/chromium');
  it.skipIf(!hasChromium)('a real report: verify passes, then one byte of report.pdf is named with its range', async () => {
    const rep = path.join(tmpDir(), 'report');
    const r = await cli(['report', '--case', casePath, '--out', rep, '--format', 'html,pdf', '--sign-key', path.join(keys, 'ios-timeline-signing.key')]);
    expect(r.code, r.stderr).toBe(0);
    const ok = await cli(['verify', rep, '--case', casePath, '--pub-key', pub, '--no-record']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/outputs: 2 of 2 files match/);
    const o = copy(rep);
    flipByte(path.join(o, 'report.pdf'), 100_000);
    const j = json((await cli(['verify', o, '--case', casePath, '--pub-key', pub, '--json', '--no-record'])).stdout);
    expect(j.ok).toBe(false);
    expect(j.problems.map((p) => [p.item, p.range])).toEqual([['report.pdf', { start: 65536, end: 131071 }]]);
  });

  it('usage errors exit 2', async () => {
    expect((await cli(['verify', t.root])).code).toBe(2);
    expect((await cli(['verify', path.join(work, 'nothing-here')])).code).toBe(2);
    expect((await cli(['verify', out, '--pub-key', path.join(out, 'SHA256SUMS')])).stderr).toMatch(/not a readable public key/);
    const dest = path.join(tmpDir(), 'x.jsonl');
    const bad = await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', dest, '--sign-key', pub]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a readable private key/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});
