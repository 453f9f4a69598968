// The MediaInfo worker: reads one working copy per message with mediainfo.js (MediaInfoLib compiled to wasm),
// pulling only the chunks it asks for, and stops it past the byte budget. In a worker thread the caller
// (video.ts) can end it at a deadline: a wasm loop on a damaged file cannot be interrupted any other way.
import { parentPort } from 'node:worker_threads';
import { analyzeVideo, type VideoRequest } from './video.js';

parentPort?.on('message', (m: VideoRequest) => {
  void analyzeVideo(m).then(
    (value) => parentPort!.postMessage({ ok: true, value }),
    (e: unknown) => parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
