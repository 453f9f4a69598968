// Bounded, seeded, replayable fuzzing of the parsers that read evidence bytes: binary plists (bplist-parser
// through parsePlist), NSKeyedArchiver (decodeMBFile → unarchive), typedstream (attributedBody) and the EXIF
// path (structure checks + exifr + interpretExif). Each iteration must return or throw an Error quickly.
//
// Replay: the seed is printed; FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts runs the same inputs.
// FUZZ_BUDGET_MS (per target, default 3500) and FUZZ_MAX_ITERATIONS bound the run; an iteration's input depends only on seed, target and number, so a failure replays anywhere. A stuck or crashing
// iteration fails the test with its (seed, target, iteration), and its input is written to a file.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { REPO, tmpDir } from './helpers.js';
import { FUZZ_TARGETS, bplistExpandedSize, bplistFanoutBomb, corpus, fuzzInput, type FuzzReport, type FuzzTarget } from '../fixtures/fuzz.js';
import { bplistStructureProblem, parsePlist, unarchive, type PlistValue } from '../src/formats/plist.js';
import { UID } from 'bplist-parser';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 3500);
const MAX_ITERATIONS = Number(process.env.FUZZ_MAX_ITERATIONS ?? 1_000_000);
/** One iteration that runs longer than this is a hang (inputs are at most a few hundred KB). */
const STUCK_MS = 5000;
const SLOW_MS = 1000;
const WORKER = path.join(REPO, 'dist/fixtures/fuzz.js');

console.log(`fuzz seed ${SEED} — replay with FUZZ_SEED=${SEED} npx vitest run test/fuzz.test.ts`);

interface Outcome {
  report?: FuzzReport;
  stuck?: { i: number };
  crashed?: string;
}

/** Run one target on a worker; terminate it when one iteration stays in progress for STUCK_MS. */
function fuzzOnWorker(target: FuzzTarget | 'selftest-hang'): Promise<Outcome> {
  const progress = new SharedArrayBuffer(8);
  const view = new Int32Array(progress);
  const worker = new Worker(WORKER, {
    workerData: { role: 'ios-timeline-fuzz', target, seed: SEED, budgetMs: BUDGET_MS, maxIterations: MAX_ITERATIONS, progress, slowMs: SLOW_MS },
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  return new Promise((resolve) => {
    let last = -1,
      since = Date.now(),
      done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearInterval(watch);
      void worker.terminate();
      resolve(o);
    };
    const watch = setInterval(() => {
      const i = Atomics.load(view, 0);
      if (i !== last) {
        last = i;
        since = Date.now();
        return;
      }
      if (Atomics.load(view, 1) === 0 && Date.now() - since > STUCK_MS) finish({ stuck: { i } });
    }, 100);
    worker.on('message', (m: FuzzReport | { crashed: string }) => finish('crashed' in m ? { crashed: m.crashed } : { report: m }));
    worker.on('error', (e) => finish({ crashed: `${e.message} (in iteration ${Atomics.load(view, 0)})` }));
    worker.on('exit', (code) => finish({ crashed: `worker exited with code ${code} in iteration ${Atomics.load(view, 0)}` }));
  });
}

describe(`fuzzing the evidence parsers (seed ${SEED})`, () => {
  it(
    'the fuzz worker is built, and a hang inside a parser is caught and named',
    async () => {
      expect(fs.existsSync(WORKER), `${WORKER} is missing: run \`npx tsc -p tsconfig.json\` first`).toBe(true);
      const o = await fuzzOnWorker('selftest-hang'); // exifr on a zeroed HEIC, without our structure check
      expect(o.stuck).toEqual({ i: 0 });
    },
    STUCK_MS + 30_000,
  );

  it('refuses a bplist reference bomb before expanding it, and still reads ordinary plists', () => {
    for (const f of ['Info.plist', 'Manifest.plist', 'Status.plist'])
      expect(bplistExpandedSize(fs.readFileSync(path.join(REPO, 'fixtures/sample-backup', f)))).toBeLessThan(10_000);
    expect(bplistExpandedSize(bplistFanoutBomb(10))).toBe(1023); // 2^10 - 1 objects from 10
    expect(bplistExpandedSize(bplistFanoutBomb(40))).toBeGreaterThan(1_000_000); // 114 bytes
    expect(() => parsePlist(bplistFanoutBomb(40), 'bomb.plist')).toThrow(/bomb\.plist is a hostile binary plist: its shared references expand to more than 500,000 objects/);
    expect(parsePlist(bplistFanoutBomb(10))).toBeInstanceOf(Array); // 1,023 objects: an ordinary size
  });

  it('refuses a trailer whose offset table cannot fit in the file before bplist-parser reads it', () => {
    // The shape the fuzz test found (seed 1560081835, keyed-archive, iteration 3822): offsets of 0 bytes and
    // 1,908,255 objects in 353 bytes, which bplist-parser turned into an offset table before failing (340 ms).
    const ok = bplistFanoutBomb(10); // a well-formed binary plist of 10 objects
    expect(bplistStructureProblem(ok)).toBeNull();
    expect(parsePlist(ok)).toBeInstanceOf(Array);
    const t = ok.length - 32;
    const zeroOffsets = Buffer.from(ok);
    zeroOffsets[t + 6] = 0;
    zeroOffsets.writeBigUInt64BE(0x1d1e1fn, t + 8);
    expect(() => parsePlist(zeroOffsets, 'MBFile')).toThrow('MBFile is a damaged binary plist (trailer declares offsets of 0 and references of');
    const tooMany = Buffer.from(ok);
    tooMany.writeBigUInt64BE(1_900_000n, t + 8); // the object count the parser would accept (up to 2 million)
    expect(() => parsePlist(tooMany, 'MBFile')).toThrow('MBFile is a damaged binary plist (trailer declares 1900000 objects whose offset table does not fit in the file)');
    const topOutside = Buffer.from(ok);
    topOutside.writeBigUInt64BE(topOutside.readBigUInt64BE(t + 8), t + 16);
    expect(() => parsePlist(topOutside, 'MBFile')).toThrow(/top object \d+ is not among its \d+ objects/);
  });

  it('refuses an array whose declared length runs past the end of the file before bplist-parser loops over it', () => {
    // 50 bytes: object 0 an integer, object 1 (the top) an array declaring `len` entries of 8-byte references
    // with none in the file; bplist-parser read them past the end as object 0: 30 million entries, 12 s, 356 MB.
    const bomb = (len: number) => {
      const array = Buffer.from([0xaf, 0x12, 0, 0, 0, 0]);
      array.writeUInt32BE(len, 2);
      const trailer = Buffer.alloc(32);
      trailer[6] = 1;
      trailer[7] = 8;
      trailer.writeBigUInt64BE(2n, 8);
      trailer.writeBigUInt64BE(1n, 16);
      trailer.writeBigUInt64BE(16n, 24);
      return Buffer.concat([Buffer.from('bplist00', 'latin1'), Buffer.from([0x10, 0x01]), array, Buffer.from([8, 10]), trailer]);
    };
    expect(() => parsePlist(bomb(30_000_000), 'MBFile')).toThrow(
      'MBFile is a damaged binary plist (object 1 declares 30000000 entries whose references run past the end of the file)',
    );
    expect(() => parsePlist(bomb(1), 'MBFile')).toThrow(/object 1 declares 1 entries/);
    expect(parsePlist(bomb(0), 'MBFile')).toEqual([]); // the same file with an empty array is a plist
  });

  it('resolves each keyed-archive object once: 30 keys × 5 levels all naming the next object', () => {
    const objects: unknown[] = ['$null'];
    for (let level = 0; level < 6; level++) {
      const next = level < 5 ? new UID(objects.length + 1) : 'leaf';
      objects.push(Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`k${k}`, next])));
    }
    const archive = { $archiver: 'NSKeyedArchiver', $top: { root: new UID(1) }, $objects: objects } as unknown as PlistValue;
    const t0 = performance.now();
    const root = unarchive(archive) as Record<string, Record<string, unknown>>;
    expect(performance.now() - t0).toBeLessThan(5_000); // 30^5 resolutions took 45 s before; this is a hang guard, not a timing claim
    expect(root.k0!.k29).toBe(root.k1!.k0);
  });

  for (const target of FUZZ_TARGETS) {
    it(
      `${target}: every mutated input returns or throws an Error within ${STUCK_MS / 1000} s`,
      async () => {
        const o = await fuzzOnWorker(target);
        const inputs = corpus(target).inputs;
        const where = (i: number) => {
          const file = path.join(tmpDir('iot-fuzz-'), `${target}-seed${SEED}-iter${i}.bin`);
          fs.writeFileSync(file, fuzzInput(target, SEED, i, inputs));
          return `seed ${SEED}, target ${target}, iteration ${i} (input: ${file})`;
        };
        // Every slow or stuck input fails: bplist reference bombs are refused by parsePlist before bplist-parser
        // expands them, and unarchive resolves each object once.
        if (o.stuck) expect.fail(`hang: ${where(o.stuck.i)} ran more than ${STUCK_MS / 1000} s`);
        if (o.crashed) expect.fail(`crash: ${o.crashed}`);
        const r = o.report!;
        console.log(
          `${target}: ${r.iterations} iterations over ${r.corpus} inputs${r.realdata ? ' (with real third-party files)' : ''}; outcomes:\n` +
            Object.entries(r.errors)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 12)
              .map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`)
              .join('\n'),
        );
        expect(r.corpus).toBeGreaterThan(0);
        expect(r.iterations).toBeGreaterThan(50);
        expect(r.findings.map((f) => `${f.problem} — ${where(f.i)}`)).toEqual([]);
      },
      BUDGET_MS + 60_000,
    );
  }
});
