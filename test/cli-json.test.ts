// --json on the commands that print results: one JSON document on stdout that a script can rely on.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { cli, fixture, tmpDir } from './helpers.js';

describe('--json', () => {
  it('ingest, export and report print their results as JSON that matches the case file and the files written', async () => {
    const truth = fixture();
    const dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    const ing = await cli(['ingest', truth.root, '--case', casePath, '--quiet', '--json']);
    expect(ing.code).toBe(0);
    const s = JSON.parse(ing.stdout);
    const db = new Database(casePath, { readonly: true });
    const events = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
    const runs = db.prepare('SELECT extractor, status, events FROM extractor_runs ORDER BY extractor').all() as { extractor: string; status: string; events: number }[];
    db.close();
    expect(s.status).toBe('complete');
    expect(s.events).toBe(events);
    expect(
      s.extractors
        .filter((x: { id: string }) => x.id !== 'recovery')
        .map((x: { id: string; status: string; events: number }) => ({ extractor: x.id, status: x.status, events: x.events }))
        .sort((a: { extractor: string }, b: { extractor: string }) => (a.extractor < b.extractor ? -1 : 1)),
    ).toEqual(runs.filter((r) => r.extractor !== 'recovery'));
    // The calls the fixture wrote are all there.
    expect(s.extractors.find((x: { id: string }) => x.id === 'calls').events).toBe(truth.calls.length);

    const out = path.join(dir, 'timeline.jsonl');
    const exp = await cli(['export', '--case', casePath, '--format', 'jsonl', '--out', out, '--json']);
    expect(exp.code).toBe(0);
    const e = JSON.parse(exp.stdout);
    expect(e.events).toBe(fs.readFileSync(out, 'utf8').trim().split('\n').length);
    expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(e.complete).toBe(true);

    const rep = await cli(['report', '--case', casePath, '--out', path.join(dir, 'rep'), '--format', 'html', '--json']);
    expect(rep.code).toBe(0);
    const r = JSON.parse(rep.stdout);
    expect(r.outputs.map((o: { path: string }) => path.basename(o.path))).toEqual(['report.html']);
    expect(r.outputs[0].bytes).toBe(fs.statSync(path.join(dir, 'rep', 'report.html')).size);
    expect(r.events).toBe(events);
  });
});
