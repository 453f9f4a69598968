// HEIC → JPEG for `extract --convert-heic jpeg`: heic-convert (libheif as wasm, no download at install), in a
// worker thread under a size and time budget. A 12 MP iPhone HEIC takes ~5–10 s on a busy 2-core machine.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import convert from 'heic-convert';

export const HEIC_BUDGET = { maxBytes: 64 * 1024 * 1024, timeoutMs: 120_000 };

/** Convert on this thread (the worker calls this; tests running the TypeScript sources do too). */
export async function convertHeicHere(file: string): Promise<Uint8Array> {
  const size = fs.statSync(file).size;
  if (size > HEIC_BUDGET.maxBytes) throw new Error(`${size} bytes is over the HEIC conversion budget of ${HEIC_BUDGET.maxBytes} bytes`);
  return new Uint8Array(await convert({ buffer: fs.readFileSync(file), format: 'JPEG', quality: 0.92 }));
}

function workerScript(): string | null {
  const here = fileURLToPath(new URL('./heicWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])report([\\/])heicWorker\.js$/, '$1dist$1src$2report$3heicWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

/** JPEG bytes of a HEIC file, within the budget; throws with a readable message. */
export function convertHeic(file: string): Promise<Uint8Array> {
  const script = workerScript();
  if (!script) return convertHeicHere(file);
  return new Promise((resolve, reject) => {
    const w = new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    const timer = setTimeout(() => finish(new Error(`HEIC conversion did not finish within ${HEIC_BUDGET.timeoutMs / 1000} s and was stopped`)), HEIC_BUDGET.timeoutMs);
    let settled = false;
    const finish = (err: Error | null, jpeg?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void w.terminate();
      if (err) reject(err);
      else resolve(jpeg!);
    };
    w.on('message', (m: { ok: boolean; jpeg?: Uint8Array; error?: string }) => (m.ok ? finish(null, m.jpeg) : finish(new Error(m.error))));
    w.on('error', (e) => finish(new Error(`HEIC conversion failed (${e.message})`)));
    w.on('exit', () => finish(new Error('HEIC conversion thread exited')));
    w.postMessage({ file });
  });
}
