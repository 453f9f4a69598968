// The pipeline and the architecture it rests on: the library ingest() and the CLI make the same case,
// --only honours dependencies, artifacts are found and described by themselves, folders import downward.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/pipeline/ingest.js';
import { EXTRACTORS, KINDS, orderByDependencies, withDependencies } from '../src/extractors/registry.js';
import type { Extractor } from '../src/extractors/types.js';
import { cli, fixture, REPO, tmpDir, treeHash } from './helpers.js';

const SAMPLE = path.join(REPO, 'fixtures/sample-backup');

function rows<T>(db: string, sql: string): T[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(sql).all() as T[];
  } finally {
    d.close();
  }
}

function ingestDetail(db: string): { case_digest: { tables: Record<string, { sha256: string; rows: number }> }; evidence_hash_pass: { files: number } } {
  return JSON.parse(rows<{ detail_json: string }>(db, "SELECT detail_json FROM custody WHERE action = 'ingest'")[0]!.detail_json);
}

describe('library ingest() and the CLI make the same case', () => {
  let lib: string;
  let viaCli: string;
  let before: Record<string, string>;
  beforeAll(async () => {
    before = treeHash(SAMPLE);
    lib = path.join(tmpDir(), 'lib.db');
    await ingest({ backupDir: SAMPLE, casePath: lib, tz: 'America/New_York', region: 'US' });
    viaCli = path.join(tmpDir(), 'cli.db');
    const r = await cli(['ingest', SAMPLE, '--case', viaCli, '--tz', 'America/New_York', '-q']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('hashes every file of the backup both ways (the hash pass is part of the pipeline)', () => {
    const q = 'SELECT domain, relative_path, sha256, status, origin FROM files ORDER BY domain, relative_path';
    const a = rows<{ sha256: string | null }>(lib, q);
    expect(a).toEqual(rows(viaCli, q));
    const onDisk = Object.keys(before).length;
    expect(a.filter((f) => f.sha256).length).toBe(onDisk); // every file in the folder, not only those read
    expect(ingestDetail(lib).evidence_hash_pass.files).toBe(onDisk);
  });

  it('writes the same content: every evidence-derived table digests the same', () => {
    const a = ingestDetail(lib).case_digest.tables;
    const b = ingestDetail(viaCli).case_digest.tables;
    for (const t of ['events', 'files', 'threads', 'participants', 'attachments', 'contacts', 'contact_handles']) {
      expect(a[t], t).toBeDefined();
      expect(a[t]!.rows, t).toBeGreaterThan(0);
      expect(a[t], t).toEqual(b[t]);
    }
  });

  it('leaves the evidence byte-identical', () => {
    expect(treeHash(SAMPLE)).toEqual(before);
  });
});

describe('--only honours dependencies', () => {
  it('messages alone still names the senders (contacts runs first and is named)', async () => {
    const t = fixture({ messages: 60, calls: 10, photos: 0, locations: false });
    const full = path.join(tmpDir(), 'full.db');
    await ingest({ backupDir: t.root, casePath: full, tz: 'UTC', region: 'US' });
    const only = path.join(tmpDir(), 'only.db');
    const r = await ingest({ backupDir: t.root, casePath: only, tz: 'UTC', region: 'US', only: ['messages'] });
    expect(r.addedDependencies).toEqual(['contacts']);
    expect(r.summaries.map((s) => s.extractor)).toEqual(['contacts', 'messages']);
    const named = (db: string) => rows<{ n: number }>(db, "SELECT count(*) AS n FROM events WHERE kind = 'message' AND counterpart_name IS NOT NULL")[0]!.n;
    expect(named(full)).toBeGreaterThan(0);
    expect(named(only)).toBe(named(full));
    const note = rows<{ message: string }>(only, "SELECT message FROM warnings WHERE extractor = 'pipeline'");
    expect(note.map((w) => w.message)).toEqual(['--only messages also ran contacts, which it depends on']);
  });

  it('the CLI says which extractors it added', async () => {
    const c = path.join(tmpDir(), 'c.db');
    const r = await cli(['ingest', SAMPLE, '--case', c, '--only', 'message-locations', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/also ran contacts, messages: --only message-locations depends on them/);
  });

  it('orders by dependencies, refuses cycles and unknown names', () => {
    const x = (id: string, after?: string[]): Extractor => ({ id, title: id, sources: [], kinds: [], after, run: async () => {} });
    expect(orderByDependencies([x('b', ['a']), x('c'), x('a', ['c'])]).map((e) => e.id)).toEqual(['c', 'a', 'b']);
    expect(() => orderByDependencies([x('a', ['b']), x('b', ['a'])])).toThrow(/cycle: a → b → a/);
    expect(() => orderByDependencies([x('a', ['nope'])])).toThrow(/unknown extractor "nope"/);
    expect(() => withDependencies(['nope'])).toThrow(/unknown extractor "nope"/);
  });
});

describe('artifacts describe themselves', () => {
  it('finds every module in src/extractors/artifacts without a list to edit', async () => {
    const dir = path.join(REPO, 'src/extractors/artifacts');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
    let exported = 0;
    for (const f of files) {
      const mod = (await import(path.join(dir, f))) as Record<string, unknown>;
      exported += Object.values(mod).filter((v) => EXTRACTORS.includes(v as Extractor)).length;
    }
    expect(exported).toBe(EXTRACTORS.length);
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it('every kind the sample produces has a descriptor, and shared kinds agree', async () => {
    const c = path.join(tmpDir(), 'c.db');
    await ingest({ backupDir: SAMPLE, casePath: c, tz: 'UTC', region: 'US' });
    for (const { kind, extractor } of rows<{ kind: string; extractor: string }>(c, 'SELECT DISTINCT kind, extractor FROM events')) {
      if (extractor === 'recovery') {
        expect(KINDS.has(kind), `recovery emits ${kind}`).toBe(true);
        continue;
      } // the pipeline's own stage
      const ex = EXTRACTORS.find((e) => e.id === extractor)!;
      expect(
        ex.kinds.map((k) => k.kind),
        `${extractor} emits ${kind}`,
      ).toContain(kind);
    }
    for (const ex of EXTRACTORS) for (const k of ex.kinds) expect(KINDS.get(k.kind), `${ex.id}: ${k.kind}`).toEqual(k);
    expect(rows<{ n: number }>(c, "SELECT count(*) AS n FROM events WHERE extractor = 'recovery' AND (recovered != 1 OR recovered_from IS NULL OR confidence IS NULL)")[0]!.n).toBe(
      0,
    );
    for (const k of KINDS.values()) {
      expect(k.color).toMatch(/^#[0-9a-f]{6}$/i);
      expect(['conversation', 'calls', 'gallery', 'table']).toContain(k.view);
      expect(k.dataType).toMatch(/^ios:[a-z_]+:[a-z_]+$/);
    }
  });

  it('dependencies name real extractors', () => {
    const ids = new Set(EXTRACTORS.map((e) => e.id));
    for (const e of EXTRACTORS) for (const d of e.after ?? []) expect(ids.has(d), `${e.id} after ${d}`).toBe(true);
  });
});

describe('folders import only downward', () => {
  // formats and the small root modules at the bottom, the CLI on top. A folder may import itself or below.
  const RANK: Record<string, number> = {
    formats: 0,
    '.': 0,
    backup: 1,
    sources: 1.5, // file-system folders and archives: built on backup/ (safePath, the entry shape, the source interface)
    timeline: 2,
    custody: 3,
    recovery: 3,
    extractors: 4,
    pipeline: 5,
    report: 6,
    serve: 7,
    cli: 8,
  };
  const SRC = path.join(REPO, 'src');
  const folderOf = (file: string) => {
    const rel = path.relative(SRC, file).split(path.sep);
    return rel.length === 1 ? '.' : rel[0]!;
  };

  it('no module imports a folder above its own (nor a cycle between folders)', () => {
    const walk = (d: string): string[] =>
      fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.ts') ? [path.join(d, e.name)] : []));
    const bad: string[] = [];
    for (const file of walk(SRC)) {
      if (path.relative(SRC, file) === 'index.ts') continue; // the library entry re-exports everything
      const from = folderOf(file);
      expect(RANK[from], `folder ${from} needs a rank`).toBeDefined();
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
        const to = folderOf(path.resolve(path.dirname(file), m[1]!));
        if (to !== from && RANK[to]! >= RANK[from]!) bad.push(`${path.relative(SRC, file)} → ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('--contact matches a number however it was written', () => {
  it('E.164 finds the contact card stored in national format, and a national number finds E.164 counterparts', async () => {
    const c = path.join(tmpDir(), 'c.db');
    await ingest({ backupDir: SAMPLE, casePath: c, tz: 'UTC', region: 'US' });
    // Ben Haddad's card holds "326-568-7319"; his messages and calls name +13265687319 (the sample's ground truth).
    const out = path.join(tmpDir(), 'e164.jsonl');
    expect((await cli(['export', '--case', c, '--format', 'jsonl', '--out', out, '--contact', '+13265687319'])).code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; counterpart: string | null });
    expect(lines.some((l) => l.kind === 'contact')).toBe(true);
    expect(lines.some((l) => l.kind === 'message' && l.counterpart === '+13265687319')).toBe(true);
    const national = path.join(tmpDir(), 'national.jsonl');
    expect((await cli(['export', '--case', c, '--format', 'jsonl', '--out', national, '--contact', '(326) 568-7319'])).code).toBe(0);
    expect(fs.readFileSync(national, 'utf8').trim().split('\n').length).toBe(lines.length);
  });
});
