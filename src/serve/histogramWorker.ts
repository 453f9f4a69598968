// The day histogram on its own thread and read-only connection: counting a large case takes longer than a page of
// rows, and better-sqlite3 blocks its thread, so on the server's thread it would hold up the pages behind it.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { EventFilter } from '../timeline/query.js';
import { ReviewApi } from './api.js';

export interface HistogramRequest {
  id: number;
  filter?: EventFilter;
  /** Forget cached answers that depend on tags. */
  tagsChanged?: boolean;
}

export type HistogramReply = { id: number; result: ReturnType<ReviewApi['histogram']> } | { id: number; error: string };

if (parentPort && workerData?.role === 'ios-timeline-histogram') {
  const port = parentPort;
  const { path, tz, region } = workerData as { path: string; tz: string; region: string };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const api = new ReviewApi(db, tz, region, () => null); // filters arrive parsed
  port.on('message', (m: HistogramRequest) => {
    if (m.tagsChanged) return api.tagsChanged();
    try {
      port.postMessage({ id: m.id, result: api.histogram({ filter: m.filter ?? {} }) } satisfies HistogramReply);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message } satisfies HistogramReply);
    }
  });
}
