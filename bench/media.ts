// Orphan media and extract bench: a backup whose camera roll holds orphan movies (~1 GB at scale 1) and JPEGs,
// ingested (orphan files/s: copy, SHA-256, EXIF or MediaInfo), then `extract` of every file (MB/s) against `cp`
// of the same payload files and `sha256sum` of them in the same run: the floor an extract cannot beat.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildBackup } from '../fixtures/build.js';
import { jpegWithExif } from '../fixtures/artifacts/photos.js';
import { quickTimeMovie } from '../fixtures/artifacts/quicktime.js';
import { extractMedia } from '../src/report/extract.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { runIngestChild, type BenchSection } from './types.js';

const MOVIE_MB = 25;

export const mediaBench: BenchSection = {
  id: 'media',
  title: 'Orphan media ingest and extract (MB/s against cp)',
  async run({ scale, tmp }) {
    const movies = Math.max(2, Math.round(40 * scale));
    const jpegs = Math.max(20, Math.round(400 * scale));
    const root = path.join(tmp, 'backup');
    const payloads: string[] = [];
    buildBackup({
      root,
      seed: 5,
      contacts: 0,
      calls: 0,
      strangers: 0,
      extend: (w) => {
        const filler = crypto.randomBytes(MOVIE_MB << 20);
        for (let i = 0; i < movies; i++) {
          const created = new Date(Date.UTC(2023, 0, 1) + i * 3_600_000);
          filler.writeUInt32BE(i, 0); // every movie distinct
          const id = w.addFile(
            'CameraRollDomain',
            `Media/DCIM/100APPLE/IMG_${1000 + i}.MOV`,
            Buffer.concat([quickTimeMovie({ created, durationS: 30, iso6709: '+48.8584+002.2945/' }), filler]),
          );
          payloads.push(path.join(root, id.slice(0, 2), id));
        }
        for (let i = 0; i < jpegs; i++) {
          const t = Date.UTC(2023, 1, 1) + i * 60_000;
          const id = w.addFile(
            'CameraRollDomain',
            `Media/DCIM/101APPLE/IMG_${2000 + i}.JPG`,
            jpegWithExif({ utcMs: t, localMs: t + 3_600_000, offset: '+01:00', gps: { lat: 52.52, lon: 13.405 } }),
          );
          payloads.push(path.join(root, id.slice(0, 2), id));
        }
      },
    });
    const mb = payloads.reduce((s, p) => s + fs.statSync(p).size, 0) / 1e6;
    const casePath = path.join(tmp, 'case.db');
    const ing = runIngestChild(root, casePath, 'orphan-media');
    const orphans = ing.summaries.find((s) => s.extractor === 'orphan-media')?.events ?? 0;

    spawnSync('sync');
    const out = path.join(tmp, 'out');
    const cf = CaseFile.open(casePath);
    let t = performance.now();
    const r = await extractMedia(cf, { outDir: out, kinds: ['photos', 'videos'], filter: {}, tz: 'UTC', open: {} });
    const extractS = (performance.now() - t) / 1000;
    cf.close();

    spawnSync('sync');
    const cpDir = path.join(tmp, 'cp');
    fs.mkdirSync(cpDir);
    t = performance.now();
    const cp = spawnSync('cp', ['-p', ...payloads, cpDir]);
    const cpS = (performance.now() - t) / 1000;
    t = performance.now();
    spawnSync('sha256sum', payloads, { maxBuffer: 64 << 20 });
    const shaS = (performance.now() - t) / 1000;
    if (cp.status !== 0) throw new Error(`cp failed: ${cp.stderr}`);
    return [
      {
        area: 'media',
        metric: 'orphan files ingested/s',
        value: orphans / ing.seconds,
        unit: 'files/s',
        note: `${orphans} orphans (${movies} movies of ${MOVIE_MB} MB, ${jpegs} JPEGs; ${mb.toFixed(0)} MB) in ${ing.seconds.toFixed(2)} s including the evidence hash pass`,
      },
      {
        area: 'media',
        metric: 'extract throughput',
        value: mb / extractS,
        unit: 'MB/s',
        note: `${r.written} files, ${mb.toFixed(0)} MB in ${extractS.toFixed(2)} s: read + SHA-256 check + write, then manifest hashing`,
      },
      { area: 'media', metric: 'cp of the same files', value: mb / cpS, unit: 'MB/s', note: `${cpS.toFixed(2)} s` },
      {
        area: 'media',
        metric: 'cp + sha256sum floor',
        value: mb / (cpS + shaS),
        unit: 'MB/s',
        note: `extract took ${(extractS / (cpS + shaS)).toFixed(2)}× the time of cp + sha256sum (${(cpS + shaS).toFixed(2)} s), though it hashes twice: the evidence check and the manifest`,
      },
    ];
  },
};
