// Worker thread for the case digest (caseDigest.ts), reading the case file through its own read-only connection:
// digest the given rowid blocks of one table and post them back at once.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { digestBlocks, toWire } from './caseDigest.js';

const { path, table, columns, blocks } = workerData as { path: string; table: string; columns: string[]; blocks: string[] };
const db = new Database(path, { readonly: true, fileMustExist: true });

try {
  const out = blocks.flatMap((b) => digestBlocks(db, table, columns, { from: BigInt(b), to: BigInt(b) }));
  parentPort!.postMessage(
    out.map(toWire),
    out.map((b) => b.crcs.buffer as ArrayBuffer),
  );
} finally {
  db.close();
}
