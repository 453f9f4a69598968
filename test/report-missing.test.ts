// A backup that lists thousands of files it does not hold: one warning counting them by domain, a short PDF
// appendix with the counts, and every file in missing-files.csv beside the report.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, fixture, tmpDir } from './helpers.js';
import { MAX_NAMED_MISSING } from '../src/custody/evidencePass.js';
import { PDF_MISSING_LISTED_MAX } from '../src/report/viewModel.js';

describe('missing payloads', () => {
  it('are counted by domain in one warning, summarised in the report and listed in full in missing-files.csv', async () => {
    const truth = fixture();
    // Add manifest rows for files that were never copied, so the count passes both thresholds.
    const w = new Database(path.join(truth.root, 'Manifest.db'));
    const insert = w.prepare('INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?, ?, ?, 1, NULL)');
    const made: { domain: string; path: string }[] = [];
    for (let i = 0; i < PDF_MISSING_LISTED_MAX + 30; i++) {
      const domain = i % 3 ? 'HomeDomain' : 'AppDomain-com.example.gone';
      const rel = `Library/Gone/file-${String(i).padStart(4, '0')}.dat`;
      insert.run(`${String(i).padStart(4, '0')}`.padEnd(40, 'a'), domain, rel);
      made.push({ domain, path: rel });
    }
    w.close();
    expect(made.length).toBeGreaterThan(MAX_NAMED_MISSING);
    const dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    const ing = await cli(['ingest', truth.root, '--case', casePath, '--quiet']);
    expect(ing.code).toBe(0);
    const db = new Database(casePath, { readonly: true });
    const missingWarnings = db.prepare("SELECT message FROM warnings WHERE message LIKE '%not present%'").pluck().all() as string[];
    db.close();
    const home = made.filter((x) => x.domain === 'HomeDomain').length;
    expect(missingWarnings).toEqual([
      `${made.length} files listed in the manifest are not present in the backup folder (by domain: HomeDomain ${home}, AppDomain-com.example.gone ${made.length - home}); each is recorded in the files table with status 'missing'`,
    ]);

    const out = path.join(dir, 'rep');
    const rep = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--json']);
    expect(rep.code).toBe(0);
    const csv = fs.readFileSync(path.join(out, 'missing-files.csv'), 'utf8').trim().split('\r\n');
    expect(csv[0]).toBe('domain,relative_path,file_id,status,note');
    expect(
      csv
        .slice(1)
        .map((l) => l.split(',').slice(0, 2).join('/'))
        .sort(),
    ).toEqual(made.map((x) => `${x.domain}/${x.path}`).sort());
    // In the manifest (hashed), and named in the report with the per-domain counts.
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(JSON.stringify(manifest)).toContain('missing-files.csv');
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain(`${made.length} files are listed in the backup's manifest but absent`);
    expect(html).toMatch(new RegExp(`HomeDomain</td><td class="n">${home}<`));
    const v = await cli(['verify', out]);
    expect(v.code).toBe(0);
  });
});
