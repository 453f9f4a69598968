// The HEIC → JPEG worker: one conversion per message with heic-convert (libheif compiled to wasm). In a worker
// thread the caller (heic.ts) can stop a conversion at its deadline; the wasm decoder cannot be interrupted otherwise.
import { parentPort } from 'node:worker_threads';
import { convertHeicHere } from './heic.js';

parentPort?.on('message', (m: { file: string }) => {
  void convertHeicHere(m.file).then(
    (jpeg) => parentPort!.postMessage({ ok: true, jpeg }, [jpeg.buffer as ArrayBuffer]),
    (e: unknown) => parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
