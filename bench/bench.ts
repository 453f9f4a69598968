// npm run bench [-- --scale 0.1] [--only id,id]: builds synthetic backups and prints throughput and peak memory.
// Each section runs in its own child process so its peak RSS is its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchRow, BenchSection } from './types.js';
import { SECTIONS } from './sections.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function runOne(section: BenchSection, scale: number): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${section.id}-`));
  try {
    const rows = await section.run({ scale, tmp });
    process.stdout.write(JSON.stringify(rows) + '\n');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const scale = Number(arg('scale') ?? '1');
  const child = arg('child');
  if (child) {
    const s = SECTIONS.find((x) => x.id === child);
    if (!s) throw new Error(`unknown section ${child}`);
    await runOne(s, scale);
    return;
  }
  const only = arg('only')?.split(',');
  const all: BenchRow[] = [];
  console.log(`ios-timeline bench — scale ${scale}, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString()}`);
  for (const s of SECTIONS) {
    if (only && !only.includes(s.id)) continue;
    process.stderr.write(`\n== ${s.title}\n`);
    const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', fileURLToPath(import.meta.url), '--child', s.id, '--scale', String(scale)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      const rows = JSON.parse(line) as BenchRow[];
      all.push(...rows);
      for (const row of rows) process.stderr.write(`   ${row.metric}: ${fmt(row.value)} ${row.unit}${row.note ? `  (${row.note})` : ''}\n`);
    } catch {
      all.push({ area: s.id, metric: 'failed', value: r.status ?? -1, unit: 'exit code', note: line.slice(0, 200) });
    }
  }
  console.log('\n| area | metric | value | unit | note |\n|---|---|---:|---|---|');
  for (const r of all) console.log(`| ${r.area} | ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${r.note ?? ''} |`);
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
