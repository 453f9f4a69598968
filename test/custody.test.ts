// Chain of custody building blocks: the hashing pool, block checkpoints, the custody chain, case digests,
// signatures, output manifests, and what ingest records about every evidence file.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { fixture, cli, treeHash, tmpDir } from './helpers.js';
import { hashFiles, parseAlgorithms } from '../src/custody/evidenceHash.js';
import { firstDifferingBlock, READ_CHUNK } from '../src/custody/hashWorker.js';
import { appendCustody, verifyCustodyChain, custodyHead, GENESIS_HASH } from '../src/timeline/custodyLog.js';
import { recordCaseDigest, checkCaseDigest } from '../src/custody/caseDigest.js';
import { generateKeys, loadPrivateKey, loadPublicKey, signBytes, verifyBytes } from '../src/custody/sign.js';
import { writeOutputManifest, readManifest } from '../src/custody/outputs.js';
import { checkReads, type EvidencePassResult } from '../src/custody/evidencePass.js';
import { ingest } from '../src/pipeline/ingest.js';
import { fileIdFor } from '../src/backup/backup.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { evidenceHashRows, custodySection } from '../src/custody/records.js';

const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

/** Deterministic bytes that are not all alike. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('hashing pool', () => {
  const dir = tmpDir();
  const files: { path: string; data: Buffer }[] = [];
  beforeAll(() => {
    const sizes = [0, 1, 100, 4096, READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1, 3 * READ_CHUNK, 3 * READ_CHUNK + 12345];
    for (let i = 0; i < 300; i++) sizes.push((i * 7919) % 20000);
    sizes.forEach((n, i) => {
      const p = path.join(dir, `f${i}`);
      const data = bytes(n, i + 1);
      fs.writeFileSync(p, data);
      files.push({ path: p, data });
    });
  });

  it('gives the same SHA-256, MD5 and SHA-1 as a plain hash, in job order, with and without workers', async () => {
    for (const workers of [undefined, 0]) {
      const r = await hashFiles(
        files.map((f) => ({ path: f.path, size: f.data.length })),
        { algorithms: ['sha256', 'md5', 'sha1'], workers },
      );
      expect(r).toHaveLength(files.length);
      files.forEach((f, i) => {
        expect(r[i].size).toBe(f.data.length);
        expect(r[i].sha256).toBe(sha('sha256', f.data));
        expect(r[i].md5).toBe(sha('md5', f.data));
        expect(r[i].sha1).toBe(sha('sha1', f.data));
      });
    }
  });

  it('reports progress up to the total and an error for an unreadable file', async () => {
    let last = 0;
    const jobs = [...files.slice(0, 20).map((f) => ({ path: f.path, size: f.data.length })), { path: path.join(dir, 'nope'), size: 0 }];
    const r = await hashFiles(jobs, {
      onProgress: (d) => {
        last = d;
      },
    });
    expect(last).toBe(files.slice(0, 20).reduce((s, f) => s + f.data.length, 0));
    expect(r[20].error).toMatch(/ENOENT/);
  });

  it('keeps SHA-256 prefix checkpoints that name the first changed 1 MiB block', async () => {
    const f = files.find((x) => x.data.length === 3 * READ_CHUNK + 12345)!;
    const [before] = await hashFiles([{ path: f.path, size: f.data.length }]);
    expect(before.prefixes).toHaveLength(3 * 16); // after blocks 1, 2 and 3; not at the very end
    expect(before.prefixes!.slice(0, 16)).toBe(sha('sha256', f.data.subarray(0, READ_CHUNK)).slice(0, 16));
    const copy = path.join(tmpDir(), 'copy');
    const changed = Buffer.from(f.data);
    changed[2 * READ_CHUNK + 5] ^= 0xff;
    fs.writeFileSync(copy, changed);
    const [after] = await hashFiles([{ path: copy, size: changed.length }]);
    expect(after.sha256).not.toBe(before.sha256);
    expect(firstDifferingBlock(before.prefixes, after.prefixes)).toBe(2);
    // One-block files carry no checkpoints.
    const small = files.find((x) => x.data.length === READ_CHUNK)!;
    expect((await hashFiles([{ path: small.path, size: READ_CHUNK }]))[0].prefixes).toBeUndefined();
  });

  it('parses --hash lists (sha256 always included)', () => {
    expect(parseAlgorithms(undefined)).toEqual(['sha256']);
    expect(parseAlgorithms('md5')).toEqual(['sha256', 'md5']);
    expect(parseAlgorithms('SHA1, sha-256,md5')).toEqual(['sha256', 'md5', 'sha1']);
    expect(() => parseAlgorithms('crc32')).toThrow(/unknown hash algorithm "crc32"/);
  });
});

describe('custody chain and case digests', () => {
  function caseDb(): { cf: CaseFile; file: string } {
    const file = path.join(tmpDir(), 'case.db');
    const cf = CaseFile.create(file);
    cf.setMeta('examiner', 'Case Examiner');
    const fid = cf.recordFile({ domain: 'HomeDomain', relativePath: 'Library/SMS/sms.db', fileId: 'a'.repeat(40), status: 'ok', sha256: 'b'.repeat(64) });
    cf.begin();
    for (let i = 0; i < 200; i++)
      cf.addEvent({ ts: null, kind: 'message', action: 'sent', body: `hello ${i}`, sourceFileId: fid, sourceTable: 'message', sourceRowid: i + 1 }, 'messages');
    cf.commit();
    return { cf, file };
  }

  it('records time, examiner, host, version, command line, inputs and outputs, and names an edited row', () => {
    const { cf } = caseDb();
    const r1 = appendCustody(cf.db, {
      action: 'ingest',
      detail: { a: 1 },
      inputs: [{ name: 'x', sha256: 'c'.repeat(64) }],
      outputs: [{ path: 'o', size: 1, sha256: 'd'.repeat(64) }],
    });
    expect(r1.prev_hash).toBe(GENESIS_HASH);
    expect(r1.actor).toBe('Case Examiner'); // the case's examiner when no --examiner is given
    expect(r1.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const d = JSON.parse(r1.detail_json);
    for (const k of ['tool_version', 'host', 'command_line', 'inputs', 'outputs']) expect(d).toHaveProperty(k);
    expect(d.outputs[0].sha256).toBe('d'.repeat(64));
    const r2 = appendCustody(cf.db, { action: 'export', actor: 'Jane', detail: {} });
    appendCustody(cf.db, { action: 'verify', detail: {} });
    expect(r2.actor).toBe('Jane');
    expect(custodyHead(cf.db).seq).toBe(3);
    expect(verifyCustodyChain(cf.db).problems).toEqual([]);
    cf.db.prepare("UPDATE custody SET actor = 'Mallory' WHERE seq = 2").run();
    const v = verifyCustodyChain(cf.db);
    expect(v.problems.map((p) => p.seq)).toEqual([2]);
    cf.db.prepare('DELETE FROM custody WHERE seq = 1').run();
    expect(verifyCustodyChain(cf.db).problems.some((p) => p.seq === 2 && /sequence gap/.test(p.problem))).toBe(true);
    cf.close();
  });

  it('names the event rows that were changed, added or deleted after the digest, and a forged checksum table', () => {
    const { cf } = caseDb();
    const digest = recordCaseDigest(cf.db);
    expect(digest.tables.events.rows).toBe(200);
    expect(digest.tables.custody).toBeUndefined();
    expect(checkCaseDigest(cf.db, digest).ok).toBe(true);
    // Appending custody rows never disturbs the content digest.
    appendCustody(cf.db, { action: 'report', detail: {} });
    expect(checkCaseDigest(cf.db, digest).ok).toBe(true);
    // A digest in another version's format is refused as such, not reported as every row changed.
    const other = checkCaseDigest(cf.db, { ...digest, format: 'ios-timeline-table-digest/1' });
    expect(other.ok).toBe(false);
    expect(other.problems).toHaveLength(1);
    expect(other.problems[0].problem).toMatch(/recorded in format "ios-timeline-table-digest\/1"/);

    // A later migration may add a table to an old case: harmless while empty, a change once it holds rows.
    cf.db.exec('CREATE TABLE later_feature (id INTEGER PRIMARY KEY, v TEXT)');
    expect(checkCaseDigest(cf.db, digest).ok).toBe(true);
    cf.db.prepare("INSERT INTO later_feature (v) VALUES ('x')").run();
    expect(checkCaseDigest(cf.db, digest).problems.map((p) => p.problem)).toEqual(['table was added after ingest (1 rows)']);
    cf.db.exec('DROP TABLE later_feature');

    cf.db.prepare("UPDATE events SET body = 'edited' WHERE id = 42").run();
    cf.db.prepare('DELETE FROM events WHERE id = 7').run();
    cf.db.prepare("INSERT INTO events (id, kind, action, extractor) VALUES (500, 'message', 'sent', 'messages')").run();
    cf.db.prepare('UPDATE files SET sha256 = ? WHERE id = 1').run('e'.repeat(64));
    const c = checkCaseDigest(cf.db, digest);
    expect(c.ok).toBe(false);
    const ev = c.problems.find((p) => p.table === 'events')!;
    expect(ev.changed).toEqual([42]);
    expect(ev.removed).toEqual([7]);
    expect(ev.added).toEqual([500]);
    expect(c.problems.find((p) => p.table === 'files')!.changed).toEqual([1]);

    cf.db.prepare('DELETE FROM row_digests').run();
    const c2 = checkCaseDigest(cf.db, digest);
    expect(c2.problems.map((p) => p.table)).toEqual(expect.arrayContaining(['row_digests', 'events', 'files']));
    cf.close();
  });
});

describe('signatures and output manifests', () => {
  it('creates a key pair (private key 0600), signs and detects any change; never overwrites keys', () => {
    const dir = tmpDir();
    const k = generateKeys(dir);
    expect(fs.statSync(k.privateKeyPath).mode & 0o777).toBe(0o600);
    const data = Buffer.from('{"manifest":1}\n');
    const sig = signBytes(data, loadPrivateKey(k.privateKeyPath));
    expect(verifyBytes(data, sig, loadPublicKey(k.publicKeyPath))).toBe(true);
    expect(verifyBytes(Buffer.from('{"manifest":2}\n'), sig, loadPublicKey(k.publicKeyPath))).toBe(false);
    const other = generateKeys(tmpDir());
    expect(verifyBytes(data, sig, loadPublicKey(other.publicKeyPath))).toBe(false);
    expect(() => generateKeys(dir)).toThrow(/already exists/);
    expect(() => loadPrivateKey(k.publicKeyPath)).toThrow(/not a readable private key/);
  });

  it('writes manifest.json and a SHA256SUMS that sha256sum -c accepts, merges later actions, appends custody rows', async () => {
    const cf = CaseFile.create(path.join(tmpDir(), 'case.db'));
    appendCustody(cf.db, { action: 'ingest', detail: { case_digest: recordCaseDigest(cf.db) } });
    const out = tmpDir();
    fs.mkdirSync(path.join(out, 'assets'));
    fs.writeFileSync(path.join(out, 'report.html'), '<html>report</html>');
    fs.writeFileSync(path.join(out, 'report.pdf'), bytes(200_000, 3));
    fs.writeFileSync(path.join(out, 'assets', 'map.svg'), '<svg/>');
    const keys = generateKeys(tmpDir());
    const r1 = await writeOutputManifest(
      out,
      ['report.html', 'report.pdf', 'assets/map.svg'].map((n) => path.join(out, n)),
      cf,
      { action: 'report', signKeyPath: keys.privateKeyPath, detail: { formats: ['html', 'pdf'] }, examiner: 'Jane Doe' },
    );
    expect(r1.custody.action).toBe('report');
    expect(r1.custody.actor).toBe('Jane Doe');
    const d = JSON.parse(r1.custody.detail_json);
    expect(d.outputs.map((o: { path: string }) => o.path)).toEqual(['report.html', 'report.pdf', 'assets/map.svg']);
    expect(d.outputs[1].sha256).toBe(sha('sha256', fs.readFileSync(path.join(out, 'report.pdf'))));
    expect(d.case_file_sha256_before).toMatch(/^[0-9a-f]{64}$/);
    expect(d.formats).toEqual(['html', 'pdf']);
    const m1 = readManifest(out)!;
    expect(m1.custody_head).toEqual({ seq: r1.custody.seq, hash: r1.custody.hash });
    expect(m1.files.find((f) => f.name === 'report.pdf')!.block_prefixes).toHaveLength(Math.floor(200_000 / 65536) * 16);
    expect(verifyBytes(fs.readFileSync(r1.manifestPath), fs.readFileSync(path.join(out, 'manifest.json.sig'), 'utf8'), loadPublicKey(keys.publicKeyPath))).toBe(true);
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/manifest\.json: OK/);

    // A later export into the same folder keeps the report verifiable; the stale signature is removed.
    fs.writeFileSync(path.join(out, 'timeline.csv'), 'a,b\r\n');
    const r2 = await writeOutputManifest(out, [path.join(out, 'timeline.csv')], cf, { action: 'export' });
    const m2 = readManifest(out)!;
    expect(m2.files.map((f) => f.name)).toEqual(['assets/map.svg', 'report.html', 'report.pdf', 'timeline.csv']);
    expect(m2.actions.map((a) => [a.action, a.custody.seq])).toEqual([
      ['report', r1.custody.seq],
      ['export', r2.custody.seq],
    ]);
    expect(fs.existsSync(path.join(out, 'manifest.json.sig'))).toBe(false);
    expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out }).status).toBe(0);
    expect(verifyCustodyChain(cf.db).problems).toEqual([]);
    await expect(writeOutputManifest(out, [path.join(tmpDir(), 'elsewhere.txt')], cf, { action: 'export' })).rejects.toThrow(/not inside/);
    cf.close();
  });
});

describe('ingest hashes every evidence file', () => {
  const t = fixture({
    seed: 11,
    calls: 5,
    contacts: 3,
    extend: (w) => {
      w.addFile('MediaDomain', 'Media/Recordings/big.m4a', bytes(2 * READ_CHUNK + 777, 5));
      w.addListedOnly('HomeDomain', 'Library/Notes/gone.sqlite', 1234);
    },
  });
  let casePath = '';
  let db: Database.Database;
  let before: Record<string, string>;
  beforeAll(async () => {
    fs.writeFileSync(path.join(t.root, 'planted.bin'), 'not from the phone');
    before = treeHash(t.root);
    casePath = path.join(tmpDir(), 'case.db');
    const r = await cli(['ingest', t.root, '--case', casePath, '--hash', 'sha256,md5,sha1', '--examiner', 'Jane Doe', '--tz', 'UTC']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Hashing evidence \(sha256, md5, sha1\)/); // progress (a bar on a terminal)
    expect(r.stderr).toMatch(/Evidence hashed: \d+ files, [\d.]+ MB, 1 not in the manifest, 1 listed but missing/);
    db = new Database(casePath, { readonly: true });
  });

  it('leaves the evidence untouched', () => {
    expect(treeHash(t.root)).toEqual(before);
  });

  it('records every file on disk with the right hashes, origin and place', () => {
    const rows = db.prepare('SELECT * FROM files').all() as Record<string, string | number | null>[];
    const onDisk = Object.keys(before).map((p) => p.split(path.sep).join('/'));
    for (const p of onDisk) {
      const row = rows.find((r) => r.disk_path === p);
      expect(row, p).toBeDefined();
      const data = fs.readFileSync(path.join(t.root, p));
      expect(row!.sha256).toBe(sha('sha256', data));
      expect(row!.md5).toBe(sha('md5', data));
      expect(row!.sha1).toBe(sha('sha1', data));
      expect(row!.size).toBe(data.length);
      expect(row!.status).toBe('ok');
    }
    const origin = (p: string) => rows.find((r) => r.disk_path === p)!.origin;
    for (const name of ['Info.plist', 'Manifest.plist', 'Status.plist', 'Manifest.db']) expect(origin(name)).toBe('backup');
    expect(origin('planted.bin')).toBe('unlisted');
    const big = rows.find((r) => r.relative_path === 'Media/Recordings/big.m4a')!;
    expect(big.origin).toBe('manifest');
    expect(big.read_by).toBeNull(); // hashed, not parsed by any extractor
    expect(big.manifest_size).toBe(2 * READ_CHUNK + 777);
    expect(String(big.block_prefixes)).toHaveLength(2 * 16);
    const gone = rows.find((r) => r.relative_path === 'Library/Notes/gone.sqlite')!;
    expect(gone.status).toBe('missing');
    // Files the extractors read keep their reader and agree with the full pass.
    const calls = rows.find((r) => r.relative_path === 'Library/CallHistoryDB/CallHistory.storedata')!;
    expect(calls.read_by).toBe('calls,call-participants');
    expect(calls.origin).toBe('manifest');
  });

  it('records the pass, the listing before/after and the content digest in the ingest custody row', () => {
    const row = db.prepare("SELECT * FROM custody WHERE action = 'ingest'").get() as { actor: string; detail_json: string };
    expect(row.actor).toBe('Jane Doe');
    const d = JSON.parse(row.detail_json);
    expect(d.evidence_hash_pass.algorithms).toEqual(['sha256', 'md5', 'sha1']);
    expect(d.evidence_hash_pass.files).toBe(Object.keys(before).length);
    expect(d.evidence_hash_pass.unlisted).toBe(1);
    expect(d.evidence_hash_pass.missing).toBe(1);
    expect(d.evidence_hash_pass.extractor_reads_compared).toBeGreaterThanOrEqual(3);
    expect(d.evidence_hash_pass.changed_during_ingest).toEqual([]);
    expect(d.evidence_unchanged).toBe(true);
    expect(d.evidence_listing_differences).toEqual([]);
    expect(d.evidence_listing_sha256_before).toBe(d.evidence_listing_sha256_after);
    expect(d.case_digest.tables.events.rows).toBeGreaterThan(0);
    expect(d.inputs[0].sha256).toBe(d.evidence_listing_sha256_before);
    expect(d.outputs[0].sha256).toBe(d.case_digest.sha256);
    const ev = db.prepare('SELECT listing_unchanged FROM evidence').get() as { listing_unchanged: number };
    expect(ev.listing_unchanged).toBe(1);
    const warnings = (db.prepare("SELECT message FROM warnings WHERE extractor = 'custody'").all() as { message: string }[]).map((w) => w.message);
    expect(warnings.some((w) => /gone\.sqlite: listed in Manifest\.db but not present/.test(w))).toBe(true);
    expect(warnings.some((w) => /1 file\(s\) under the backup folder are not listed/.test(w))).toBe(true);
  });

  it('gives the report its hash appendix and custody section from the same records', () => {
    const rows = [...evidenceHashRows(db)];
    expect(rows.length).toBe((db.prepare('SELECT count(*) AS n FROM files').get() as { n: number }).n);
    expect(rows.slice(0, 4).map((r) => r.origin)).toEqual(['backup', 'backup', 'backup', 'backup']);
    expect(rows[rows.length - 1].origin).toBe('unlisted');
    const c = custodySection(db);
    expect(c.chain.intact).toBe(true);
    expect(c.rows[0].action).toBe('ingest');
    expect(c.rows[0].examiner).toBe('Jane Doe');
    expect(c.rows[0].command_line).toContain('--examiner');
    expect(c.rows[0].detail.case_content_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(c.rows[0].detail).not.toHaveProperty('case_digest');
    expect(c.rows[0].outputs[0].sha256).toBe(c.rows[0].detail.case_content_digest);
  });

  it('warns when an extractor read different bytes than the full pass saw', () => {
    const cf = CaseFile.create(path.join(tmpDir(), 'c.db'));
    const id = cf.recordFile({ domain: 'HomeDomain', relativePath: 'x.db', fileId: null, status: 'ok', sha256: 'a'.repeat(64), readBy: 'messages' });
    const pass = { byRowId: new Map([[id, 'b'.repeat(64)]]) } as EvidencePassResult;
    expect(checkReads(cf, pass)).toEqual({ compared: 1, changed: ['HomeDomain/x.db'] });
    expect((cf.db.prepare('SELECT message FROM warnings').get() as { message: string }).message).toMatch(/file changed during ingest: HomeDomain\/x\.db/);
    cf.close();
  });

  it('says exactly what changed when evidence changes during ingest (on a throw-away copy)', async () => {
    const copy = path.join(tmpDir(), 'backup');
    fs.cpSync(t.root, copy, { recursive: true });
    const id = fileIdFor('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata-wal');
    const payload = path.join(copy, id.slice(0, 2), id);
    const out = path.join(tmpDir(), 'changed.db');
    await ingest({
      backupDir: copy,
      casePath: out,
      tz: 'UTC',
      region: 'US',
      // Something else writes to the evidence between the full hash pass and the extractor's read.
      onHashDone: () => fs.appendFileSync(payload, Buffer.alloc(16)),
    });
    const c = new Database(out, { readonly: true });
    const messages = (c.prepare("SELECT message FROM warnings WHERE extractor = 'custody'").all() as { message: string }[]).map((w) => w.message);
    expect(messages.some((m) => m.startsWith('file changed during ingest: HomeDomain/Library/CallHistoryDB/CallHistory.storedata-wal'))).toBe(true);
    expect(messages.some((m) => m.includes(`the evidence folder listing changed during ingest: ${id.slice(0, 2)}/${id} changed (size`))).toBe(true);
    const d = JSON.parse((c.prepare("SELECT detail_json FROM custody WHERE action = 'ingest'").get() as { detail_json: string }).detail_json);
    expect(d.evidence_unchanged).toBe(false);
    expect(d.evidence_listing_differences).toEqual([expect.stringMatching(new RegExp(`^${id.slice(0, 2)}/${id} changed \\(size \\d+→\\d+\\)$`))]);
    expect(d.evidence_hash_pass.changed_during_ingest).toEqual(['HomeDomain/Library/CallHistoryDB/CallHistory.storedata-wal']);
    expect((c.prepare('SELECT listing_unchanged FROM evidence').get() as { listing_unchanged: number }).listing_unchanged).toBe(0);
    c.close();
  });

  it('refuses an unknown --hash algorithm with a usage error', async () => {
    const r = await cli(['ingest', t.root, '--case', path.join(tmpDir(), 'x.db'), '--hash', 'sha256,crc32']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown hash algorithm "crc32"/);
  });
});
