// Calendar.sqlitedb (two schema generations) and Reminders (in Calendar.sqlitedb, ZREMCDOBJECT, ZREMCDREMINDER)
// through ingest(); mvt's iOS 14.3 Calendar.sqlitedb as real data.
import { ingestWithTruncated } from './artifactKit.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HAVE_REALDATA, REALDATA, fixture, tmpDir, treeHash, wrapRealFiles } from './helpers.js';
import { addCalendar, type CalendarGeneration, type CalendarTruth, type RemindersLayout } from '../fixtures/artifacts/calendar.js';
import { ingest } from '../src/pipeline/ingest.js';
import { isoFromUs } from '../src/formats/appleTime.js';

process.env.TZ = 'Pacific/Kiritimati';
type Row = Record<string, unknown>;
function query<T = Row>(casePath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(casePath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

const CASES: [CalendarGeneration, RemindersLayout][] = [
  ['legacy', 'calendar-db'],
  ['current', 'remcdobject'],
  ['current', 'remcdreminder'],
];

describe.each(CASES)('Calendar.sqlitedb (%s) with reminders in %s', (generation, layout) => {
  it('events with start/end/location/organizer/attendees, reminders with due/completed, hostile rows kept', async () => {
    let ct!: CalendarTruth;
    let contact!: { name: string; email: string };
    const t = fixture({
      contacts: 6,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        const c = truth.contacts.find((x) => x.emails.length)!;
        contact = { name: c.displayName, email: c.emails[0] };
        ct = addCalendar(w, rng, tmp, { generation, reminders: layout, end: truth.device.backupDate, contactName: c.displayName, contactEmail: c.emails[0] });
      },
    });
    const before = treeHash(t.root);
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US', only: ['calendar', 'reminders'] });
    expect(treeHash(t.root)).toEqual(before);

    for (const e of ct.events) {
      const [m] = query(casePath, "SELECT * FROM events WHERE source_table = 'CalendarItem' AND source_rowid = ? AND action IN ('start','birthday')", e.rowid);
      const x = JSON.parse(m.extra_json as string);
      expect({
        rowid: e.rowid,
        kind: m.kind,
        ts: m.ts_utc_us,
        summary: x.summary,
        end: x.end_utc,
        location: x.location,
        lat: m.latitude,
        lon: m.longitude,
        floating: x.floating_time ?? false,
      }).toEqual({
        rowid: e.rowid,
        kind: 'calendar',
        ts: e.startUs,
        summary: e.summary,
        end: isoFromUs(e.endUs),
        location: e.location,
        lat: e.lat,
        lon: e.lon,
        floating: e.floating,
      });
      expect(Number(m.ts_raw)).toBe(e.startRaw);
      expect(m.service).toBe('Work');
      if (e.organizer) expect([m.counterpart, m.counterpart_name]).toEqual([e.organizer.email, e.organizer.name]);
      expect(x.attendees.map((a: { name: string | null; email: string; status: string }) => ({ name: a.name, email: a.email, status: a.status }))).toEqual(e.attendees);
      if (e.startUs !== null && e.endUs !== null) expect(m.duration_s).toBe((e.endUs - e.startUs) / 1e6);
      const times = query<{ action: string; ts_utc_us: number }>(
        casePath,
        "SELECT action, ts_utc_us FROM events WHERE source_table = 'CalendarItem' AND source_rowid = ? AND action IN ('created','modified') ORDER BY action",
        e.rowid,
      );
      expect(times).toEqual([
        { action: 'created', ts_utc_us: e.createdUs },
        { action: 'modified', ts_utc_us: e.modifiedUs },
      ]);
    }
    expect(ct.events[0].organizer).toEqual({ email: contact.email, name: contact.name });
    const meeting = query(casePath, "SELECT body, title FROM events WHERE source_table = 'CalendarItem' AND source_rowid = 1 AND action = 'start'")[0];
    expect(meeting.body).toBe('Bring the <script>alert(1)</script> numbers');
    expect(meeting.title).toBe('Calendar event: Budget review <b>Q3</b> at HQ Room 4 with Pat Doe, lee@example.org');
    const w = query<{ message: string }>(
      casePath,
      "SELECT message FROM warnings WHERE extractor = 'calendar' AND source_table = 'CalendarItem' AND source_rowid = ?",
      ct.absurdRowid,
    );
    expect(w.map((x) => x.message).join('\n')).toMatch(new RegExp(`CalendarItem row ${ct.absurdRowid}: start_date holds an impossible time`));

    const remExtractor = layout === 'calendar-db' ? 'calendar' : 'reminders';
    for (const rem of ct.reminders) {
      const rows = query<{ action: string; ts_utc_us: number; body: string | null; extra_json: string; kind: string; extractor: string }>(
        casePath,
        'SELECT action, ts_utc_us, body, extra_json, kind, extractor FROM events WHERE source_table = ? AND source_rowid = ? ORDER BY action',
        rem.table,
        rem.rowid,
      );
      const byAction = Object.fromEntries(rows.map((x) => [x.action, x]));
      expect(rows.every((x) => x.kind === 'reminder' && x.extractor === remExtractor)).toBe(true);
      expect(byAction.created.ts_utc_us).toBe(rem.createdUs);
      expect(byAction.created.body).toBe(rem.notes);
      expect(JSON.parse(byAction.created.extra_json)).toMatchObject({ reminder_title: rem.title, list: rem.list });
      expect(byAction.due?.ts_utc_us ?? null).toBe(rem.dueUs);
      expect(byAction.completed?.ts_utc_us ?? null).toBe(rem.completedUs);
      expect(byAction.modified.ts_utc_us).toBe(rem.modifiedUs);
    }
    expect(ct.reminders.length).toBe(2);
    if (layout !== 'calendar-db') {
      const f = query(casePath, "SELECT f.relative_path FROM events e JOIN files f ON f.id = e.source_file_id WHERE e.extractor = 'reminders' LIMIT 1")[0];
      expect(f.relative_path).toBe(ct.reminderStore);
    }
    expect(r.summaries.find((s) => s.extractor === 'calendar')!.events).toBe(ct.events.length * 3 - 0 + (layout === 'calendar-db' ? 6 : 0));
  }, 60_000);
});

describe('Calendar/Reminders: broken stores', () => {
  it('a garbage reminders store is a warning; the calendar is still read', async () => {
    let ct!: CalendarTruth;
    const t = fixture({
      contacts: 2,
      calls: 2,
      extend: (w, truth, rng, tmp) => {
        ct = addCalendar(w, rng, tmp, { generation: 'current', reminders: 'calendar-db', end: truth.device.backupDate, contactName: 'X', contactEmail: 'x@example.org' });
        w.addFile('HomeDomain', 'Library/Reminders/Container_v1/Stores/Data-BROKEN.sqlite', Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(200, 0xee)]));
      },
    });
    const casePath = path.join(tmpDir(), 'case.db');
    const r = await ingest({ backupDir: t.root, casePath, tz: 'UTC', region: 'US' });
    expect(r.summaries.find((s) => s.extractor === 'reminders')!.status).not.toBe('ok');
    expect(query(casePath, "SELECT count(*) AS n FROM warnings WHERE extractor = 'reminders' AND severity = 'error'")[0].n).toBeGreaterThan(0);
    expect(r.summaries.find((s) => s.extractor === 'calendar')!.events).toBe(ct.events.length * 3 + 6);
  }, 60_000);
});

describe.skipIf(!HAVE_REALDATA)('real data: mvt Calendar.sqlitedb (iOS 14.3)', () => {
  it('"Super interesting meeting": start, created, modified', async () => {
    const dir = tmpDir();
    const root = path.join(dir, 'backup');
    wrapRealFiles(root, [
      { domain: 'HomeDomain', relativePath: 'Library/Calendar/Calendar.sqlitedb', source: path.join(REALDATA, 'mvt-backup/20/2041457d5fe04d39d0ab481178355df6781e6858') },
    ]);
    const casePath = path.join(dir, 'case.db');
    await ingest({ backupDir: root, casePath, tz: 'UTC', region: 'US', only: ['calendar'] });
    const ev = query(
      casePath,
      "SELECT action, ts_utc_us, body, json_extract(extra_json, '$.summary') AS summary, json_extract(extra_json, '$.end_utc') AS end_utc FROM events WHERE extractor = 'calendar' ORDER BY ts_utc_us",
    );
    expect(ev.map((e) => [e.action, isoFromUs(e.ts_utc_us as number)])).toEqual([
      ['created', '2023-04-11T18:30:06.000Z'],
      ['modified', '2023-04-11T18:30:38.000Z'],
      ['start', '2023-04-18T09:15:00.000Z'],
    ]);
    const start = ev.find((e) => e.action === 'start')!;
    expect([start.summary, start.body, start.end_utc]).toEqual(['Super interesting meeting', 'very very interesting things', '2023-04-18T10:15:00.000Z']);
  }, 60_000);
});

describe('Calendar: truncated database', () => {
  it('a Calendar.sqlitedb cut after its first page fails alone; calls are still extracted', async () => {
    const { casePath, result: r } = await ingestWithTruncated('HomeDomain', 'Library/Calendar/Calendar.sqlitedb', (cap, truth, rng, tmp) =>
      addCalendar(cap as unknown as Parameters<typeof addCalendar>[0], rng, tmp, {
        generation: 'current',
        reminders: 'calendar-db',
        end: truth.device.backupDate,
        contactName: 'X',
        contactEmail: 'x@example.org',
      }),
    );
    expect(r.summaries.find((s) => s.extractor === 'calendar')!.status).toBe('failed');
    expect(query<{ message: string }>(casePath, "SELECT message FROM warnings WHERE extractor = 'calendar' AND severity = 'error'")[0].message).toMatch(/malformed|corrupt/i);
    expect(r.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});
