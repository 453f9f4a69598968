// Tags and notes: their own tables, a custody row per change, their own digest. Tagging never makes verify call
// the evidence-derived content tampered; a tags table edited behind the tool's back is caught.
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import { cli, fixture, tmpDir } from './helpers.js';
import { ingestUnchanged } from './artifactKit.js';
import { addTag, removeTag, listTags, tagsOf, notesOf, setNote, tagsDigest, TagError } from '../src/timeline/tags.js';
import { verifyCase } from '../src/custody/verify/case.js';
import { latestIngestDigest } from '../src/custody/verify/case.js';
import { checkCaseDigest } from '../src/custody/caseDigest.js';
import { lockCase } from '../src/timeline/caseFile.js';
import { readCustodyHeads, verifyCustodyChain, type CustodyRow } from '../src/timeline/custodyLog.js';

let base: string;

beforeAll(async () => {
  const t = fixture({ seed: 18, contacts: 3, calls: 6, messages: 12, messagesInWal: 0, messageTraps: false });
  base = (await ingestUnchanged(t.root)).casePath;
}, 120_000);

/** A fresh copy of the ingested case (with its custody-heads sidecar) for one test. */
function copyCase(): string {
  const dir = tmpDir();
  const p = path.join(dir, 'case.db');
  fs.copyFileSync(base, p);
  fs.copyFileSync(`${base}.custody-heads`, `${p}.custody-heads`);
  return p;
}

const custodyRows = (db: Database.Database) => db.prepare('SELECT * FROM custody ORDER BY seq').all() as CustodyRow[];
const eventIds = (db: Database.Database, n: number) => db.prepare('SELECT id FROM events ORDER BY id LIMIT ?').pluck().all(n) as number[];

describe('tags core', () => {
  it('adds, updates, lists, reads and removes tags, one custody row per change', () => {
    const p = copyCase();
    const db = new Database(p);
    const [a, b, c] = eventIds(db, 3);
    const before = custodyRows(db).length;

    expect(addTag(db, { eventIds: [a, b], tag: 'claim', note: 'first contact', examiner: 'J. Doe' })).toMatchObject({ added: 2, updated: 0 });
    // Again with the same note: nothing changes, no custody row.
    expect(addTag(db, { eventIds: [a, b], tag: 'claim', note: 'first contact' })).toMatchObject({ added: 0, updated: 0, custody: null });
    // A new note updates a; c is added.
    expect(addTag(db, { eventIds: [a, c], tag: 'claim', note: 'revised', examiner: 'J. Doe' })).toMatchObject({ added: 1, updated: 1 });
    addTag(db, { eventIds: [c], tag: '  alibi  ', examiner: 'K. Roe' });
    // The same name typed decomposed (e + combining accent) is the same tag.
    addTag(db, { eventIds: [c], tag: 'caf\u00e9', examiner: 'K. Roe' });
    expect(addTag(db, { eventIds: [c], tag: 'cafe\u0301' })).toMatchObject({ added: 0, updated: 0 });
    removeTag(db, { eventIds: [c], tag: 'cafe\u0301', examiner: 'K. Roe' });

    expect(listTags(db)).toEqual([
      { tag: 'claim', count: 3 },
      { tag: 'alibi', count: 1 },
    ]);
    const got = tagsOf(db, [a, b, c, 999_999]);
    expect([...got.keys()].sort((x, y) => x - y)).toEqual([a, b, c]);
    expect(got.get(a)).toEqual([{ eventId: a, tag: 'claim', note: 'revised', examiner: 'J. Doe', at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) }]);
    expect(got.get(b)?.[0].note).toBe('first contact');
    expect(got.get(c)?.map((t) => t.tag)).toEqual(['alibi', 'claim']);

    expect(removeTag(db, { eventIds: [a, b], tag: 'claim', examiner: 'J. Doe' })).toMatchObject({ removed: 2 });
    expect(removeTag(db, { eventIds: [a], tag: 'claim' })).toMatchObject({ removed: 0, custody: null });
    expect(listTags(db)).toEqual([
      { tag: 'alibi', count: 1 },
      { tag: 'claim', count: 1 },
    ]);

    setNote(db, { eventId: b, note: 'called twice that night', examiner: 'K. Roe' });
    expect(notesOf(db, [a, b]).get(b)).toMatchObject({ eventId: b, note: 'called twice that night', examiner: 'K. Roe' });
    setNote(db, { eventId: b, note: null, examiner: 'K. Roe' });
    expect(notesOf(db, [b]).size).toBe(0);

    const rows = custodyRows(db).slice(before);
    expect(rows.map((r) => [r.action, r.actor])).toEqual([
      ['tag', 'J. Doe'],
      ['tag', 'J. Doe'],
      ['tag', 'K. Roe'],
      ['tag', 'K. Roe'],
      ['untag', 'K. Roe'],
      ['untag', 'J. Doe'],
      ['note', 'K. Roe'],
      ['note', 'K. Roe'],
    ]);
    const d1 = JSON.parse(rows[0].detail_json);
    expect(d1).toMatchObject({ tag: 'claim', note: 'first contact', added: [a, b], updated: [] });
    expect(d1.tags_digest).toMatchObject({ tags: 2, notes: 0, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The removed tags' notes are kept in the record.
    expect(JSON.parse(rows[5].detail_json).removed).toEqual([
      { event_id: a, note: 'revised' },
      { event_id: b, note: 'first contact' },
    ]);
    expect(JSON.parse(rows[7].detail_json)).toMatchObject({ event_id: b, note: null, previous_note: 'called twice that night' });
    // The last row's digest is the digest of the tables now.
    expect(JSON.parse(rows[7].detail_json).tags_digest).toEqual(tagsDigest(db));
    expect(verifyCustodyChain(db).problems).toEqual([]);
    // Each new head is anchored in the sidecar beside the case.
    const heads = readCustodyHeads(p)?.heads ?? [];
    expect(heads.slice(-8).map((h) => h.hash)).toEqual(rows.map((r) => r.hash));
    db.close();
  });

  it('refuses bad input without writing anything', () => {
    const p = copyCase();
    const db = new Database(p);
    const [a] = eventIds(db, 1);
    const n = custodyRows(db).length;
    const max = db.prepare('SELECT max(id) FROM events').pluck().get() as number;
    expect(() => addTag(db, { eventIds: [a, max + 1], tag: 'x' })).toThrow(new TagError(`no event with id ${max + 1} in this case`));
    expect(() => addTag(db, { eventIds: [], tag: 'x' })).toThrow(/no event id/);
    expect(() => addTag(db, { eventIds: [1.5], tag: 'x' })).toThrow(/not an event id: 1.5/);
    expect(() => addTag(db, { eventIds: [a], tag: '   ' })).toThrow(/must not be empty/);
    expect(() => addTag(db, { eventIds: [a], tag: 'x'.repeat(65) })).toThrow(/longer than 64/);
    expect(() => addTag(db, { eventIds: [a], tag: 'a\nb' })).toThrow(/control characters/);
    expect(() => addTag(db, { eventIds: [a], tag: 'a\u0007b' })).toThrow(/control characters/);
    expect(() => addTag(db, { eventIds: [a], tag: 'ok', note: 'bell\u0007' })).toThrow(/control characters/);
    expect(() => setNote(db, { eventId: max + 1, note: 'x' })).toThrow(/no event with id/);
    expect(() => removeTag(db, { eventIds: [max + 5], tag: 'x' })).toThrow(/no event with id/);
    // 64 characters (not bytes) is fine, and a note may have line breaks.
    expect(addTag(db, { eventIds: [a], tag: 'é'.repeat(64), note: 'line 1\nline 2\tend' }).added).toBe(1);
    expect(custodyRows(db).length).toBe(n + 1);
    expect(db.prepare('SELECT count(*) FROM event_tags').pluck().get()).toBe(1);
    db.close();
  });

  it('verify passes after tagging, and the content digest of the evidence-derived tables is unchanged', async () => {
    const p = copyCase();
    const db = new Database(p);
    const ids = eventIds(db, 4);
    addTag(db, { eventIds: ids, tag: 'claim', note: 'n', examiner: 'J. Doe' });
    setNote(db, { eventId: ids[0], note: 'an untagged note' });
    const recorded = latestIngestDigest(custodyRows(db));
    expect(recorded).not.toBeNull();
    const check = checkCaseDigest(db, recorded!.digest);
    expect(check.problems).toEqual([]);
    expect(check.sha256).toBe(recorded!.digest.sha256);
    db.close();
    const r = await verifyCase(p);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks).toContain(`tags: 4 tag(s) and 1 note(s) as recorded by the last tag change (custody row ${custodyRows(new Database(p, { readonly: true })).length})`);
  });

  it('verify catches tags edited with SQL behind the tool, and names only the tags', async () => {
    for (const edit of [
      "UPDATE event_tags SET note = 'doctored'",
      'DELETE FROM event_tags',
      "INSERT INTO event_tags (event_id, tag, note, examiner, at) VALUES (2, 'planted', NULL, 'x', '2024-01-01T00:00:00Z')",
      "INSERT INTO event_notes (event_id, note, examiner, at) VALUES (3, 'planted', 'x', '2024-01-01T00:00:00Z')",
    ]) {
      const p = copyCase();
      const db = new Database(p);
      addTag(db, { eventIds: [1], tag: 'claim', note: 'n' });
      db.close();
      const raw = new Database(p);
      raw.exec(edit);
      raw.close();
      const r = await verifyCase(p);
      expect(r.ok, edit).toBe(false);
      expect(
        r.problems.map((x) => x.item),
        edit,
      ).toEqual(['tags']);
      expect(r.problems[0].message).toMatch(/edited outside the tool/);
    }
  });

  it('verify catches tags written into a case that never had a tag change', async () => {
    const p = copyCase();
    const raw = new Database(p);
    raw.exec("INSERT INTO event_tags (event_id, tag, note, examiner, at) VALUES (1, 'planted', NULL, 'x', '2024-01-01T00:00:00Z')");
    raw.close();
    const r = await verifyCase(p);
    expect(r.problems).toEqual([
      { area: 'case', item: 'tags', message: expect.stringMatching(/1 tag\(s\) and 0 note\(s\) are in the case but no tag change is in the custody log/) },
    ]);
    // Untouched, the case reports no tags.
    expect((await verifyCase(copyCase())).checks).toContain('tags: none');
  });
});

describe('tag, untag, note and tags commands', () => {
  it('tags and untags from the command line, lists with counts (text and --json), one custody row each', async () => {
    const p = copyCase();
    const db = new Database(p, { readonly: true });
    const [a, b, c] = eventIds(db, 3);
    const n0 = custodyRows(db).length;
    db.close();

    let r = await cli(['tag', '--case', p, String(a), `${b},${c}`, '--tag', 'claim', '--note', 'why it matters', '--examiner', 'J. Doe']);
    expect(r.stderr).toMatch(/custody head of .*case\.db: row \d+, [0-9a-f]{64}/);
    expect(r.stdout).toBe(`tag "claim": 3 event(s) tagged, 0 note(s) updated; custody row ${n0 + 1}\n`);
    expect(r.code).toBe(0);
    r = await cli(['tag', '--case', p, String(a), '--tag', 'claim']);
    expect(r.stdout).toBe('tag "claim": nothing changed (already tagged)\n');
    r = await cli(['tag', '--case', p, String(c), '--tag', 'alibi']);
    expect(r.code).toBe(0);

    r = await cli(['tags', '--case', p]);
    expect(r.stdout).toBe('3  claim\n1  alibi\n');
    r = await cli(['tags', '--case', p, '--json']);
    expect(JSON.parse(r.stdout)).toEqual([
      { tag: 'claim', count: 3 },
      { tag: 'alibi', count: 1 },
    ]);
    r = await cli(['tags', '--case', p, '--tag', 'claim', '--json']);
    const listed = JSON.parse(r.stdout) as { tag: string; events: { event_id: number; note: string; examiner: string; time_zone: string }[] };
    expect(listed.events.map((e) => e.event_id).sort((x, y) => x - y)).toEqual([a, b, c]);
    expect(listed.events.every((e) => e.note === 'why it matters' && e.examiner === 'J. Doe' && e.time_zone === 'UTC')).toBe(true);

    r = await cli(['untag', '--case', p, String(b), '--tag', 'claim', '--examiner', 'J. Doe']);
    expect(r.stdout).toBe(`tag "claim" removed from 1 event(s); custody row ${n0 + 3}\n`);
    r = await cli(['note', '--case', p, String(b), '--text', 'untagged but noted']);
    expect(r.stdout).toBe(`note on event ${b} written; custody row ${n0 + 4}\n`);

    const after = new Database(p, { readonly: true });
    const rows = custodyRows(after).slice(n0);
    expect(rows.map((x) => x.action)).toEqual(['tag', 'tag', 'untag', 'note']);
    expect(rows[0].actor).toBe('J. Doe');
    expect(JSON.parse(rows[0].detail_json).command_line).toEqual([
      'tag',
      '--case',
      p,
      String(a),
      `${b},${c}`,
      '--tag',
      'claim',
      '--note',
      'why it matters',
      '--examiner',
      'J. Doe',
    ]);
    after.close();
    // The lock is released, and verify (CLI) passes with the tags reported on their own line.
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
    r = await cli(['verify', p]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tags: 3 tag\(s\) and 1 note\(s\) as recorded by the last tag change/);
  });

  it('refuses unknown events, bad ids and bad names with one line and exit 2, changing nothing', async () => {
    const p = copyCase();
    const before = fs.readFileSync(p);
    for (const [args, msg] of [
      [['tag', '--case', p, '99999999', '--tag', 'x'], /^ios-timeline: no event with id 99999999 in this case\n$/],
      [['tag', '--case', p, '1', 'abc', '--tag', 'x'], /^ios-timeline: not an event id: abc/],
      [['tag', '--case', p, '1', '--tag', ''], /^ios-timeline: a tag name must not be empty\n$/],
      [['untag', '--case', p, '0', '--tag', 'x'], /^ios-timeline: not an event id: 0/],
      [['note', '--case', p, '1'], /^ios-timeline: give either --text or --clear\n$/],
      [['tags', '--case', p, '--tag', 'nope'], /^ios-timeline: no event is tagged "nope" in this case\n$/],
    ] as [string[], RegExp][]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    expect(fs.readFileSync(p).equals(before)).toBe(true);
    expect(fs.existsSync(`${p}.lock`)).toBe(false);
  });

  it('refuses a case another command holds, leaving it untouched', async () => {
    const p = copyCase();
    const before = fs.readFileSync(p);
    const lock = lockCase(p, 'report --out elsewhere');
    try {
      const r = await cli(['tag', '--case', p, '1', '--tag', 'x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is in use: report --out elsewhere \(pid \d+/);
    } finally {
      lock.release();
    }
    expect(fs.readFileSync(p).equals(before)).toBe(true);
    expect((await cli(['tag', '--case', p, '1', '--tag', 'x'])).code).toBe(0);
  });

  it('export and report --tag and --tagged keep exactly the tagged events; an unknown tag is an error', async () => {
    const p = copyCase();
    const db = new Database(p, { readonly: true });
    const ids = eventIds(db, 5);
    db.close();
    await cli(['tag', '--case', p, String(ids[0]), String(ids[2]), '--tag', 'claim']);
    await cli(['tag', '--case', p, String(ids[4]), '--tag', 'other']);
    const out = tmpDir();
    const exported = async (name: string, ...filter: string[]) => {
      const r = await cli(['export', '--case', p, '--format', 'jsonl', '--out', path.join(out, name), ...filter]);
      expect(r.code, r.stderr).toBe(0);
      return fs
        .readFileSync(path.join(out, name), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { event_id: number }).event_id)
        .sort((x, y) => x - y);
    };
    expect(await exported('claim.jsonl', '--tag', 'claim')).toEqual([ids[0], ids[2]]);
    expect(await exported('any.jsonl', '--tagged')).toEqual([ids[0], ids[2], ids[4]]);
    expect(await exported('both.jsonl', '--tagged', '--tag', 'other')).toEqual([ids[4]]);
    // The full report takes the same filters, and says so on its cover.
    const rep = await cli(['report', '--case', p, '--out', path.join(out, 'report'), '--format', 'html', '--tag', 'claim']);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toMatch(/^2 events$/m);
    expect(fs.readFileSync(path.join(out, 'report', 'report.html'), 'utf8')).toContain('Tag: claim');
    expect((await cli(['report', '--case', p, '--out', path.join(out, 'report2'), '--format', 'html', '--tagged'])).stdout).toMatch(/^3 events$/m);
    const r = await cli(['export', '--case', p, '--format', 'jsonl', '--out', path.join(out, 'x.jsonl'), '--tag', 'clam']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ios-timeline: no event is tagged "clam" in this case (tags: claim, other)\n');
  });
});
