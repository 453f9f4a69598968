// The review page (ios-timeline serve) in real Chromium: rows, filters, search, tags and notes that persist,
// hostile evidence that stays text, no request leaving 127.0.0.1, and the server's refusals (token, Host,
// Origin). A child process checks that Ctrl-C stops it and closes the case.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/pipeline/ingest.js';
import { launchBrowser, resolveChromium } from '../src/report/pdf.js';
import { startReviewServer, type ReviewServer } from '../src/serve/server.js';
import { HTML_TEXT } from '../fixtures/artifacts/messages.js';
import { fixture, REPO, tmpDir, treeHash } from './helpers.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;
const TZ = 'America/New_York';

let dir: string;
let casePath: string;
let evidence: string;
let evidenceBefore: Record<string, string>;
let server: ReviewServer;
let browser: Browser | null = null;
let page: Page;
const requests: string[] = [];
const dialogs: string[] = [];
const errors: string[] = [];

function q<T>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** A raw request, so Host, Origin and the token header are exactly what the test says. */
function raw(o: { path: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: o.path, method: o.method ?? 'GET', headers: o.headers, setHost: !o.headers?.Host }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const visibleRows = () =>
  page.$$eval('#rows .row', (rows) =>
    rows.map((r) => ({
      id: Number((r as HTMLElement).dataset.id),
      kind: r.querySelector('.k')!.textContent,
      text: r.querySelector('.m')!.textContent,
      tags: [...r.querySelectorAll('.tg')].map((t) => t.textContent),
    })),
  );

/** Wait until the list shows rows for the current filter (the status line names the total when done). */
async function settled(): Promise<void> {
  await page.waitForFunction(() => document.documentElement.dataset.ready && !document.documentElement.dataset.busy);
}

beforeAll(async () => {
  dir = tmpDir('iot-serve-');
  const t = fixture({ messages: 120, calls: 25, photos: 0, locations: true });
  evidence = t.root;
  evidenceBefore = treeHash(evidence);
  casePath = path.join(dir, 'case.db');
  await ingest({ backupDir: evidence, casePath, tz: TZ, region: 'US' });
  server = await startReviewServer({ casePath, examiner: 'R. Reviewer' });
  if (!HAVE_BROWSER) return;
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    requests.push(r.url());
    if (r.url().startsWith(`http://127.0.0.1:${server.port}/`) || r.url().startsWith('data:')) void r.continue();
    else void r.abort();
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready]');
  await settled();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.skipIf(!HAVE_BROWSER)('the review page in Chromium', () => {
  it('shows the newest events first, in the case zone, which the page names', async () => {
    expect(await page.$eval('#zone', (e) => e.textContent)).toBe(TZ);
    const rows = await visibleRows();
    expect(rows.length).toBeGreaterThan(10);
    const newest = q<{ id: number }>('SELECT id FROM events WHERE ts_utc_us IS NOT NULL ORDER BY ts_utc_us DESC, id DESC LIMIT 3').map((r) => r.id);
    expect(rows.slice(0, 3).map((r) => r.id)).toEqual(newest);
    // Only the rows in view are in the DOM, however many are loaded.
    const total = q<{ n: number }>('SELECT count(*) AS n FROM events WHERE ts_utc_us IS NOT NULL')[0]!.n;
    expect(total).toBeGreaterThan(100);
    expect(rows.length).toBeLessThan(80);
    expect(await page.$eval('#status', (e) => e.textContent)).toContain(`of ${total.toLocaleString('en-US')}`);
  });

  it('filters by kind', async () => {
    await page.click('#f-kinds summary');
    await page.$$eval('#kind-list input', (boxes) => {
      for (const b of boxes as HTMLInputElement[]) b.checked = b.value === 'call';
      boxes[0]!.dispatchEvent(new Event('change'));
    });
    await page.click('#f-kinds summary');
    await settled();
    const rows = await visibleRows();
    const calls = q<{ id: number }>("SELECT id FROM events WHERE kind = 'call' AND ts_utc_us IS NOT NULL ORDER BY ts_utc_us DESC, id DESC");
    expect(calls.length).toBeGreaterThan(5);
    expect(rows.map((r) => r.id)).toEqual(calls.slice(0, rows.length).map((c) => c.id));
    expect(new Set(rows.map((r) => r.kind)).size).toBe(1);
    await page.click('#f-clear');
    await settled();
  });

  it('searches the text, and evidence markup stays text (no script runs, no element is made)', async () => {
    await page.type('#f-q', 'HYPERLINK');
    await settled();
    const rows = await visibleRows();
    expect(rows.length).toBe(1);
    expect(rows[0]!.text).toContain(HTML_TEXT);
    expect(await page.$$eval('#rows img, #rows script', (e) => e.length)).toBe(0);
    await page.click('#rows .row');
    expect(await page.$eval('#ev-body', (e) => e.textContent)).toBe(HTML_TEXT);
    await page.keyboard.press('c');
    await page.waitForSelector('#conv li.pivot');
    expect(await page.$eval('#conv li.pivot', (e) => e.textContent)).toContain(HTML_TEXT);
    expect(await page.$$eval('#side img:not(#ev-thumb), #side script', (e) => e.length)).toBe(0);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await page.click('#f-clear');
    await settled();
  });

  it('tags an event with the keyboard, writes a note, and both survive a reload (with custody rows)', async () => {
    await page.focus('#list');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const target = (await visibleRows())[2]!.id;
    expect(await page.$eval('#rows .row.sel', (e) => Number((e as HTMLElement).dataset.id))).toBe(target);
    await page.keyboard.press('t');
    await page.keyboard.type('exhibit-a');
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => document.querySelector(`#rows .row[data-id="${id}"] .tg`)?.textContent === 'exhibit-a', {}, target);
    await page.keyboard.press('Escape');
    await page.keyboard.press('n');
    await page.keyboard.type('Sent two hours before the collision');
    await page.keyboard.down('Control');
    await page.keyboard.press('Enter');
    await page.keyboard.up('Control');
    await page.waitForFunction(() => document.getElementById('ev-msg')!.textContent === 'Note saved.');

    expect(q('SELECT event_id, tag, examiner FROM event_tags')).toEqual([{ event_id: target, tag: 'exhibit-a', examiner: 'R. Reviewer' }]);
    expect(q('SELECT event_id, note FROM event_notes')).toEqual([{ event_id: target, note: 'Sent two hours before the collision' }]);
    expect(q<{ action: string }>("SELECT action FROM custody WHERE action IN ('tag','note') ORDER BY seq").map((r) => r.action)).toEqual(['tag', 'note']);

    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('html[data-ready]');
    await settled();
    const row = (await visibleRows()).find((r) => r.id === target);
    expect(row?.tags).toEqual(['exhibit-a']);
    // The tag filter shows exactly the tagged event.
    await page.select('#f-tag', 'exhibit-a');
    await settled();
    expect((await visibleRows()).map((r) => r.id)).toEqual([target]);
    expect(await page.$eval('#exhibits', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    await page.click('#rows .row');
    expect(await page.$eval('#note-input', (e) => (e as HTMLTextAreaElement).value)).toBe('Sent two hours before the collision');
    // Untag with the mouse.
    await page.click('#ev-tags button');
    await page.waitForFunction(() => document.getElementById('ev-msg')!.textContent!.startsWith('Removed'));
    expect(q('SELECT * FROM event_tags')).toEqual([]);
    await page.click('#f-clear');
    await settled();
  });

  it('filters to one day when a histogram bar is clicked (days in the case zone)', async () => {
    const bars = await page.$$('#hist rect');
    expect(bars.length).toBeGreaterThan(0);
    const day = await bars[0]!.evaluate((r) => (r as SVGRectElement).dataset.day!);
    const bar = (await bars[0]!.boundingBox())!;
    const svg = (await (await page.$('#hist'))!.boundingBox())!;
    await page.mouse.click(bar.x + bar.width / 2, svg.y + svg.height / 2);
    await settled();
    expect(await page.$eval('#f-from', (e) => (e as HTMLInputElement).value)).toBe(day);
    const rows = await visibleRows();
    expect(rows.length).toBeGreaterThan(0);
    // Every shown event falls on that day in New York time (computed here with Intl, not by the server).
    const ts = q<{ id: number; ts: number }>(`SELECT id, ts_utc_us AS ts FROM events WHERE id IN (${rows.map((r) => r.id).join(',')})`);
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
    for (const r of ts) expect(fmt.format(new Date(r.ts / 1000))).toBe(day);
    await page.click('#f-clear');
    await settled();
  });

  it('draws the located events on an offline map', async () => {
    await page.keyboard.press('m');
    await page.waitForSelector('#map circle');
    const located = q<{ n: number }>('SELECT count(*) AS n FROM events WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND ts_utc_us IS NOT NULL')[0]!.n;
    expect(located).toBeGreaterThan(0);
    expect(await page.$$eval('#map circle', (c) => c.length)).toBe(Math.min(located, 5000));
  });

  it('a page of another origin cannot write: its fetch and its form POST are refused', async () => {
    // Another local site (another port is another origin), as a malicious page open in the same browser would be.
    const evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>other site</title>');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const evilPort = (evil.address() as { port: number }).port;
    const other = await browser!.newPage();
    try {
      await other.goto(`http://127.0.0.1:${evilPort}/`);
      const id = q<{ id: number }>('SELECT id FROM events ORDER BY id LIMIT 1')[0]!.id;
      const statuses = await other.evaluate(
        async (api: string, token: string, eventId: number) => {
          const body = JSON.stringify({ eventIds: [eventId], tag: 'csrf' });
          const out: string[] = [];
          // With the token (as if it leaked) and JSON: the browser sends the page's own Origin, which is refused.
          try {
            const r = await fetch(`${api}tag`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Review-Token': token }, body });
            out.push(String(r.status));
          } catch (e) {
            out.push(`blocked: ${(e as Error).name}`);
          }
          // A "simple" request needs no preflight: it reaches the server, which refuses it.
          await fetch(`${api}tag`, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body }).catch(() => {});
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = `${api}tag`;
          form.enctype = 'text/plain';
          document.body.append(form);
          form.submit();
          return out;
        },
        `${server.url}api/`,
        server.token,
        id,
      );
      await other.waitForNetworkIdle({ idleTime: 300 }).catch(() => {});
      expect(statuses[0]).not.toBe('200');
      expect(q("SELECT * FROM event_tags WHERE tag = 'csrf'")).toEqual([]);
    } finally {
      await other.close();
      evil.close();
    }
  });

  it('sent no request anywhere but this server, and left the evidence untouched', () => {
    expect(requests.length).toBeGreaterThan(5);
    // data: URLs are the browser's own (the date picker's icon); nothing else may leave the page's own URLs.
    expect(requests.filter((u) => !u.startsWith(`http://127.0.0.1:${server.port}/${server.token}/`) && !u.startsWith('data:'))).toEqual([]);
    expect(treeHash(evidence)).toEqual(evidenceBefore);
  });
});

describe('the read API', () => {
  const api = (route: string) => fetch(`${server.url}api/${route}`).then((r) => r.json());

  it('pages by keyset: every dated event exactly once, in (time, id) order, both ways', async () => {
    const all = q<{ id: number }>('SELECT id FROM events WHERE ts_utc_us IS NOT NULL ORDER BY ts_utc_us, id').map((r) => r.id);
    for (const order of ['asc', 'desc'] as const) {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page = (await api(`events?order=${order}&limit=37${cursor ? `&cursor=${cursor}` : ''}`)) as { events: { id: number }[]; next: string | null };
        seen.push(...page.events.map((e) => e.id));
        cursor = page.next;
      } while (cursor);
      expect(seen).toEqual(order === 'asc' ? all : [...all].reverse());
    }
  });

  it('filters by contact, however the number is written, and answers at once for a contact that names nothing', async () => {
    const [who] = q<{ counterpart: string; n: number }>(
      "SELECT counterpart, count(*) AS n FROM events WHERE counterpart LIKE '+1%' AND ts_utc_us IS NOT NULL GROUP BY counterpart ORDER BY n DESC LIMIT 1",
    );
    expect(who!.n).toBeGreaterThan(3);
    // The national form of a +1 number (the fixture's region is US) finds the same events as the E.164 form.
    const national = `(${who!.counterpart.slice(2, 5)}) ${who!.counterpart.slice(5, 8)}-${who!.counterpart.slice(8)}`;
    for (const c of [who!.counterpart, national]) {
      const page = (await api(`events?limit=500&contact=${encodeURIComponent(c)}`)) as { events: { counterpart: string | null; kind: string }[] };
      expect(page.events.filter((e) => e.counterpart === who!.counterpart).length, c).toBe(who!.n);
    }
    const none = (await api('events?contact=%2B19999999999')) as { events: unknown[]; next: string | null };
    expect(none).toEqual({ events: [], next: null });
    expect(((await api('histogram?contact=%2B19999999999')) as { total: number }).total).toBe(0);
  });

  it('serves a stored thumbnail as the image it is, and nothing for an unknown one', async () => {
    const [t] = q<{ id: number; mime: string; data: Buffer }>('SELECT id, mime, data FROM thumbnails LIMIT 1');
    expect(t, 'the fixture stores thumbnails').toBeDefined();
    const r = await fetch(`${server.url}api/thumb/${t!.id}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(t!.mime);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await r.arrayBuffer()).equals(t!.data)).toBe(true);
    expect((await fetch(`${server.url}api/thumb/999999999`)).status).toBe(404);
  });

  it('counts events per day in the case zone, across DST changes (checked against Intl)', async () => {
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
    const want = new Map<string, number>();
    for (const { ts } of q<{ ts: number }>('SELECT ts_utc_us AS ts FROM events WHERE ts_utc_us IS NOT NULL')) {
      const d = fmt.format(new Date(Math.floor(ts / 1000)));
      want.set(d, (want.get(d) ?? 0) + 1);
    }
    // The fixture must span a DST change for this to mean something.
    const offsets = new Set(
      q<{ ts: number }>('SELECT ts_utc_us AS ts FROM events WHERE ts_utc_us IS NOT NULL').map((r) =>
        new Intl.DateTimeFormat('en-US', { timeZone: TZ, timeZoneName: 'shortOffset' })
          .format(new Date(r.ts / 1000))
          .split(' ')
          .pop(),
      ),
    );
    expect(offsets.size).toBeGreaterThan(1);
    const h = (await api('histogram')) as { days: { day: string; n: number }[]; total: number; undated: number };
    expect(new Map(h.days.map((d) => [d.day, d.n]))).toEqual(want);
    expect(h.undated).toBe(q<{ n: number }>('SELECT count(*) AS n FROM events WHERE ts_utc_us IS NULL')[0]!.n);
  });
});

describe('the server refuses what is not its own page', () => {
  const base = () => `/${server.token}/api`;
  it('answers 403 without the token or with a wrong one', async () => {
    expect((await raw({ path: '/api/meta' })).status).toBe(403);
    expect((await raw({ path: '/' })).status).toBe(403);
    expect((await raw({ path: `/${'x'.repeat(server.token.length)}/api/meta` })).status).toBe(403);
    expect((await raw({ path: `${base()}/meta` })).status).toBe(200);
  });

  it('refuses another Host (DNS rebinding) and another Origin', async () => {
    expect((await raw({ path: `${base()}/meta`, headers: { Host: `evil.example:${server.port}` } })).status).toBe(403);
    expect((await raw({ path: `${base()}/meta`, headers: { Host: `localhost:${server.port}` } })).status).toBe(403);
    expect((await raw({ path: `${base()}/meta`, headers: { Origin: 'http://evil.example' } })).status).toBe(403);
  });

  it('refuses a cross-origin POST, and a POST without the token header or JSON', async () => {
    const id = q<{ id: number }>('SELECT id FROM events LIMIT 1')[0]!.id;
    const body = JSON.stringify({ eventIds: [id], tag: 'forged' });
    const own = `http://127.0.0.1:${server.port}`;
    const json = { 'Content-Type': 'application/json' };
    expect((await raw({ path: `${base()}/tag`, method: 'POST', body, headers: { ...json, Origin: 'http://evil.example', 'X-Review-Token': server.token } })).status).toBe(403);
    expect((await raw({ path: `${base()}/tag`, method: 'POST', body, headers: { ...json, Origin: own } })).status).toBe(403);
    expect((await raw({ path: `${base()}/tag`, method: 'POST', body, headers: { ...json, 'X-Review-Token': server.token } })).status).toBe(403);
    expect((await raw({ path: `${base()}/tag`, method: 'POST', body, headers: { 'Content-Type': 'text/plain', Origin: own, 'X-Review-Token': server.token } })).status).toBe(415);
    expect(q("SELECT * FROM event_tags WHERE tag = 'forged'")).toEqual([]);
    // The same request from the page's own origin is accepted.
    const ok = await raw({ path: `${base()}/tag`, method: 'POST', body, headers: { ...json, Origin: own, 'X-Review-Token': server.token } });
    expect(ok.status).toBe(200);
    expect(q<{ event_id: number }>("SELECT event_id FROM event_tags WHERE tag = 'forged'").map((r) => r.event_id)).toEqual([id]);
  });

  it('sends a strict CSP and nosniff, and serves no file but its own', async () => {
    const r = await new Promise<http.IncomingMessage>((resolve) => http.get(`${server.url}app.js`, resolve));
    expect(r.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    r.resume();
    expect((await raw({ path: `/${server.token}/../package.json` })).status).toBe(403); // resolves outside /<token>/
    expect((await raw({ path: `/${server.token}/toString` })).status).toBe(404);
    expect((await raw({ path: `${base()}/events?kinds=nosuchkind` })).status).toBe(400);
    expect((await raw({ path: `${base()}/events?cursor=1;DROP` })).status).toBe(400);
  });
});

describe('ios-timeline serve as a process', () => {
  const run = path.join(REPO, 'dist/src/cli/run.js');
  it.skipIf(!fs.existsSync(run))('prints the tokened URL once, makes an exhibit report from a tag, and stops cleanly on SIGINT, closing the case', async () => {
    const child = spawn(process.execPath, [run, 'serve', '--case', casePath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        out += c;
        const m = /http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//.exec(out);
        if (m) resolve(m[0]);
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    expect(out.match(/http:\/\//g)).toHaveLength(1);
    const meta = await fetch(`${url}api/meta`);
    expect(meta.status).toBe(200);
    // "Make exhibit report" from a tag: the report command runs as its own process and writes beside the case.
    const token = new URL(url).pathname.split('/')[1]!;
    const post = (route: string, body: unknown) =>
      fetch(`${url}api/${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: new URL(url).origin, 'X-Review-Token': token },
        body: JSON.stringify(body),
      });
    const id = q<{ id: number }>("SELECT id FROM events WHERE kind = 'message' AND body IS NOT NULL ORDER BY id LIMIT 1")[0]!.id;
    expect((await post('tag', { eventIds: [id], tag: 'for court' })).status).toBe(200);
    const ex = await post('exhibits', { tag: 'for court' });
    const exBody = (await ex.json()) as { out: string; message: string; error?: string };
    expect(ex.status, exBody.error).toBe(200);
    expect(path.dirname(exBody.out)).toBe(dir);
    expect(fs.existsSync(path.join(exBody.out, 'exhibits.html'))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(exBody.out, 'manifest.json'), 'utf8')) as { actions: { exhibits?: { number: number; event_id: number }[] }[] };
    expect(manifest.actions.at(-1)!.exhibits!.map((e) => [e.number, e.event_id])).toEqual([[1, id]]);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(err).toContain('review page stopped; case closed');
    await expect(fetch(`${url}api/meta`)).rejects.toThrow();
    expect(fs.existsSync(`${casePath}-journal`)).toBe(false);
  });
});
