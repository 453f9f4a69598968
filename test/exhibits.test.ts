// Exhibit reports: exactly the tagged events, numbered in time order, with their conversation context marked,
// provenance down to the SHA-256 of the evidence file, stable numbers, pages in manifest.json; hostile text inert.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import Database from 'better-sqlite3';
import puppeteer, { type Browser } from 'puppeteer';
import { cli, fixture, tmpDir } from './helpers.js';
import { ingestUnchanged } from './artifactKit.js';
import { fileIdFor } from '../src/backup/backup.js';
import type { FixtureMessage } from '../fixtures/artifacts/messages.js';
import { buildSyntheticCase, HOSTILE } from '../bench/reportCase.js';
import { CaseFile } from '../src/timeline/caseFile.js';
import { addTag, setNote } from '../src/timeline/tags.js';
import { buildExhibitsModel, writeExhibitsHtml } from '../src/report/exhibits.js';
import { writeExhibitsPdf } from '../src/report/exhibitsPdf.js';
import { loadTemplates } from '../src/report/html.js';
import { resolveChromium } from '../src/report/pdf.js';
import type { OutputManifest } from '../src/custody/outputs.js';

const HAVE_BROWSER = (await resolveChromium()) !== null;
const HAVE_PDFTOTEXT = spawnSync('pdftotext', ['-v']).status === 0;

let root: string;
let base: string;
let messages: FixtureMessage[];

beforeAll(async () => {
  // No hostile rows: every message is an ordinary one, so its conversation neighbours are known from the fixture.
  const t = fixture({ seed: 18, contacts: 3, calls: 4, messages: 24, messagesInWal: 0, messageTraps: false });
  root = t.root;
  messages = t.messages as FixtureMessage[];
  base = (await ingestUnchanged(t.root)).casePath;
}, 120_000);

function copyCase(): string {
  const p = path.join(tmpDir(), 'case.db');
  fs.copyFileSync(base, p);
  fs.copyFileSync(`${base}.custody-heads`, `${p}.custody-heads`);
  return p;
}

/** The main event of an sms.db message (not its delivered/read receipts). */
function eventOf(db: Database.Database, m: FixtureMessage): number {
  return db.prepare("SELECT id FROM events WHERE source_table = 'message' AND source_rowid = ? AND action = ?").pluck().get(m.rowid, m.action) as number;
}

/** The exhibits in an exhibits.html: number → event id, and each one's context and exhibit rows (event ids). */
function parseExhibits(html: string) {
  const out = new Map<number, { eventId: number; context: number[]; self: number[]; sha256: string; row: string; file: string }>();
  for (const m of html.matchAll(/<section id="exhibit-(\d+)" class="section exhibit" data-exhibit="(\d+)">([\s\S]*?)<\/section>/g)) {
    const body = m[3];
    const prov = (key: string) => new RegExp(`<th>${key}</th><td class="[a-z]+">([^<]*)</td>`).exec(body)?.[1] ?? '';
    const rows = (cls: string) => [...body.matchAll(new RegExp(`<tr class="${cls}">[\\s\\S]*?<td class="n">(\\d+)</td></tr>`, 'g'))].map((r) => Number(r[1]));
    out.set(Number(m[2]), {
      eventId: Number(prov('Event id')),
      context: rows('context'),
      self: rows('exhibit'),
      sha256: prov('SHA-256 of the evidence file'),
      row: prov('Row'),
      file: prov('Evidence file'),
    });
  }
  return out;
}

describe('report --exhibits', () => {
  // The chat with the most messages, in time order; tag three of its messages and one call.
  let p: string;
  let chat: FixtureMessage[];
  let picked: FixtureMessage[];
  let callId: number;
  let out: string;

  beforeAll(async () => {
    p = copyCase();
    const byChat = new Map<number, FixtureMessage[]>();
    for (const m of messages) if (m.chatRowid !== null) byChat.set(m.chatRowid, [...(byChat.get(m.chatRowid) ?? []), m]);
    chat = [...byChat.values()].sort((a, b) => b.length - a.length)[0].sort((a, b) => a.dateUs - b.dateUs);
    expect(chat.length).toBeGreaterThanOrEqual(6);
    picked = [chat[0], chat[3], chat[chat.length - 1]];
    const db = new Database(p, { readonly: true });
    const ids = picked.map((m) => eventOf(db, m));
    callId = db.prepare("SELECT id FROM events WHERE kind = 'call' ORDER BY ts_utc_us DESC LIMIT 1").pluck().get() as number;
    db.close();
    // Tagged out of time order, in two commands: the numbers must not depend on it.
    let r = await cli(['tag', '--case', p, String(ids[2]), String(callId), '--tag', 'claim', '--note', 'the last word']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['tag', '--case', p, String(ids[1]), String(ids[0]), '--tag', 'claim']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['tag', '--case', p, String(ids[1]), '--tag', 'other']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['note', '--case', p, String(ids[0]), '--text', 'first message of the chat']);
    expect(r.code, r.stderr).toBe(0);
    out = path.join(tmpDir(), 'exhibits');
    r = await cli(['report', '--case', p, '--exhibits', '--tag', 'claim', '--context', '2', '--out', out, '--format', HAVE_BROWSER ? 'html,pdf' : 'html']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^4 exhibits/m);
  }, 180_000);

  it('holds exactly the tagged events, numbered in time order, with context marked and full provenance', () => {
    const html = fs.readFileSync(path.join(out, 'exhibits.html'), 'utf8');
    const ex = parseExhibits(html);
    const db = new Database(p, { readonly: true });
    const callTs = db.prepare('SELECT ts_utc_us FROM events WHERE id = ?').pluck().get(callId) as number;
    // Expected order from the fixture's own times (the call sorts in among the messages by its time).
    const expected = [...picked.map((m) => ({ id: eventOf(db, m), us: m.dateUs })), { id: callId, us: callTs }].sort((a, b) => a.us - b.us || a.id - b.id).map((x) => x.id);
    expect([...ex.keys()]).toEqual([1, 2, 3, 4]);
    expect([...ex.values()].map((x) => x.eventId)).toEqual(expected);

    const smsSha = createHash('sha256')
      .update(fs.readFileSync(path.join(root, fileIdFor('HomeDomain', 'Library/SMS/sms.db').slice(0, 2), fileIdFor('HomeDomain', 'Library/SMS/sms.db'))))
      .digest('hex');
    for (const [n, x] of ex) {
      if (x.eventId === callId) {
        expect(x.context, `exhibit ${n}`).toEqual([]); // a call has no conversation
        expect(x.file).toBe('HomeDomain/Library/CallHistoryDB/CallHistory.storedata');
        continue;
      }
      const m = picked.find((pm) => eventOf(db, pm) === x.eventId)!;
      const at = chat.indexOf(m);
      // Two messages before and after in the same chat, by the fixture's times; receipts are not context.
      const want = [...chat.slice(Math.max(0, at - 2), at), ...chat.slice(at + 1, at + 3)].map((c) => eventOf(db, c));
      expect(x.context, `exhibit ${n}`).toEqual(want);
      expect(x.self).toEqual([x.eventId]);
      expect(x.file).toBe('HomeDomain/Library/SMS/sms.db');
      expect(x.row).toBe(String(m.rowid));
      expect(x.sha256).toBe(smsSha);
    }
    // A context row that is itself an exhibit says so; the notes are shown.
    expect(html).toContain('context (also Exhibit');
    expect(html).toContain('the last word');
    expect(html).toContain('first message of the chat');
    // The case hash summary: the content digest recorded at ingest.
    const ingest = JSON.parse(db.prepare("SELECT detail_json FROM custody WHERE action = 'ingest'").pluck().get() as string);
    expect(html).toContain(ingest.case_digest.sha256);
    db.close();
  });

  it('records the exhibit numbers (and their PDF pages) in manifest.json, and the folder verifies', async () => {
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as OutputManifest;
    const ex = parseExhibits(fs.readFileSync(path.join(out, 'exhibits.html'), 'utf8'));
    const recorded = m.actions[0].exhibits!;
    expect(recorded.map((e) => [e.number, e.event_id])).toEqual([...ex].map(([n, x]) => [n, x.eventId]));
    expect(recorded.map((e) => e.html_anchor)).toEqual(['exhibits.html#exhibit-1', 'exhibits.html#exhibit-2', 'exhibits.html#exhibit-3', 'exhibits.html#exhibit-4']);
    const db = new Database(p, { readonly: true });
    expect(recorded.find((e) => e.event_id === eventOf(db, picked[1]))!.tags).toEqual(['claim', 'other']);
    db.close();
    const r = await cli(['verify', out, '--case', p]);
    expect(r.code, r.stdout).toBe(0);
  });

  it.skipIf(!HAVE_BROWSER || !HAVE_PDFTOTEXT)('prints each exhibit from the page the manifest names, with the exhibit in every footer', () => {
    const pdf = path.join(out, 'exhibits.pdf');
    const m = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as OutputManifest;
    const pageText = (n: number) => spawnSync('pdftotext', ['-f', String(n), '-l', String(n), pdf, '-'], { encoding: 'utf8' }).stdout;
    const all = spawnSync('pdftotext', [pdf, '-'], { encoding: 'utf8' }).stdout;
    expect(all).toContain('Exhibit 1');
    for (const e of m.actions[0].exhibits!) {
      expect(e.pdf_first_page).toBeGreaterThan(1);
      const text = pageText(e.pdf_first_page!);
      expect(text).toContain(`Exhibit ${e.number}\n`);
      expect(text).toContain(`Exhibit ${e.number}, page 1 of ${e.pdf_pages}`);
      // The page before belongs to something else.
      expect(pageText(e.pdf_first_page! - 1)).not.toContain(`Exhibit ${e.number}, page`);
    }
  });

  it.skipIf(!HAVE_BROWSER)(
    'finds the same pages printed whole (from the index links) and exhibit by exhibit (a template without them)',
    async () => {
      const labDir = tmpDir();
      const own = fs.readFileSync(path.join(process.cwd(), 'templates', 'exhibits.hbs'), 'utf8');
      const noLinks = own.replace(/<a href="#\{\{anchor\}\}">\{\{number\}\}<\/a>/, '{{number}}');
      expect(noLinks).not.toBe(own);
      fs.writeFileSync(path.join(labDir, 'exhibits.hbs'), noLinks);
      const cf = CaseFile.open(p, { readonly: true });
      try {
        const model = buildExhibitsModel(cf, { tz: 'UTC', filter: {}, tag: 'claim', context: 2 });
        const whole = await writeExhibitsPdf(model, path.join(tmpDir(), 'a.pdf'), { templates: loadTemplates(undefined, 'exhibits') });
        const each = await writeExhibitsPdf(model, path.join(tmpDir(), 'b.pdf'), { templates: loadTemplates(labDir, 'exhibits') });
        expect([whole.whole, each.whole]).toEqual([true, false]);
        expect(whole.exhibits.map((e) => e.number)).toEqual([1, 2, 3, 4]);
        expect(each.exhibits).toEqual(whole.exhibits);
        expect(each.pages).toBe(whole.pages);
      } finally {
        cf.db.close();
      }
    },
    180_000,
  );

  it('gives the same numbers when rendered again, and the case still verifies', async () => {
    const again = path.join(tmpDir(), 'again');
    const r = await cli(['report', '--case', p, '--exhibits', '--tag', 'claim', '--context', '2', '--out', again, '--format', 'html']);
    expect(r.code, r.stderr).toBe(0);
    const a = parseExhibits(fs.readFileSync(path.join(out, 'exhibits.html'), 'utf8'));
    const b = parseExhibits(fs.readFileSync(path.join(again, 'exhibits.html'), 'utf8'));
    expect([...b]).toEqual([...a]);
    // --tag other: only that tag's event, as Exhibit 1; without --tag every tagged event.
    const other = path.join(tmpDir(), 'other');
    await cli(['report', '--case', p, '--exhibits', '--tag', 'other', '--out', other, '--format', 'html']);
    const o = parseExhibits(fs.readFileSync(path.join(other, 'exhibits.html'), 'utf8'));
    const db = new Database(p, { readonly: true });
    expect([...o.entries()].map(([n, x]) => [n, x.eventId])).toEqual([[1, eventOf(db, picked[1])]]);
    db.close();
    const v = await cli(['verify', p]);
    expect(v.code, v.stdout).toBe(0);
  });

  it('refuses what cannot make an exhibit report, with one line and exit 2', async () => {
    const fresh = copyCase();
    const o = path.join(tmpDir(), 'x');
    for (const [args, msg] of [
      [['report', '--case', fresh, '--exhibits', '--out', o], /no event in this case is tagged/],
      [['report', '--case', p, '--exhibits', '--tag', 'nope', '--out', o], /no event is tagged "nope" in this case \(tags: claim, other\)/],
      [['report', '--case', p, '--exhibits', '--context', '51', '--out', o], /--context must be a whole number from 0 to 50/],
      [['report', '--case', p, '--exhibits', '--context', '-1', '--out', o], /--context must be a whole number/],
      [['report', '--case', p, '--context', '2', '--out', o], /--context goes with --exhibits/],
    ] as [string[], RegExp][]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').pop(), args.join(' ')).toMatch(msg);
    }
    expect(fs.existsSync(path.join(o, 'exhibits.html'))).toBe(false);
  });
});

describe('hostile text in exhibits', () => {
  let dir: string;
  let html: string;
  let browser: Browser | null = null;
  const NOTE = '<script>window.__pwned=11</script><img src=http://evil.example/n.png onerror="window.__pwned=12">';

  beforeAll(async () => {
    dir = tmpDir();
    const casePath = path.join(dir, 'case.db');
    buildSyntheticCase(casePath, { events: 120, hostile: true, caseNumber: 'X-1 <script>window.__pwned=9</script>' });
    const cf = CaseFile.open(casePath);
    // Every event whose text is hostile, plus a hostile tag note and event note.
    const ids = cf.db.prepare("SELECT id FROM events WHERE body LIKE '%<%' OR title LIKE '%<%' ORDER BY id").pluck().all() as number[];
    expect(ids.length).toBeGreaterThan(5);
    addTag(cf.db, { eventIds: ids, tag: 'hostile', note: NOTE });
    setNote(cf.db, { eventId: ids[0], note: NOTE });
    const model = buildExhibitsModel(cf, { tz: 'Europe/Paris', filter: {}, context: 3, title: 'Exhibits <img src=http://evil.example/t.png>' });
    writeExhibitsHtml(model, path.join(dir, 'exhibits.html'), loadTemplates(undefined, 'exhibits'));
    if (HAVE_BROWSER) {
      browser = await puppeteer.launch({ executablePath: (await resolveChromium())!, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
      // The PDF prints exhibits one by one: a few of them are enough to see the hostile text printed as text.
      addTag(cf.db, { eventIds: ids.slice(0, 4), tag: 'pdf', note: NOTE });
      const few = buildExhibitsModel(cf, { tz: 'Europe/Paris', filter: {}, tag: 'pdf', context: 3, title: model.title });
      const r = await writeExhibitsPdf(few, path.join(dir, 'exhibits.pdf'), { templates: loadTemplates(undefined, 'exhibits'), browser });
      expect(r.blockedRequests).toEqual([]);
    }
    cf.close();
    html = fs.readFileSync(path.join(dir, 'exhibits.html'), 'utf8');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('never appears as markup, and the page carries no script at all', () => {
    expect(html).not.toMatch(/<script/i);
    for (const bad of [/<img/i, /<iframe/i, /<svg/i, /href="javascript:/i, /<style>@import/i, /onerror=/i]) expect(html).not.toMatch(bad);
    expect(html).toContain('&lt;script&gt;window.__pwned&#x3D;11&lt;/script&gt;');
    expect(html).toContain("script-src 'none'");
    expect(html).toContain('{{constructor.constructor');
    expect(HOSTILE.length).toBeGreaterThan(5);
  });

  it.skipIf(!HAVE_BROWSER)('runs nothing and requests nothing when opened; the text shows literally', async () => {
    const page = await browser!.newPage();
    const requests: string[] = [];
    await page.setRequestInterception(true);
    const url = `file://${path.join(dir, 'exhibits.html')}`;
    page.on('request', (req) => {
      if (req.url() !== url && !req.url().startsWith('data:')) requests.push(req.url());
      void req.continue();
    });
    await page.goto(url, { waitUntil: 'load' });
    const state = await page.evaluate(() => ({ pwned: (window as unknown as { __pwned?: number }).__pwned ?? null, text: document.body.textContent ?? '' }));
    expect(state.pwned).toBeNull();
    expect(requests).toEqual([]);
    expect(state.text).toContain(NOTE);
    expect(state.text).toContain('Case X-1 <script>window.__pwned=9</script>');
    await page.close();
    if (HAVE_PDFTOTEXT) {
      const text = spawnSync('pdftotext', [path.join(dir, 'exhibits.pdf'), '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
      expect(text).toContain('<script>window.__pwned=11</script>');
    }
  });
});
