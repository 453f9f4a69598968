// Worker thread for the case digest (caseDigest.ts), reading the case file through its own read-only connection.
//   mode 'blocks': digest the given rowid blocks of one table and post them back at once;
//   mode 'follow': while ingest writes, digest each block of the table as soon as a committed row lies beyond
//   it, posting each block as it is done, until the parent says 'stop'.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { digestBlocks, toWire } from './caseDigest.js';
import { quoteIdent } from '../sqlite.js';

const { mode, path, table, columns, blocks } = workerData as { mode: 'blocks' | 'follow'; path: string; table: string; columns: string[]; blocks?: string[] };
const db = new Database(path, { readonly: true, fileMustExist: true });

if (mode === 'blocks') {
  try {
    const out = blocks!.flatMap((b) => digestBlocks(db, table, columns, { from: BigInt(b), to: BigInt(b) }));
    parentPort!.postMessage(
      out.map(toWire),
      out.map((b) => b.crcs.buffer as ArrayBuffer),
    );
  } finally {
    db.close();
  }
} else {
  let stop = false;
  parentPort!.on('message', (m) => {
    if (m === 'stop') stop = true;
  });
  const maxRowid = db
    .prepare(`SELECT max(rowid) FROM ${quoteIdent(table)}`)
    .pluck()
    .safeIntegers(true);
  let next = 0n; // the first block not yet digested
  const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
  while (!stop) {
    const hi = maxRowid.get() as bigint | null;
    const complete = hi === null ? 0n : hi >> 16n; // blocks below this one are finished
    if (next >= complete) {
      await pause();
      continue;
    }
    for (const b of digestBlocks(db, table, columns, { from: next, to: next })) parentPort!.postMessage(toWire(b), [b.crcs.buffer as ArrayBuffer]);
    next++;
    await new Promise(setImmediate); // let a 'stop' in
  }
  db.close();
  parentPort!.removeAllListeners('message'); // lets the thread end
  parentPort!.postMessage('done');
}
