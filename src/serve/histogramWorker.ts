// The day histogram and the map points on their own thread and read-only connection: each reads every matching
// event of a large case (seconds on 1M events), and better-sqlite3 blocks its thread, so on the server's thread
// they would hold up the pages of rows behind them.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { EventFilter } from '../timeline/query.js';
import { ReviewApi } from './api.js';

export interface HistogramRequest {
  id: number;
  op?: 'histogram' | 'geo';
  filter?: EventFilter;
  /** Forget cached answers that depend on tags. */
  tagsChanged?: boolean;
}

export type HistogramReply = { id: number; result: unknown } | { id: number; error: string };

if (parentPort && workerData?.role === 'ios-timeline-histogram') {
  const port = parentPort;
  const { path, tz, region } = workerData as { path: string; tz: string; region: string };
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const api = new ReviewApi(db, tz, region, () => null); // filters arrive parsed
  port.on('message', (m: HistogramRequest) => {
    if (m.tagsChanged) return api.tagsChanged();
    try {
      const f = { filter: m.filter ?? {} };
      port.postMessage({ id: m.id, result: m.op === 'geo' ? api.geo(f) : api.histogram(f) } satisfies HistogramReply);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message } satisfies HistogramReply);
    }
  });
}
