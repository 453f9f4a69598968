// Worker thread for recordCaseDigestParallel: digests one table's rowid blocks through its own read-only connection.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { digestBlocks } from './caseDigest.js';

const { path, table, columns, from, to } = workerData as { path: string; table: string; columns: string[]; from: string; to: string };
const db = new Database(path, { readonly: true, fileMustExist: true });
try {
  const blocks = digestBlocks(db, table, columns, { from: BigInt(from), to: BigInt(to) });
  parentPort!.postMessage(blocks.map((b) => ({ ...b, block: b.block.toString() })), blocks.map((b) => b.crcs.buffer as ArrayBuffer));
} finally {
  db.close();
}
