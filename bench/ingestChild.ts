// Runs one ingest in a fresh process and prints {seconds, cpuS, rssMb, events, statuses} as JSON, so a bench
// measures the ingest's own peak memory, not what building the fixture left behind in the parent.
import { ingest } from '../src/pipeline/ingest.js';
import { peakRssMb } from './types.js';
import { messagesTuning } from '../src/extractors/artifacts/messages.js';

// BENCH_TUNING='{"classifyInSql":false}': measure a switch of the messages extractor (e.g. the old rare-row path).
if (process.env.BENCH_TUNING) Object.assign(messagesTuning, JSON.parse(process.env.BENCH_TUNING));

const [backupDir, casePath, only, recover] = process.argv.slice(2);
const t = performance.now();
const cpu0 = process.cpuUsage();
const r = await ingest({ backupDir, casePath, tz: 'UTC', region: 'US', only: only ? only.split(',') : undefined, recover: recover !== 'no-recover' });
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  JSON.stringify({
    seconds: (performance.now() - t) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    rssMb: peakRssMb(),
    events: r.events,
    summaries: r.summaries,
    timings: r.timings,
  }) + '\n',
);
