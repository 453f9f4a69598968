// Case reports: structure and content of the HTML and PDF, times in the chosen zone, filters, templates.
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DateTime } from 'luxon';
import puppeteer, { type Browser } from 'puppeteer';
import { PDFDocument, PDFDict, PDFName, type PDFHexString, type PDFString } from 'pdf-lib';
import { cli, fixture, tmpDir, REPO } from './helpers.js';
import { buildSyntheticCase, tinyPng, type SyntheticTruth } from '../bench/reportCase.js';
import { zoneFormatter } from '../src/report/zoneTime.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { addThumbnail, thumbnailDataUri, MAX_THUMBNAIL_BYTES } from '../src/timeline/thumbnails.js';
import { resolveChromium } from '../src/report/pdf.js';

const TZ = 'America/New_York';
const SECTION_IDS = ['cover', 'evidence', 'method', 'overview', 'timeline', 'conversations', 'calls', 'photos', 'log', 'hashes', 'custody'];
const HAVE_BROWSER = (await resolveChromium()) !== null;

/** The JSON data blocks of a report, parsed. */
function dataBlocks(html: string): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const m of html.matchAll(/<script type="application\/json" id="d-([a-z]+)">([\s\S]*?)<\/script>/g)) out[m[1]] = JSON.parse(m[2]);
  return out;
}

let dir: string;
let truth: SyntheticTruth;
let casePath: string;
let outDir: string;
let browser: Browser | null = null;

beforeAll(async () => {
  dir = tmpDir('iot-report-');
  casePath = path.join(dir, 'case.db');
  truth = buildSyntheticCase(casePath, { events: 600, tz: TZ, caseNumber: 'CASE-2024-0042' });
  outDir = path.join(dir, 'out');
  const r = await cli(['report', '--case', casePath, '--out', outDir]);
  expect(r.stderr).toMatch(/^custody head of .*case\.db: row 2, [0-9a-f]{64}\n$/); // nothing else (issue #13: the head is printed)
  expect(r.code).toBe(0);
  if (HAVE_BROWSER) browser = await puppeteer.launch({ executablePath: (await resolveChromium())!, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});

afterAll(async () => {
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('zone formatting', () => {
  it('matches luxon exactly across DST changes and odd offsets', () => {
    for (const tz of ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'UTC']) {
      const f = zoneFormatter(tz);
      for (let ms = Date.UTC(2023, 0, 1); ms < Date.UTC(2025, 0, 1); ms += 7_199_993) {
        const dt = DateTime.fromMillis(ms, { zone: tz });
        const t = f(ms * 1000)!;
        expect(`${t.day} ${t.time} ${t.offset}`).toBe(dt.toFormat('yyyy-MM-dd HH:mm:ss ZZ'));
      }
    }
    expect(zoneFormatter('UTC')(null)).toBeNull();
  });
});

describe('thumbnails', () => {
  it('accepts small real images and refuses mislabelled or oversized ones', () => {
    const d = tmpDir();
    const cf = CaseFile.create(path.join(d, 'thumbs.db'));
    const png = tinyPng(10, 20, 30);
    expect(addThumbnail(cf, { eventId: 1, mime: 'image/png', data: png })).toBeGreaterThan(0);
    expect(() => addThumbnail(cf, { eventId: 1, mime: 'image/jpeg', data: png })).toThrow(/declared as image\/jpeg/);
    expect(() => addThumbnail(cf, { eventId: 1, mime: 'image/svg+xml', data: Buffer.from('<svg onload=alert(1)>') })).toThrow(/not a/);
    expect(() => addThumbnail(cf, { eventId: 1, mime: 'image/png', data: Buffer.concat([png, Buffer.alloc(MAX_THUMBNAIL_BYTES)]) })).toThrow(/exceeds/);
    expect(() => addThumbnail(cf, { mime: 'image/png', data: png })).toThrow(/eventId or an attachmentId/);
    expect(thumbnailDataUri('image/png', png)).toMatch(/^data:image\/png;base64,/);
    expect(thumbnailDataUri('image/gif', png)).toBeNull();
    cf.close();
    fs.rmSync(d, { recursive: true, force: true });
  });
});

describe('HTML report', () => {
  it('is one self-contained file with every section and a strict CSP', () => {
    const html = fs.readFileSync(path.join(outDir, 'report.html'), 'utf8');
    for (const id of SECTION_IDS) expect(html).toContain(`<section id="${id}"`);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? '';
    expect(csp).toMatch(/^default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/=]+'/);
    // No reference to anything outside the file.
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:|\/\/|file:)/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).toContain('Case CASE-2024-0042');
    expect(html).toContain('All times: America/New_York (UTC-04:00 and UTC-05:00 in this report)');
  });

  it('holds every event once, with times in the case zone and their offsets', () => {
    const d = dataBlocks(fs.readFileSync(path.join(outDir, 'report.html'), 'utf8'));
    const events = d.events as unknown[][];
    expect(events.length).toBe(truth.events);
    expect(d.threads.length).toBe(truth.threads);
    expect(d.files.length).toBe(truth.files);
    expect(d.warnings.length).toBe(truth.warnings);
    expect((d.attachments as unknown[][]).filter((a) => String(a[6]).startsWith('data:image/png;base64,')).length).toBeGreaterThan(0);
    const first = events.find((e) => e[8] === truth.firstMessage.body)!;
    const expected = DateTime.fromMillis(truth.firstMessage.utcUs / 1000, { zone: TZ });
    expect([first[1], first[2], first[3]]).toEqual([expected.toFormat('yyyy-MM-dd'), expected.toFormat('HH:mm:ss'), expected.toFormat('ZZ')]);
    // Daylight saving time began in New York on 2024-03-10: offsets switch from -05:00 to -04:00.
    expect(events.filter((e) => String(e[1]) < '2024-03-10').every((e) => e[3] === '-05:00')).toBe(true);
    expect(events.filter((e) => String(e[1]) > '2024-03-10').every((e) => e[3] === '-04:00')).toBe(true);
    const kinds = new Map<string, number>();
    for (const e of events) kinds.set(String(e[4]), (kinds.get(String(e[4])) ?? 0) + 1);
    expect(kinds.get('call')).toBe(truth.byKind.call);
  });

  it.skipIf(!HAVE_BROWSER)('renders a page of rows at a time, searches and filters, with no script errors', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`file://${path.join(outDir, 'report.html')}`, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready]');
    const rows = () => page.$$eval('#timeline-list tbody tr:not(.day)', (t) => t.length);
    expect(await rows()).toBe(200);
    expect(await page.$eval('#timeline-list .info', (e) => e.textContent)).toBe(`Showing 1–200 of ${truth.events}`);
    await page.type('#timeline-list input.search', truth.firstMessage.body);
    await page.waitForFunction(() => document.querySelector('#timeline-list .info')!.textContent!.includes('filtered'));
    expect(await page.$eval('#timeline-list tbody td.body', (e) => e.textContent)).toBe(truth.firstMessage.body);
    await page.$eval('#timeline-list input.search', (e) => {
      (e as HTMLInputElement).value = '';
      e.dispatchEvent(new Event('input'));
    });
    await page.select('#timeline-list select', 'call');
    await page.waitForFunction((n) => document.querySelector('#timeline-list .info')!.textContent!.includes(`of ${n} (filtered`), {}, truth.byKind.call);
    expect(await page.$$eval('#calls-list tbody tr', (t) => t.length)).toBe(Math.min(200, truth.byKind.call));
    expect(await page.$$eval('#conversations-list .bubble', (b) => b.length)).toBeGreaterThan(0);
    expect(await page.$$eval('#conversations-list .conv-item', (b) => b.length)).toBe(truth.threads);
    expect(await page.$$eval('#photos-list .photo img', (i) => i.every((x) => (x as HTMLImageElement).src.startsWith('data:image/png')))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.skipIf(!HAVE_BROWSER)('printing report.html from the browser prints every row, says so, and restores the screen view', async () => {
    const page = await browser!.newPage();
    await page.goto(`file://${path.join(outDir, 'report.html')}`, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready]');
    await page.select('#timeline-list select', 'call');
    await page.waitForFunction(() => document.querySelector('#timeline-list .info')!.textContent!.includes('filtered'));
    await page.emulateMediaType('print');
    await page.evaluate(() => window.dispatchEvent(new Event('beforeprint')));
    const printed = await page.$eval('#timeline-list', (host) => ({
      note: host.querySelector('.print-only .print-note')!.textContent,
      rows: host.querySelectorAll('.print-only .lines .ln').length,
      lines: [...host.querySelectorAll('.print-only .lines .ln')].map((l) => l.textContent!),
      screenHidden: getComputedStyle(host.querySelector('.page-body')!).display,
    }));
    expect(printed.rows).toBe(truth.byKind.call);
    // Each printed line: the time with its offset, the call's wording, and the table and row it was read from.
    expect(printed.lines.every((l) => /^\d\d:\d\d:\d\d [+-]\d\d:\d\d Calls /.test(l) && /CallHistory\.storedata · ZCALLRECORD #\d+$/.test(l))).toBe(true);
    expect(printed.note).toBe(`Printed: all ${truth.byKind.call} events (filtered from ${truth.events} by the search or filters set on screen).`);
    expect(printed.screenHidden).toBe('none');
    // Unfiltered lists print everything: every conversation, not the first page.
    expect(await page.$$eval('#conversations-list .print-only .conv-item', (b) => b.length)).toBe(truth.threads);
    await page.evaluate(() => window.dispatchEvent(new Event('afterprint')));
    await page.emulateMediaType('screen');
    expect(await page.$$eval('.print-only', (x) => x.length)).toBe(0);
    expect(await page.$eval('#timeline-list .page-body', (e) => getComputedStyle(e).display)).not.toBe('none');
    await page.close();
  });

  it('applies --tz and --kinds, and replaces partials from --templates', async () => {
    const tpl = path.join(dir, 'lab');
    fs.mkdirSync(path.join(tpl, 'partials'), { recursive: true });
    fs.writeFileSync(path.join(tpl, 'partials', 'letterhead.hbs'), '<div class="acme">ACME FORENSICS LETTERHEAD for {{model.meta.caseNumber}}</div>');
    const out = path.join(dir, 'out-utc');
    const r = await cli(['report', '--case', casePath, '--out', out, '--format', 'html', '--tz', 'UTC', '--kinds', 'call', '--templates', tpl, '--title', 'Calls only']);
    expect(r.code).toBe(0);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('ACME FORENSICS LETTERHEAD for CASE-2024-0042');
    expect(html).toContain('All times: UTC (+00:00)');
    expect(html).toContain('Kinds: call');
    const events = dataBlocks(html).events as unknown[][];
    expect(events.length).toBe(truth.byKind.call);
    expect(events.every((e) => e[4] === 'call' && e[3] === '+00:00')).toBe(true);
    expect(fs.existsSync(path.join(out, 'report.pdf'))).toBe(false);
  });

  it('refuses bad options with a usage error', async () => {
    expect((await cli(['report', '--case', casePath, '--out', path.join(dir, 'x'), '--format', 'docx'])).code).toBe(2);
    expect((await cli(['report', '--case', casePath, '--out', path.join(dir, 'x'), '--tz', 'Mars/Olympus'])).code).toBe(2);
    expect((await cli(['report', '--case', casePath, '--out', path.join(dir, 'x'), '--templates', path.join(dir, 'nope')])).code).toBe(2);
  });

  it('logs the outputs with their hashes: custody row, manifest.json and SHA256SUMS', () => {
    const cf = CaseFile.open(casePath, { readonly: true });
    const rows = cf.db.prepare("SELECT detail_json FROM custody WHERE action = 'report' ORDER BY seq").all() as { detail_json: string }[];
    cf.close();
    const first = JSON.parse(rows[0].detail_json) as { outputs: { path: string; sha256: string }[]; time_zone: string };
    // The synthetic case lists payloads that are not present: the report names each one in missing-files.csv.
    expect(first.outputs.map((o) => o.path).sort()).toEqual(HAVE_BROWSER ? ['missing-files.csv', 'report.html', 'report.pdf'] : ['missing-files.csv', 'report.html']);
    expect(first.outputs.every((o) => /^[0-9a-f]{64}$/.test(o.sha256))).toBe(true);
    expect(first.time_zone).toBe(TZ);
    expect(fs.existsSync(path.join(outDir, 'manifest.json'))).toBe(true);
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: outDir, encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('report.html: OK');
  });
});

describe.skipIf(!HAVE_BROWSER)('PDF report', () => {
  it('has the case number, page numbers, a known message, metadata and one bookmark per section', async () => {
    const pdf = path.join(outDir, 'report.pdf');
    // Every font is embedded (the page-number footer too): a reader never substitutes a glyph.
    const fonts = spawnSync('pdffonts', [pdf], { encoding: 'utf8' }).stdout.trim().split('\n').slice(2);
    expect(fonts.length).toBeGreaterThan(0);
    for (const f of fonts) expect(f.slice(0, 37).trim() + ': ' + f.slice(72, 76).trim(), f).toMatch(/: yes$/);
    const text = spawnSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' }).stdout;
    const bytes = fs.readFileSync(pdf);
    const doc = await PDFDocument.load(bytes, { updateMetadata: false });
    const n = doc.getPageCount();
    expect(text).toContain('Case CASE-2024-0042');
    expect(text).toContain(`Page 1 of ${n}`);
    expect(text).toContain(`Page ${n} of ${n}`);
    expect(text).toContain(truth.firstMessage.body);
    expect(text).toContain('All times: America/New_York');
    expect(doc.getTitle()).toContain('CASE-2024-0042');
    expect(doc.getSubject()).toBe('CASE-2024-0042');
    expect(doc.getCreator()).toMatch(/^ios-timeline \d+\.\d+\.\d+/);
    // Outline: walk /Outlines → First → Next… and read the titles.
    const outlines = doc.catalog.lookup(PDFName.of('Outlines'), PDFDict);
    const titles: string[] = [];
    let item = outlines.lookup(PDFName.of('First'), PDFDict) as PDFDict | undefined;
    while (item) {
      titles.push((item.lookup(PDFName.of('Title')) as PDFHexString | PDFString).decodeText());
      item = item.lookupMaybe(PDFName.of('Next'), PDFDict);
    }
    expect(titles).toEqual([
      'Cover',
      'Evidence summary',
      'Method',
      'Overview',
      'Timeline',
      'Conversations',
      'Calls',
      'Photos and videos',
      'Other records',
      'Deleted and recovered records',
      'Processing log',
      'Hash appendix',
      'Custody log',
    ]);
    // Page 1 renders to an image.
    const png = path.join(dir, 'page1');
    expect(spawnSync('pdftoppm', ['-png', '-r', '40', '-f', '1', '-l', '1', '-singlefile', pdf, png]).status).toBe(0);
    expect(fs.readFileSync(`${png}.png`).subarray(1, 4).toString()).toBe('PNG');
  });

  it('skips the PDF with one clear line when no browser exists (exit 1 only when PDF alone was asked for)', async () => {
    const env = { PUPPETEER_EXECUTABLE_PATH: '/nonexistent/chromium' };
    const both = await cli(['report', '--case', casePath, '--out', path.join(dir, 'nobrowser')], env);
    expect(both.code).toBe(0);
    expect(both.stderr.replace(/^custody head of .*\n/m, '').trim()).toBe('PDF skipped: no Chromium found; run npm run setup'); // + the custody head (issue #13)
    expect(fs.existsSync(path.join(dir, 'nobrowser', 'report.html'))).toBe(true);
    const pdfOnly = await cli(['report', '--case', casePath, '--out', path.join(dir, 'nobrowser2'), '--format', 'pdf'], env);
    expect(pdfOnly.code).toBe(1);
  });
});

describe('report from an ingested fixture backup', () => {
  it('shows the extracted calls and the evidence files read', async () => {
    const fx = fixture({ seed: 3, calls: 25, contacts: 6 });
    const d = tmpDir('iot-report-ingest-');
    const cp = path.join(d, 'case.db');
    const ing = await cli(['ingest', fx.root, '--case', cp, '--case-number', 'FX-1', '--tz', 'Europe/Berlin', '-q']);
    expect(ing.code).toBe(0);
    const r = await cli(['report', '--case', cp, '--out', d, '--format', 'html']);
    expect(r.code).toBe(0);
    const d2 = dataBlocks(fs.readFileSync(path.join(d, 'report.html'), 'utf8'));
    const calls = (d2.events as unknown[][]).filter((e) => e[4] === 'call');
    expect(calls.length).toBe(fx.calls.length);
    expect(calls.every((e) => e[3] === '+01:00' || e[3] === '+02:00')).toBe(true);
    expect((d2.files as unknown[][]).some((f) => f[1] === 'Library/CallHistoryDB/CallHistory.storedata' && /^[0-9a-f]{64}$/.test(String(f[3])))).toBe(true);
    fs.rmSync(d, { recursive: true, force: true });
  });
});

describe('demo', () => {
  it('writes report.html and report.pdf for the sample backup, and the folder verifies', async () => {
    const d = tmpDir('iot-report-demo-');
    const r = await cli(['demo', '--out', d]);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(d, 'report.html'))).toBe(true);
    expect(fs.existsSync(path.join(d, 'report.pdf'))).toBe(HAVE_BROWSER);
    const html = fs.readFileSync(path.join(d, 'report.html'), 'utf8');
    expect(html).toContain('Case DEMO-2024-001');
    expect(dataBlocks(html).events.length).toBeGreaterThan(100);
    const v = await cli(['verify', d, '--case', path.join(d, 'case.db'), '--no-record']);
    expect(v.stdout + v.stderr).toContain('verified');
    expect(v.code).toBe(0);
    fs.rmSync(d, { recursive: true, force: true });
  });
});

describe('hash appendix: what an examiner re-checks by hand', () => {
  it('names the file on disk and shows every recorded hash (MD5 and SHA-1 with --hash)', async () => {
    const d = tmpDir('iot-report-hash-');
    const c = path.join(d, 'case.db');
    const sample = path.join(REPO, 'fixtures/sample-backup');
    expect((await cli(['ingest', sample, '--case', c, '--hash', 'sha256,md5,sha1', '-q'])).code).toBe(0);
    expect((await cli(['report', '--case', c, '--out', d, '--format', 'html'])).code).toBe(0);
    const rows = dataBlocks(fs.readFileSync(path.join(d, 'report.html'), 'utf8')).files as string[][];
    const sms = rows.find((r) => r[1] === 'Library/SMS/sms.db')!;
    // fileID = sha1("HomeDomain-Library/SMS/sms.db"), stored at <first two hex>/<fileID>.
    const id = createHash('sha1').update('HomeDomain-Library/SMS/sms.db').digest('hex');
    expect(sms[7]).toBe(`${id.slice(0, 2)}/${id}`);
    const bytes = fs.readFileSync(path.join(sample, sms[7]!));
    expect([sms[3], sms[8], sms[9]]).toEqual(['sha256', 'md5', 'sha1'].map((a) => createHash(a).update(bytes).digest('hex')));
  });
});

describe.skipIf(!HAVE_BROWSER)('conversation view: what each message went through (sample backup, in Chromium)', () => {
  it('badges the Recently Deleted and unsent messages, lists earlier versions, quotes replies, puts reactions under their bubble', async () => {
    const d = tmpDir('iot-report-conv-');
    const c = path.join(d, 'case.db');
    expect((await cli(['ingest', path.join(REPO, 'fixtures/sample-backup'), '--case', c, '--tz', 'America/New_York', '-q'])).code).toBe(0);
    expect((await cli(['report', '--case', c, '--out', d, '--format', 'html'])).code).toBe(0);
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${path.join(d, 'report.html')}`, { waitUntil: 'load' });
    await page.waitForSelector('html[data-ready]');
    // Every conversation, opened one after the other: the bubbles' text with their badges, replies and reactions.
    const seen = await page.evaluate(async () => {
      const out: { text: string; badges: string[]; reply: string; reacts: string[]; edits: string[] }[] = [];
      for (const item of Array.from(document.querySelectorAll<HTMLElement>('#conversations-list .conv-item'))) {
        item.click();
        for (const b of Array.from(document.querySelectorAll('#conversations-list .conv-thread .bubble'))) {
          out.push({
            text: b.querySelector('.text')?.textContent ?? '',
            badges: Array.from(b.querySelectorAll('.badge')).map((x) => x.textContent ?? ''),
            reply: b.querySelector('.reply')?.textContent ?? '',
            reacts: Array.from(b.querySelectorAll('.react')).map((x) => x.textContent ?? ''),
            edits: Array.from(b.querySelectorAll('.edit')).map((x) => x.textContent ?? ''),
          });
        }
      }
      return out;
    });
    const bubble = (t: string) => seen.find((b) => b.text === t);
    expect(bubble('This one was deleted but is recoverable')?.badges).toEqual(['deleted — recoverable (Recently Deleted)']);
    expect(seen.filter((b) => b.badges.includes('unsent')).length).toBeGreaterThan(0);
    const edited = bubble('Meet at the café at 6 instead')!;
    expect(edited.badges).toEqual(['edited']);
    // The fixture's three versions, oldest first, each at a time in the case zone with its offset.
    expect(edited.edits.map((e) => e.replace(/^.* · /, ''))).toEqual(['Meet at the cafe at 5', 'Meet at the café at 5', 'Meet at the café at 6 instead']);
    expect(edited.edits.every((e) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -0[45]:00 · /.test(e))).toBe(true);
    const reply = bubble('Replying to this one inline 👆')!;
    expect(reply.reply).toMatch(/^↪ reply to .+: “.+”$/);
    const reacted = seen.filter((b) => b.reacts.length);
    expect(reacted.length).toBeGreaterThan(0);
    expect(reacted.flatMap((b) => b.reacts).every((r) => /^(removed )?\S.* · .+ · \d{4}-\d\d-\d\d /.test(r))).toBe(true);
    // A reaction drawn under its bubble is not drawn again as a line of its own.
    const sysLines = await page.$$eval('#conversations-list .sys', (x) => x.map((e) => e.textContent ?? ''));
    expect(sysLines.filter((l) => /reaction/.test(l) && reacted.some((b) => l.includes(b.text)))).toEqual([]);
    // Search folds accents as the CLI's --keyword does: "cafe" finds the message that says "café".
    await page.type('#timeline-list input.search', 'cafe at 6');
    await page.waitForFunction(() => document.querySelector('#timeline-list .info')!.textContent!.includes('filtered'));
    const bodies = await page.$$eval('#timeline-list tbody td.body', (t) => t.map((x) => x.textContent));
    expect(bodies).toContain('Meet at the café at 6 instead');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!HAVE_BROWSER)('PDF hash appendix on a large backup', () => {
  it('prints the files the extractors read and says where the hashes of all others are', async () => {
    const d = tmpDir('iot-report-big-');
    const c = path.join(d, 'case.db');
    buildSyntheticCase(c, { events: 50, tz: TZ, caseNumber: 'CASE-HASHES' });
    const cf = CaseFile.open(c);
    const ins = cf.db.prepare("INSERT INTO files (domain, relative_path, file_id, size, sha256, status) VALUES ('HomeDomain', ?, NULL, 10, ?, 'ok')");
    cf.db.transaction(() => {
      for (let i = 0; i < 6000; i++) ins.run(`Library/Unread/file-${i}.bin`, 'ab'.repeat(32));
    })();
    const readCount = (cf.db.prepare("SELECT count(*) AS n FROM files WHERE read_by IS NOT NULL OR status <> 'ok'").get() as { n: number }).n;
    const total = (cf.db.prepare('SELECT count(*) AS n FROM files').get() as { n: number }).n;
    cf.close();
    const out = path.join(d, 'out');
    const r = await cli(['report', '--case', c, '--out', out, '--format', 'html,pdf']);
    expect(r.code, r.stderr).toBe(0);
    const text = spawnSync('pdftotext', ['-layout', path.join(out, 'report.pdf'), '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(new RegExp(`This printed appendix lists the ${readCount} files the extractors read`));
    expect(text).toMatch(new RegExp(`the hashes of all ${total.toLocaleString('en-US')} files are in the case file and in report\\.html`));
    expect(text).not.toMatch(/file-5999\.bin/);
    // The HTML keeps every file.
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/file-5999\.bin/);
  });
});
