// Photos bench: Photos.sqlite ingest (assets/s, with a few thousand DCIM files among 200,000 assets) and
// media throughput (files/s copied, hashed and read for EXIF).
import path from 'node:path';
import { buildBackup } from '../fixtures/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { peakRssMb, type BenchSection } from './types.js';

/** Whole ingest time, and the part until the photos extractor finished (before indexes, FTS and digests). */
/** CPU seconds are reported too: on a shared, loaded machine they say more than wall time. */
async function timedIngest(root: string, casePath: string): Promise<{ s: number; extractS: number; cpuS: number; events: number }> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  let done = t;
  const r = await ingest({
    backupDir: root,
    casePath,
    tz: 'UTC',
    region: 'US',
    only: ['photos'],
    onExtractorDone: () => {
      done = performance.now();
    },
  });
  const c = process.cpuUsage(cpu);
  return { s: (performance.now() - t) / 1000, extractS: (done - t) / 1000, cpuS: (c.user + c.system) / 1e6, events: r.events };
}

export const photosBench: BenchSection = {
  id: 'photos',
  title: 'Photos.sqlite assets, DCIM files through EXIF',
  async run({ scale, tmp }) {
    const assets = Math.round(200_000 * scale);
    const files = Math.max(50, Math.round(3_000 * scale));
    let t = performance.now();
    buildBackup({ root: path.join(tmp, 'a'), seed: 11, contacts: 0, calls: 0, strangers: 0, photos: assets, mediaFiles: files });
    const buildS = (performance.now() - t) / 1000;
    const a = await timedIngest(path.join(tmp, 'a'), path.join(tmp, 'a.db'));
    // Every asset with a file: the time is dominated by copy + SHA-256 + EXIF.
    t = performance.now();
    buildBackup({ root: path.join(tmp, 'b'), seed: 12, contacts: 0, calls: 0, strangers: 0, photos: files, mediaFiles: files });
    const b = await timedIngest(path.join(tmp, 'b'), path.join(tmp, 'b.db'));
    return [
      { area: 'photos', metric: 'fixture build', value: buildS, unit: 's', note: `${assets} assets, ${files} files` },
      {
        area: 'photos',
        metric: 'assets ingested/s',
        value: assets / a.s,
        unit: 'assets/s',
        note: `${assets} assets (${files} with files, ${a.events} events) in ${a.s.toFixed(2)} s (${a.cpuS.toFixed(2)} CPU s); target ≥ 20,000`,
      },
      {
        area: 'photos',
        metric: 'assets extracted/s (open + extractor only)',
        value: assets / a.extractS,
        unit: 'assets/s',
        note: `${a.extractS.toFixed(2)} s of the ${a.s.toFixed(2)} s; the rest is indexes, full-text index and case digest`,
      },
      {
        area: 'photos',
        metric: 'media files/s (copy, hash, EXIF)',
        value: files / b.s,
        unit: 'files/s',
        note: `${files} files in ${b.s.toFixed(2)} s (${b.cpuS.toFixed(2)} CPU s); target ≥ 500`,
      },
      { area: 'photos', metric: 'peak RSS', value: peakRssMb(), unit: 'MB' },
    ];
  },
};
