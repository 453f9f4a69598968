// A large case's HTML report is split: report.html is the index (every section but the event lists, and links to
// the period pages), each page holds one month (cut by day when a month is too big), every event is on exactly
// one page, the links resolve, the manifest lists every page and verify passes. A small case keeps one file.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildSyntheticCase } from '../bench/reportCase.js';
import { cli, tmpDir } from './helpers.js';

function block(html: string, name: string): unknown[] | null {
  const m = new RegExp(`<script type="application/json" id="d-${name}">([\\s\\S]*?)</script>`).exec(html);
  return m ? (JSON.parse(m[1]) as unknown[]) : null;
}
const links = (html: string) => [...html.matchAll(/<nav class="report-pages[\s\S]*?<\/nav>/g)].flatMap((n) => [...n[0].matchAll(/href="([^"]+)"/g)].map((m) => m[1]));

describe('split HTML report', async () => {
  const d = tmpDir('iot-split-');
  const cp = path.join(d, 'case.db');
  const truth = buildSyntheticCase(cp, { events: 3000, days: 92, startMs: Date.UTC(2024, 0, 1, 12) });
  // Two undated events and one from the year 2200: they get a page of their own.
  const db = new Database(cp);
  const ins = db.prepare("INSERT INTO events (ts_utc_us, kind, action, body, extractor) VALUES (?, 'note', 'modified', ?, 'test')");
  ins.run(null, 'undated one');
  ins.run(null, 'undated two');
  ins.run(Date.UTC(2200, 0, 1) * 1000, 'far future');
  const ids = (db.prepare('SELECT id FROM events').pluck().all() as number[]).sort((a, b) => a - b);
  db.close();
  const out = path.join(d, 'out');
  const r = await cli(['report', '--case', cp, '--out', out, '--format', 'html', '--page-events', '1000', '--tz', 'America/New_York']);

  it('writes an index and one page per month, months above the limit cut by day', () => {
    expect(r.code).toBe(0);
    const files = fs
      .readdirSync(out)
      .filter((f) => f.endsWith('.html'))
      .sort();
    expect(files).toContain('report.html');
    expect(files).toContain('report-undated.html');
    for (const m of ['2024-01', '2024-02', '2024-03']) expect(files.some((f) => f.startsWith(`report-${m}`))).toBe(true);
    // ~3,240 events in three months: each month holds more than 1,000, so each is cut into parts.
    expect(files.filter((f) => /-part\d+\.html$/.test(f)).length).toBeGreaterThanOrEqual(6);
    const index = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(block(index, 'events')).toBeNull();
    expect(block(index, 'files')).not.toBeNull();
    expect(index).toContain('id="custody"');
    expect(links(index).sort()).toEqual(files.filter((f) => f !== 'report.html').sort());
  });

  it('puts every event on exactly one page, none above the limit but a single busy day', () => {
    const seen = new Map<number, number>();
    for (const f of fs.readdirSync(out).filter((x) => /^report-.*\.html$/.test(x))) {
      const ev = block(fs.readFileSync(path.join(out, f), 'utf8'), 'events') as [number][];
      expect(ev.length).toBeGreaterThan(0);
      expect(ev.length).toBeLessThanOrEqual(1000);
      // A month is cut into parts of about equal size (~540 + ~540 here, not 1,000 + 80).
      if (/-part\d+\.html$/.test(f)) expect(ev.length).toBeGreaterThan(300);
      for (const e of ev) seen.set(e[0], (seen.get(e[0]) ?? 0) + 1);
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(ids);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(ids.length).toBe(truth.events + 3);
    const undated = block(fs.readFileSync(path.join(out, 'report-undated.html'), 'utf8'), 'events') as unknown[][];
    expect(undated.map((e) => e[8]).sort()).toEqual(['far future', 'undated one', 'undated two']);
  });

  it('links every page back to the index and to every other page, and every link resolves', () => {
    const pages = fs.readdirSync(out).filter((x) => /^report-.*\.html$/.test(x));
    for (const f of pages) {
      const l = links(fs.readFileSync(path.join(out, f), 'utf8'));
      expect(l).toContain('report.html');
      expect(l.sort()).toEqual(['report.html', ...pages.filter((p) => p !== f)].sort());
      for (const h of l) expect(fs.existsSync(path.join(out, h))).toBe(true);
    }
    // The contents bar of each page links only sections that page holds.
    for (const f of ['report.html', ...pages]) {
      const html = fs.readFileSync(path.join(out, f), 'utf8');
      const toc = html.match(/<nav class="toc"[\s\S]*?<\/nav>/)![0];
      const anchors = [...toc.matchAll(/href="#([a-z]+)"/g)].map((m) => m[1]);
      expect(anchors.length).toBeGreaterThan(0);
      for (const a of anchors) expect(html).toContain(`id="${a}"`);
    }
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8').match(/<nav class="toc"[\s\S]*?<\/nav>/)![0]).not.toContain('#timeline');
  });

  it('lists every page in the manifest, and the folder verifies', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { outputs?: { path: string }[]; files?: { path: string }[] };
    const listed = JSON.stringify(manifest);
    for (const f of fs.readdirSync(out).filter((x) => x.endsWith('.html'))) expect(listed).toContain(`"${f}"`);
    const v = await cli(['verify', out, '--case', cp, '--no-record']);
    expect(v.code).toBe(0);
    fs.rmSync(path.join(out, 'report-2024-02-part1.html'));
    const broken = await cli(['verify', out, '--case', cp, '--no-record']);
    expect(broken.code).not.toBe(0);
    expect(broken.stdout + broken.stderr).toContain('report-2024-02-part1.html');
  });

  it('keeps a case at or below the limit in one file', async () => {
    const small = path.join(d, 'small');
    expect((await cli(['report', '--case', cp, '--out', small, '--format', 'html'])).code).toBe(0);
    expect(fs.readdirSync(small).filter((f) => f.endsWith('.html'))).toEqual(['report.html']);
    expect((block(fs.readFileSync(path.join(small, 'report.html'), 'utf8'), 'events') as unknown[]).length).toBe(ids.length);
  });
});
