// One thread of the parallel export (exportParallel.ts): its own read-only connection runs the line SQL of the time
// ranges it is given and hands back their finished bytes in pieces, in order, transferred rather than copied.
// The main thread blocks on `signal` (it reads the pieces with receiveMessageOnPort, its event loop never runs), so
// every outcome, a failure to start included, comes back as a message: an unreported death would only show as a stall.
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';

export interface ExportTask {
  chunk: number;
  sql: string;
  params: unknown[];
}

/** Close the connection and say so (chunk CLOSED): the caller may need the case file to itself right after. */
export const CLOSED = -2;

export type ExportReply =
  | { chunk: number; bytes: ArrayBuffer; length: number }
  | { chunk: number; done: true; n: number }
  /** chunk −1: the worker could not start (the export then runs on the calling thread). */
  | { chunk: number; error: string; blob: boolean; n: number };

export interface ExportWorkerData {
  role: 'ios-timeline-export';
  path: string;
  port: MessagePort;
  /** Pieces the main thread has written come back here to be filled again (fresh memory costs page faults). */
  returns: MessagePort;
  /** [0] is bumped after every reply, so the main thread can sleep in Atomics.wait until there is one; [1] set
   *  means the export failed: queued ranges are skipped and a running one stops. */
  signal: Int32Array;
}

/** Bytes per piece handed back: large enough for few messages, small enough to keep a few chunks in flight. */
const PIECE = 4 << 20;

async function serve({ path, port, returns, signal }: ExportWorkerData): Promise<void> {
  const reply = (m: ExportReply, transfer: ArrayBuffer[] = []) => {
    port.postMessage(m, transfer);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  };
  // Ranges that arrive while the connection opens wait in `early`.
  let run: ((t: ExportTask) => void) | null = null;
  const early: ExportTask[] = [];
  let closed = false;
  let close = () => {};
  port.on('message', (t: ExportTask | { close: true }) => {
    if ('close' in t) {
      closed = true;
      close();
      reply({ chunk: CLOSED, done: true, n: 0 });
    } else if (!run) early.push(t);
    else if (!Atomics.load(signal, 1)) run(t);
  });
  try {
    const { default: Database } = await import('better-sqlite3');
    const { registerExportFunctions } = await import('./exportLines.js');
    if (closed) return;
    const db = new Database(path, { readonly: true, fileMustExist: true });
    close = () => db.close();
    registerExportFunctions(db);
    const statements = new Map<string, ReturnType<typeof db.prepare<unknown[]>>>();
    // The piece being filled lives across ranges; a written one comes back through `returns` to be filled again.
    const fresh = () => {
      const back = receiveMessageOnPort(returns)?.message as ArrayBuffer | undefined;
      return back?.byteLength === PIECE ? new Uint8Array(back) : new Uint8Array(PIECE);
    };
    let piece = fresh();
    let pos = 0;
    run = ({ chunk, sql, params }) => {
      let n = 0;
      pos = 0; // bytes of a range that failed are never sent
      const send = () => {
        if (!pos) return;
        reply({ chunk, bytes: piece.buffer as ArrayBuffer, length: pos }, [piece.buffer as ArrayBuffer]);
        piece = fresh();
        pos = 0;
      };
      try {
        let stmt = statements.get(sql);
        if (!stmt) {
          stmt = db.prepare(sql).pluck();
          stmt.safeIntegers(false);
          statements.set(sql, stmt);
        }
        for (const line of stmt.iterate(...params) as Iterable<Uint8Array>) {
          if (line.length > PIECE - pos) {
            send();
            if (line.length > PIECE) {
              const own = new Uint8Array(line); // a copy: better-sqlite3's Buffer may share its memory
              reply({ chunk, bytes: own.buffer as ArrayBuffer, length: own.length }, [own.buffer as ArrayBuffer]);
              n++;
              continue;
            }
          }
          if ((n & 4095) === 0 && Atomics.load(signal, 1)) break; // the export failed elsewhere
          piece.set(line, pos);
          pos += line.length;
          n++;
        }
        send();
        reply({ chunk, done: true, n });
      } catch (e) {
        const message = (e as Error).message;
        reply({ chunk, error: message, blob: /\bBLOB\b/.test(message), n });
      }
    };
    for (const t of early.splice(0)) if (!Atomics.load(signal, 1)) run(t);
  } catch (e) {
    reply({ chunk: -1, error: `the export thread could not start: ${(e as Error).message}`, blob: false, n: 0 });
  }
}

if ((workerData as ExportWorkerData | undefined)?.role === 'ios-timeline-export') void serve(workerData as ExportWorkerData);
