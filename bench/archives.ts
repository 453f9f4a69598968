// File-system archives: ingest of a tar and a zip of a file-system tree (the fixture's databases plus filler
// media and system files, 2 GB at scale 1) against the floor of reading the same archive: `tar -tf` (or
// `unzip -t`) plus `sha256sum`, run one after the other in the same run, page cache warm.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { buildBackup } from '../fixtures/build.js';
import { backupToTree } from '../fixtures/fileSystemWriter.js';
import { runIngestChild, type BenchRow, type BenchSection } from './types.js';

function seconds(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

/** Filler files: a few large videos in the camera roll, many small system files; incompressible bytes. */
function addFiller(tree: string, bytes: number): void {
  const pool = randomBytes(8 << 20);
  const write = (rel: string, size: number, salt: number) => {
    const p = path.join(tree, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const fd = fs.openSync(p, 'w');
    for (let off = 0; off < size; off += 1 << 20) fs.writeSync(fd, pool, (salt * 7919 + off) % (7 << 20), Math.min(1 << 20, size - off));
    fs.closeSync(fd);
  };
  const large = Math.floor((bytes * 0.9) / (64 << 20));
  for (let i = 0; i < large; i++) write(`filesystem1/private/var/mobile/Media/DCIM/100APPLE/IMG_${String(i).padStart(4, '0')}.MOV`, 64 << 20, i);
  const small = Math.floor((bytes * 0.1) / (16 << 10));
  for (let i = 0; i < small; i++) write(`filesystem1/System/Library/Filler/${i % 50}/f${i}.bin`, 16 << 10, i);
}

export const archivesBench: BenchSection = {
  id: 'archives',
  title: 'File-system tar and zip: ingest vs tar -tf / unzip -t + sha256sum',
  async run({ scale, tmp }): Promise<BenchRow[]> {
    const backup = path.join(tmp, 'backup');
    buildBackup({ root: backup, seed: 5, contacts: 50, calls: 500, messages: Math.round(20_000 * scale) || 200, photos: 20, mediaFiles: 10, locations: true });
    const tree = path.join(tmp, 'tree');
    backupToTree(backup, tree, { prefix: 'filesystem1' });
    addFiller(tree, Math.round(2e9 * scale));
    const tar = path.join(tmp, 'fs.tar');
    const zip = path.join(tmp, 'fs.zip');
    execFileSync('tar', ['-cf', tar, '-C', tree, '.']);
    execFileSync('zip', ['-q', '-r', '-1', zip, '.'], { cwd: tree });
    const rows: BenchRow[] = [];
    for (const [kind, file, list] of [
      ['tar', tar, ['tar', '-tf', tar]],
      ['zip', zip, ['unzip', '-tq', zip]],
    ] as const) {
      const mb = fs.statSync(file).size / 1e6;
      execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] }); // page cache warm for both
      const floor =
        seconds(() => execFileSync(list[0], list.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] })) +
        seconds(() => execFileSync('sha256sum', [file], { stdio: ['ignore', 'ignore', 'inherit'] }));
      const r = runIngestChild(file, path.join(tmp, `${kind}.db`));
      rows.push(
        { area: 'archives', metric: `${kind}: archive size`, value: mb, unit: 'MB' },
        { area: 'archives', metric: `${kind}: ${list[0]} ${list[1]} + sha256sum`, value: floor, unit: 's', note: `${(mb / floor).toFixed(0)} MB/s` },
        {
          area: 'archives',
          metric: `${kind}: ingest`,
          value: r.seconds,
          unit: 's',
          note: `${(mb / r.seconds).toFixed(0)} MB/s, ${r.events} events, peak RSS ${Math.round(r.rssMb)} MB`,
        },
        { area: 'archives', metric: `${kind}: ingest / floor`, value: r.seconds / floor, unit: '×', note: `evidence pass ${r.timings.evidence_hashing ?? '?'} s of it` },
      );
    }
    return rows;
  },
};
