// Foundation bench: ingest of a large call history + address book; SHA-256 throughput vs openssl.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildBackup } from '../fixtures/build.js';
import { ingest } from '../src/pipeline/ingest.js';
import { sha256File } from '../src/custody/hash.js';
import { peakRssMb, type BenchSection } from './types.js';

export const foundation: BenchSection = {
  id: 'foundation',
  title: 'Calls + contacts ingest, SHA-256',
  async run({ scale, tmp }) {
    const calls = Math.round(200_000 * scale);
    const contacts = Math.round(5_000 * scale);
    const root = path.join(tmp, 'backup');
    let t = performance.now();
    buildBackup({ root, seed: 7, calls, contacts, callsInWal: 100, strangers: 200 });
    const buildS = (performance.now() - t) / 1000;
    t = performance.now();
    const r = await ingest({ backupDir: root, casePath: path.join(tmp, 'case.db'), tz: 'UTC', region: 'US', only: ['contacts', 'calls'] });
    const ingestS = (performance.now() - t) / 1000;
    // Hashing: one large file, our streaming hash vs openssl on the same bytes.
    const big = path.join(tmp, 'big.bin');
    const fd = fs.openSync(big, 'w');
    const chunk = Buffer.alloc(8 << 20, 0x5a);
    const mb = Math.max(64, Math.round(1024 * scale));
    for (let i = 0; i < mb / 8; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    execFileSync('cat', [big], { stdio: 'ignore' }); // warm the page cache for both
    t = performance.now();
    await sha256File(big);
    const oursS = (performance.now() - t) / 1000;
    t = performance.now();
    execFileSync('openssl', ['dgst', '-sha256', big], { stdio: 'ignore' });
    const opensslS = (performance.now() - t) / 1000;
    return [
      { area: 'foundation', metric: 'fixture build', value: buildS, unit: 's', note: `${calls} calls, ${contacts} contacts` },
      { area: 'foundation', metric: 'ingest events/s', value: r.events / ingestS, unit: 'events/s', note: `${r.events} events in ${ingestS.toFixed(2)} s` },
      { area: 'foundation', metric: 'SHA-256 (node, streaming)', value: mb / oursS, unit: 'MB/s', note: `${mb} MB` },
      { area: 'foundation', metric: 'SHA-256 (openssl dgst)', value: mb / opensslS, unit: 'MB/s', note: 'same file' },
      { area: 'foundation', metric: 'peak RSS', value: peakRssMb(), unit: 'MB' },
    ];
  },
};
