// The recovery thread: reads one WAL-less working copy as bytes (recoverWorkingCopy, under the same budget) while
// the extractor reads the same copy through SQLite on the main thread, and posts the job back (see recover.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { recoverWorkingCopy } from './recover.js';

const d = workerData as { role: string; name: string; fileRowId: number; dbPath: string };
if (d?.role === 'ios-timeline-recovery') parentPort?.postMessage(recoverWorkingCopy(d.name, d.fileRowId, d.dbPath, null));
