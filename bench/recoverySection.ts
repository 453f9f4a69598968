// The recovery bench (bench/recovery.ts) as a section of `npm run bench`: carving MB/s over an sms.db with 10% of
// its rows deleted, beside `cat` and `sqlite3 PRAGMA integrity_check` of the same file (the floors).
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchRow, BenchSection } from './types.js';

const MB_RATE = /(\d+) ms\s+(\d+) MB\/s/;

export const recoveryBench: BenchSection = {
  id: 'recovery',
  title: 'Deleted-record recovery: carving an sms.db with 10% of its rows deleted',
  async run({ scale, tmp }) {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recovery.js');
    const mb = Math.max(5, Math.round(300 * scale));
    const r = spawnSync(process.execPath, [script, '--mb', String(mb), '--dir', tmp], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) return [{ area: 'recovery', metric: 'failed', value: r.status ?? -1, unit: 'exit code', note: (r.stderr || '').slice(0, 200) }];
    const rows: BenchRow[] = [];
    for (const line of r.stdout.split('\n')) {
      const key = line.slice(0, 34).trim();
      const m = MB_RATE.exec(line);
      if (m) rows.push({ area: 'recovery', metric: key, value: Number(m[2]), unit: 'MB/s', note: `${m[1]} ms` });
      else if (key.startsWith('recall (rows whose bytes survive)') || key === 'peak RSS')
        rows.push({ area: 'recovery', metric: key, value: Number(/(\d+)/.exec(line.slice(34))?.[1] ?? 0), unit: key === 'peak RSS' ? 'MB' : 'rows', note: line.slice(34).trim() });
    }
    return rows;
  },
};
