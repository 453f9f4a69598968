// A file-system extraction (a folder, a tar, a tar.gz, a zip, with a prefix folder) of the same phone data as a
// backup gives the same events: the fixture backup is laid out as a tree with the very databases it holds.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { ingest } from '../src/pipeline/ingest.js';
import { openEvidence } from '../src/sources/open.js';
import { backupToTree, tarFolder, zipFolder } from '../fixtures/fileSystemWriter.js';
import { cli, fixture, tmpDir, treeHash, type FixtureTruth } from './helpers.js';

/** Fields that differ by design between inputs: where the bytes were found, the case rows' ids. */
const PROVENANCE = new Set(['id', 'file_id', 'source_file', 'file_row_id', 'evidence_path', 'source_path']);

function exportLines(casePath: string, out: string): Promise<string[]> {
  return cli(['export', '--case', casePath, '--format', 'jsonl', '--out', out]).then((r) => {
    expect(r.code, r.stderr).toBe(0);
    return fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        for (const k of Object.keys(o)) if (PROVENANCE.has(k)) delete o[k];
        return JSON.stringify(o);
      })
      .sort();
  });
}

describe('file-system extractions give the events of the backup', () => {
  let truth: FixtureTruth;
  let dir: string;
  let tree: string;
  const inputs: Record<string, string> = {};
  beforeAll(async () => {
    truth = fixture({ seed: 7, contacts: 8, calls: 20, callsInWal: 2, messages: 30, messagesInWal: 2, photos: 6, mediaFiles: 4, locations: true, messageTraps: false });
    dir = tmpDir();
    tree = path.join(dir, 'tree');
    backupToTree(truth.root, tree, { prefix: 'filesystem1' });
    inputs.folder = tree;
    const ev = path.join(dir, 'archives');
    fs.mkdirSync(ev);
    inputs.tar = path.join(ev, 'fs.tar');
    inputs.tgz = path.join(ev, 'fs.tgz');
    inputs.zip = path.join(ev, 'fs.zip');
    await tarFolder(tree, inputs.tar);
    await tarFolder(tree, inputs.tgz, true);
    zipFolder(tree, inputs.zip);
  }, 120_000);

  it('maps the tree back to the backup domains the extractors ask for', async () => {
    const src = await openEvidence(tree);
    try {
      expect(src.kind).toBe('folder');
      expect(src.get('HomeDomain', 'Library/SMS/sms.db')?.fileID).toBe('3d0d7e5fb2ce288813306e4d4636395e047a3d28');
      expect(src.get('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata-wal')).toBeDefined();
      expect(src.find('CameraRollDomain', 'Media/DCIM/**').length).toBe(4);
      expect(src.iosVersion).toBe(truth.device.productVersion);
    } finally {
      src.close();
    }
  });

  it('ingests the folder, tar, tar.gz and zip into the same events as the backup; the evidence is untouched', async () => {
    const ref = path.join(dir, 'backup.db');
    await ingest({ backupDir: truth.root, casePath: ref, tz: 'UTC', region: 'US' });
    const want = await exportLines(ref, path.join(dir, 'backup.jsonl'));
    expect(want.length).toBeGreaterThan(50);
    for (const [kind, input] of Object.entries(inputs)) {
      const before = fs.statSync(input).isDirectory() ? treeHash(input) : treeHash(path.dirname(input));
      const c = path.join(dir, `${kind}.db`);
      const r = await ingest({ backupDir: input, casePath: c, tz: 'UTC', region: 'US' });
      expect(r.listingUnchanged, kind).toBe(true);
      const got = await exportLines(c, path.join(dir, `${kind}.jsonl`));
      expect(got, kind).toEqual(want);
      const db = new Database(c, { readonly: true });
      const ev = db.prepare('SELECT extra_json FROM evidence').get() as { extra_json: string };
      expect(JSON.parse(ev.extra_json).source_kind).toBe(kind);
      db.close();
      const after = fs.statSync(input).isDirectory() ? treeHash(input) : treeHash(path.dirname(input));
      for (const [k, v] of Object.entries(before)) expect(after[k], `${kind}: ${k}`).toBe(v);
    }
  }, 300_000);

  it('info says what each input is and finds the artifacts in it', async () => {
    for (const [kind, input] of Object.entries(inputs)) {
      const r = await cli(['info', input, '--json']);
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.input.kind).toBe(kind);
      expect(j.input.prefix).toBe('filesystem1'); // tar members are `./filesystem1/…`: the `./` is not part of it
      expect(j.device.productVersion).toBe(truth.device.productVersion);
      const coverage = Object.fromEntries(j.artifacts.map((a: { id: string; coverage: string }) => [a.id, a.coverage]));
      expect(coverage.messages, kind).toBe('found');
      expect(coverage.calls, kind).toBe('found');
      expect(coverage.photos, kind).toBe('found');
    }
    const text = await cli(['info', inputs.tgz]);
    expect(text.stdout).toMatch(/Input: +file-system tar\.gz archive — tree at filesystem1\/private\/var/);
  });

  it('verify re-hashes a folder and an archive against the case, and names a changed file or member', async () => {
    for (const kind of ['folder', 'zip', 'tgz']) {
      const r = await cli(['verify', inputs[kind], '--case', path.join(dir, `${kind}.db`), '--no-record']);
      expect(r.code, `${kind}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/OK: .* verified/);
    }
    // A copy of the tree with one database changed by one byte.
    const copy = path.join(tmpDir(), 'tree');
    fs.cpSync(tree, copy, { recursive: true });
    const sms = path.join(copy, 'filesystem1/private/var/mobile/Library/SMS/sms.db');
    const b = fs.readFileSync(sms);
    b[b.length - 1] ^= 0xff;
    fs.writeFileSync(sms, b);
    const bad = await cli(['verify', copy, '--case', path.join(dir, 'folder.db'), '--no-record']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/filesystem1\/private\/var\/mobile\/Library\/SMS\/sms\.db \(HomeDomain\/Library\/SMS\/sms\.db\): content differs/);
    // The same change inside a zip: the member is named.
    const zip = path.join(path.dirname(copy), 'changed.zip');
    zipFolder(copy, zip);
    const badZip = await cli(['verify', zip, '--case', path.join(dir, 'zip.db'), '--no-record']);
    expect(badZip.code).toBe(1);
    expect(badZip.stdout).toMatch(/filesystem1\/private\/var\/mobile\/Library\/SMS\/sms\.db \(HomeDomain\/Library\/SMS\/sms\.db\): content differs/);
    expect(badZip.stdout).toMatch(/changed\.zip \(the archive itself\): content differs/);
  }, 120_000);
});
