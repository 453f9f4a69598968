// An output folder shared with other files: a re-render removes its own stale outputs, and verify names files
// it did not write as "not ours" instead of calling the folder tampered.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tmpDir } from './helpers.js';
import { buildSyntheticCase } from '../bench/reportCase.js';
import { resolveChromium } from '../src/report/pdf.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;

describe('report output folder', () => {
  it.skipIf(!HAVE_BROWSER)('an HTML-only re-render removes the earlier PDF, and files we did not write are named, not checked', async () => {
    const dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    buildSyntheticCase(casePath, { events: 40, tz: 'UTC' });
    const out = path.join(dir, 'out');
    expect((await cli(['report', '--case', casePath, '--out', out])).code).toBe(0);
    expect(fs.existsSync(path.join(out, 'report.pdf'))).toBe(true);
    fs.writeFileSync(path.join(out, 'examiner-notes.txt'), 'my notes');
    const again = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--json']);
    expect(again.code).toBe(0);
    expect(fs.existsSync(path.join(out, 'report.pdf'))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name)).not.toContain('report.pdf');
    expect(fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).not.toContain('report.pdf');
    const v = await cli(['verify', out]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('examiner-notes.txt: not ours');
    // A file carrying one of our output names that the manifest does not list is still a problem.
    fs.writeFileSync(path.join(out, 'report.pdf'), '%PDF-1.4 planted');
    const planted = await cli(['verify', out]);
    expect(planted.code).not.toBe(0);
    expect(planted.stdout).toMatch(/report\.pdf: has the name of an ios-timeline output but is not listed/);
    // The custody row of the re-render names what it removed.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(casePath, { readonly: true });
    const last = db.prepare("SELECT detail_json FROM custody WHERE action = 'report' ORDER BY seq DESC LIMIT 1").pluck().get() as string;
    db.close();
    expect(JSON.parse(last).removed_stale_outputs).toEqual(['report.pdf']);
  });

  it.skipIf(!HAVE_BROWSER)('a modified earlier output is not removed: verify reports it', async () => {
    const dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    buildSyntheticCase(casePath, { events: 20, tz: 'UTC' });
    const out = path.join(dir, 'out');
    expect((await cli(['report', '--case', casePath, '--out', out])).code).toBe(0);
    fs.appendFileSync(path.join(out, 'report.pdf'), 'tampered');
    expect((await cli(['report', '--case', casePath, '--out', out, '--format', 'html'])).code).toBe(0);
    expect(fs.existsSync(path.join(out, 'report.pdf'))).toBe(true);
    const v = await cli(['verify', out]);
    expect(v.code).not.toBe(0);
    expect(v.stdout).toContain('report.pdf');
  });
});
