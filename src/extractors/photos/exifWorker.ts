// The exifr worker: parses one buffer per message. exifr can loop forever on damaged files (a HEIC box of
// size 0 before its meta box) or burn seconds on hostile IFDs; in a worker thread the pool in exif.ts can
// stop it at a deadline by terminating the thread. Only our own options reach exifr here.
import { parentPort } from 'node:worker_threads';
import exifr from 'exifr';
import { EXIFR_OPTIONS, type ExifrRequest, type ExifrReply } from './exif.js';

parentPort?.on('message', (m: ExifrRequest) => {
  void (async () => {
    let reply: ExifrReply;
    try {
      if (m.op === 'thumbnail') {
        const t = await exifr.thumbnail(m.buf);
        reply = { ok: true, value: t?.byteLength ? Uint8Array.from(t) : null }; // a copy: never the whole input back
      } else {
        const r = await exifr.parse(m.buf, EXIFR_OPTIONS);
        reply = { ok: true, value: r && typeof r === 'object' ? r : null };
      }
    } catch (e) {
      reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    const transfer = reply.ok && reply.value instanceof Uint8Array ? [reply.value.buffer as ArrayBuffer] : [];
    parentPort!.postMessage(reply, transfer);
  })();
});
