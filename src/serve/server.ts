// The local review page: node's http server on 127.0.0.1 only. Every URL starts with a random token
// (/<token>/…), so a page on another site cannot guess one; the Host header must be this server's own
// (DNS rebinding), an Origin must be ours, and writes are JSON POSTs that also carry the token in a header
// (CSRF: a form cannot set either). The case is read through a read-only connection; tag and note writes go
// through the tags module on a short-lived writable connection under the case lock, with custody rows.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { CaseFile } from '../timeline/caseFile.js';
import { FilterError, validateZone } from '../timeline/query.js';
import { packagePath } from '../paths.js';
import { ReviewApi, parseCursor, type ApiFilter } from './api.js';
import { caseTags } from './tagBackend.js';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { EventFilter } from '../timeline/query.js';
import type { HistogramReply, HistogramRequest } from './histogramWorker.js';

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const MAX_BODY = 64 * 1024;

/** The page's own files, and nothing else, from templates/serve. */
const ASSETS: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export interface ServeOptions {
  casePath: string;
  port?: number;
  tz?: string;
  /** Examiner recorded in the custody rows of tag and note changes (default: the case's examiner). */
  examiner?: string;
  /** Make an exhibit report for a tag; null when this build cannot. */
  exhibits?: ((tag: string) => Promise<{ out: string; message: string }>) | null;
}

export interface ReviewServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
  /** Synchronous part of close (for signal handlers): stop listening and close the case; false if already closed. */
  closeNow(): boolean;
}

class FileReply {
  constructor(
    readonly type: string,
    readonly data: Buffer,
  ) {}
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startReviewServer(o: ServeOptions): Promise<ReviewServer> {
  const dir = packagePath('templates/serve', 'index.html');
  if (!dir) throw new Error('the review page files (templates/serve/index.html) are missing from this installation');
  const files = new Map(Object.keys(ASSETS).map((name) => [name, fs.readFileSync(path.join(dir, name || 'index.html'))]));
  const cf = CaseFile.open(o.casePath, { readonly: true });
  let closed = false;
  try {
    const tz = validateZone(o.tz ?? cf.getMeta('time_zone') ?? 'UTC');
    const tags = caseTags(o.casePath, cf.db, o.examiner);
    const api = new ReviewApi(cf.db, tz, cf.getMeta('region') ?? 'US', () => tags.names());
    const histogram = histogramRunner(o.casePath, tz, cf.getMeta('region') ?? 'US', api);
    const token = crypto.randomBytes(24).toString('base64url');
    const tokenBuf = Buffer.from(token);
    const server = http.createServer();
    let port = 0;
    const okToken = (t: string | undefined) => !!t && t.length === token.length && crypto.timingSafeEqual(Buffer.from(t), tokenBuf);

    const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
      const self = `127.0.0.1:${port}`;
      if (req.headers.host !== self) throw new HttpError(403, 'wrong Host');
      const url = new URL(req.url ?? '/', `http://${self}`);
      const [, first, ...rest] = url.pathname.split('/');
      if (!okToken(first)) throw new HttpError(403, 'missing or wrong token');
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${self}`) throw new HttpError(403, 'cross-origin request');
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site request');
      const route = rest.join('/');
      if (req.method === 'POST') {
        if (origin !== `http://${self}`) throw new HttpError(403, 'a write needs this page as its Origin');
        if (!okToken(req.headers['x-review-token'] as string | undefined)) throw new HttpError(403, 'a write needs the token header');
        if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'a write is JSON');
        const body = await readJson(req);
        sendJson(res, 200, await post(route, body));
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'GET or POST only');
      if (Object.hasOwn(ASSETS, route)) {
        send(res, 200, ASSETS[route]!, files.get(route)!);
        return;
      }
      const reply = await get(route, Object.fromEntries(url.searchParams) as Record<string, string>);
      if (reply instanceof FileReply) send(res, 200, reply.type, reply.data);
      else sendJson(res, 200, reply);
    };

    /** A JSON value, or a file (thumbnails). */
    const get = async (route: string, q: Record<string, string>): Promise<unknown> => {
      let m: RegExpExecArray | null;
      if (route === 'api/meta') return { ...(api.meta() as object), tags: tags.list() };
      if (route === 'api/events') {
        const page = api.events(api.parseFilter(q as ApiFilter), { order: q.order === 'asc' ? 'asc' : 'desc', cursor: parseCursor(q.cursor), limit: Number(q.limit ?? 100) });
        const ids = page.events.map((e) => e.id);
        const byEvent = tags.tagsOf(ids);
        const notes = tags.notesOf(ids);
        return { ...page, events: page.events.map((e) => ({ ...e, tags: byEvent.get(e.id) ?? [], note: notes.get(e.id)?.note ?? null })) };
      }
      if (route === 'api/histogram') return histogram.run('histogram', api.parseFilter(q as ApiFilter).filter);
      if (route === 'api/geo') return histogram.run('geo', api.parseFilter(q as ApiFilter).filter);
      if ((m = /^api\/thread\/(\d{1,15})$/.exec(route))) {
        const t = api.thread(Number(m[1]), /^\d{1,15}$/.test(q.around ?? '') ? Number(q.around) : null);
        if (!t) throw new HttpError(404, 'no such conversation');
        return t;
      }
      if ((m = /^api\/event\/(\d{1,15})$/.exec(route))) {
        const e = api.event(Number(m[1]));
        if (!e) throw new HttpError(404, 'no such event');
        return { ...e, tags: tags.tagsOf([e.id]).get(e.id) ?? [], note: tags.notesOf([e.id]).get(e.id)?.note ?? null };
      }
      if ((m = /^api\/thumb\/(\d{1,15})$/.exec(route))) {
        const t = api.thumbnail(Number(m[1]));
        if (!t) throw new HttpError(404, 'no such thumbnail');
        return new FileReply(t.mime, t.data);
      }
      throw new HttpError(404, 'not found');
    };

    const post = async (route: string, body: Record<string, unknown>): Promise<unknown> => {
      const ids = (v: unknown): number[] => {
        if (!Array.isArray(v) || !v.length || v.length > 10_000 || !v.every((x) => Number.isSafeInteger(x) && x > 0)) throw new HttpError(400, 'eventIds: a list of event ids');
        return v as number[];
      };
      const str = (v: unknown, what: string, max = 200): string => {
        if (typeof v !== 'string' || !v.trim() || v.length > max) throw new HttpError(400, `${what}: text of 1 to ${max} characters`);
        return v.trim();
      };
      const optStr = (v: unknown, what: string, max: number) => (v === undefined || v === null || v === '' ? undefined : str(v, what, max));
      let r: unknown;
      if (route === 'api/tag') r = tags.add({ eventIds: ids(body.eventIds), tag: str(body.tag, 'tag', 100), note: optStr(body.note, 'note', 10_000) });
      else if (route === 'api/untag') r = tags.remove({ eventIds: ids(body.eventIds), tag: str(body.tag, 'tag', 100) });
      else if (route === 'api/note') r = tags.note({ eventId: ids([body.eventId])[0]!, note: typeof body.note === 'string' && body.note.length <= 10_000 ? body.note : '' });
      else if (route === 'api/exhibits') {
        if (!o.exhibits) throw new HttpError(501, 'exhibit reports are not available in this build');
        return o.exhibits(str(body.tag, 'tag', 100));
      } else throw new HttpError(404, 'not found');
      api.tagsChanged();
      histogram.tagsChanged();
      return { ok: true, result: r ?? null, tags: tags.list() };
    };

    server.on('request', (req, res) => {
      handle(req, res).catch((e: unknown) => {
        const status =
          e instanceof HttpError ? e.status : e instanceof FilterError ? 400 : typeof (e as { status?: unknown }).status === 'number' ? (e as { status: number }).status : 500;
        if (!res.headersSent) sendJson(res, status, { error: status === 500 ? `internal error: ${(e as Error).message}` : (e as Error).message });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: o.port ?? 0 }, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    const closeNow = (): boolean => {
      if (closed) return false;
      closed = true;
      server.close();
      server.closeAllConnections();
      histogram.close();
      tags.close();
      cf.db.close();
      return true;
    };
    return {
      url: `http://127.0.0.1:${port}/${token}/`,
      port,
      token,
      closeNow,
      close: () =>
        new Promise<void>((resolve) => {
          if (closed) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
          closed = true;
          histogram.close();
          tags.close();
          cf.db.close();
        }),
    };
  } catch (e) {
    if (!closed) cf.db.close();
    throw e;
  }
}

/** The compiled worker: beside this module, or under dist/ when running from the TypeScript sources (tests). */
function histogramScript(): string | null {
  const here = fileURLToPath(new URL('./histogramWorker.js', import.meta.url));
  if (fs.existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])serve([\\/])histogramWorker\.js$/, '$1dist$1src$2serve$3histogramWorker.js');
  return built !== here && fs.existsSync(built) ? built : null;
}

/** Histograms and map points on a worker thread when the compiled worker is there, else on this thread. */
function histogramRunner(casePath: string, tz: string, region: string, api: ReviewApi) {
  const script = histogramScript();
  if (!script)
    return {
      run: async (op: 'histogram' | 'geo', filter: EventFilter) => (op === 'geo' ? api.geo({ filter }) : api.histogram({ filter })),
      tagsChanged: () => {},
      close: () => {},
    };
  const worker = new Worker(script, { workerData: { role: 'ios-timeline-histogram', path: casePath, tz, region } });
  worker.unref();
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  worker.on('message', (m: HistogramReply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (!w) return;
    if ('error' in m) w.reject(new Error(m.error));
    else w.resolve(m.result);
  });
  worker.on('error', (e) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  });
  return {
    run: (op: 'histogram' | 'geo', filter: EventFilter) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, op, filter } satisfies HistogramRequest);
      }),
    tagsChanged: () => worker.postMessage({ id: 0, tagsChanged: true } satisfies HistogramRequest),
    close: () => void worker.terminate(),
  };
}

function headers(type: string): Record<string, string> {
  return {
    'Content-Type': type,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: Buffer | string): void {
  res.writeHead(status, headers(type));
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `a write is at most ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'a write is a JSON object');
        resolve(v as Record<string, unknown>);
      } catch (e) {
        reject(e instanceof HttpError ? e : new HttpError(400, 'the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}
