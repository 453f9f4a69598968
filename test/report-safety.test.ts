// Hostile evidence: messages, names, filenames, MIME types, warnings and case metadata holding script,
// remote images, javascript: links, CSS and template syntax. Nothing may execute and no request may leave.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { tmpDir } from './helpers.js';
import { buildSyntheticCase, HOSTILE } from '../bench/reportCase.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { buildReportModel } from '../src/report/viewModel.js';
import { loadTemplates, writeReportHtml, scriptJson } from '../src/report/html.js';
import { writeReportPdf, resolveChromium } from '../src/report/pdf.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;
let dir: string;
let casePath: string;
let html: string;
let browser: Browser | null = null;

beforeAll(async () => {
  dir = tmpDir('iot-report-safety-');
  casePath = path.join(dir, 'case.db');
  buildSyntheticCase(casePath, { events: 240, hostile: true, caseNumber: 'X-1 <script>window.__pwned=9</script>' });
  const cf = CaseFile.open(casePath);
  const model = buildReportModel(cf, { tz: 'Europe/Paris', filter: {}, title: 'Report <img src=http://evil.example/t.png>' });
  writeReportHtml(cf, model, path.join(dir, 'report.html'), { tz: 'Europe/Paris', filter: {}, templates: loadTemplates() });
  cf.close();
  html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  if (HAVE_BROWSER) browser = await puppeteer.launch({ executablePath: (await resolveChromium())!, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Open a report with every request outside the file logged and aborted. */
async function open(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser!.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  const url = `file://${file}`;
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (r.url() === url || r.url().startsWith('data:')) void r.continue();
    else {
      requests.push(r.url());
      void r.abort();
    }
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('html[data-ready]');
  return { page, requests, errors };
}

describe('hostile evidence in the HTML report', () => {
  it('never appears as markup in the file', () => {
    // Exactly the report's own <script> elements: the data blocks and the one inline script.
    const scripts = [...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    expect(scripts.filter((s) => s !== '<script>' && !/^<script type="application\/json" id="d-[a-z]+">$/.test(s))).toEqual([]);
    expect(scripts.filter((s) => s === '<script>').length).toBe(1);
    for (const bad of [/<img src=http/i, /<iframe/i, /<svg onload/i, /href="javascript:/i, /<style>@import/i, /<a href="(?!#)/i]) expect(html).not.toMatch(bad);
    // Inside data blocks "<" is always \u003c, so evidence cannot end the block.
    for (const m of html.matchAll(/<script type="application\/json" id="d-[a-z]+">([\s\S]*?)<\/script>/g)) expect(m[1]).not.toContain('<');
    expect(scriptJson('</script><b>')).toBe('"\\u003c/script\\u003e\\u003cb\\u003e"');
    // Handlebars syntax in evidence is text, not a template.
    expect(html).toContain('{{constructor.constructor');
  });

  it.skipIf(!HAVE_BROWSER)('runs nothing and requests nothing when opened and used', async () => {
    const { page, requests, errors } = await open(path.join(dir, 'report.html'));
    // Exercise every view: search, paging, each conversation, photos.
    await page.type('#timeline-list input.search', 'pwned');
    await page.waitForFunction(() => document.querySelector('#timeline-list .info')!.textContent!.includes('filtered'));
    const items = await page.$$('#conversations-list .conv-item');
    for (const b of items) await b.click();
    await page.click('#photos-list .nav button:last-child');
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      onAttrs: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${e.tagName}.${a.name}`)),
      imgs: [...document.images].map((i) => i.getAttribute('src') ?? '').filter((s) => !s.startsWith('data:image/')),
      iframes: document.querySelectorAll('iframe, object, embed, link, base, form').length,
      links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')!).filter((h) => !h.startsWith('#')),
      text: document.body.textContent,
      title: document.title,
    }));
    expect(state.pwned).toBeUndefined();
    expect(state.onAttrs).toEqual([]);
    expect(state.imgs).toEqual([]);
    expect(state.iframes).toBe(0);
    expect(state.links).toEqual([]);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    // The hostile text is shown literally, as evidence.
    expect(state.text).toContain('<script>window.__pwned=1;fetch("http://evil.example/x")</script>');
    expect(state.text).toContain('Case X-1 <script>window.__pwned=9</script>');
    expect(state.title).toContain('<img src=http://evil.example/t.png>');
    await page.close();
  });

  it.skipIf(!HAVE_BROWSER)('the CSP blocks what escaping might miss', async () => {
    // Defence in depth: plant live markup in a copy of the report, as a broken template would.
    const planted = html.replace(
      '<main>',
      `<main><img src="http://evil.example/p.png"><script>window.__pwned=7</script><div style="background:url(http://evil.example/bg.png)">x</div>`,
    );
    const file = path.join(dir, 'planted.html');
    fs.writeFileSync(file, planted);
    const page = await browser!.newPage();
    // No interception here: only the CSP stands between the planted markup and the network.
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    const urls = new Map<string, string>();
    const blocked = new Map<string, string>();
    const responses: string[] = [];
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
    cdp.on('Network.loadingFailed', (e) => blocked.set(urls.get(e.requestId) ?? '', e.blockedReason ?? e.errorText));
    cdp.on('Network.responseReceived', (e) => {
      if (!/^(file|data):/.test(e.response.url)) responses.push(e.response.url);
    });
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready]');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    const foreign = [...urls.values()].filter((u) => !/^(file|data):/.test(u));
    expect(foreign.length).toBeGreaterThan(0);
    for (const u of foreign) expect([u, blocked.get(u)]).toEqual([u, 'csp']);
    expect(responses).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!HAVE_BROWSER)('hostile evidence in the PDF report', () => {
  it('renders as text with no request leaving the renderer', async () => {
    const cf = CaseFile.open(casePath, { readonly: true });
    const model = buildReportModel(cf, { tz: 'UTC', filter: {} });
    const out = path.join(dir, 'report.pdf');
    const r = await writeReportPdf(cf, model, out, { tz: 'UTC', filter: {}, templates: loadTemplates(), chunkRows: 100 });
    cf.close();
    expect(r.blockedRequests).toEqual([]);
    expect(r.chunks).toBeGreaterThan(11); // the timeline really was cut into chunks
    const text = spawnSync('pdftotext', [out, '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    expect(text).toContain('<script>window.__pwned=1;fetch("http://evil.example/x")</script>');
    expect(text).toContain(`Page ${r.pages} of ${r.pages}`);
    expect(HOSTILE.length).toBeGreaterThan(5);
  });
});
