// Calendar: HomeDomain Library/Calendar/Calendar.sqlitedb. CalendarItem rows are events (entity_type 2), birthdays
// (calendar_scale 'gregorian') and, before iOS 13, reminders (entity_type 3, due_date/completion_date); Location,
// Calendar/Store, Participant/Identity give place, calendar, organizer and attendees (iLEAPP calendarAll.py).
// Times are seconds since 2001; start_tz '_float' marks a floating time (wall-clock, no zone), which is kept and
// flagged rather than presented as UTC.
//
// Every CalendarItem row is a main event ('start' at start_date; reminders go through reminders.ts's emitter), plus
// 'created' and 'modified' events for creation_date and last_modified.
import { isoFromUs } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor } from '../types.js';
import { timeOf } from '../common/time.js';
import { emitReminder, REMINDER_KIND } from './reminders.js';

const ID = 'calendar';
const DOMAIN = 'HomeDomain';
const DB = 'Library/Calendar/Calendar.sqlitedb';
const REMINDER_ENTITY = 3;
/** Participant.status (iLEAPP calendarAll.py get_invitees). */
const STATUS: Record<number, string> = { 0: 'no response', 1: 'accepted', 2: 'declined', 3: 'maybe', 7: 'no response' };
const ATTENDEE_ENTITY = 7;

const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');

export const calendar: Extractor = {
  id: ID,
  title: 'Calendar (events, attendees, locations; reminders before iOS 13)',
  sources: [{ domain: DOMAIN, path: DB }],
  after: ['contacts'],
  kinds: [
    {
      kind: 'calendar',
      label: 'Calendar events',
      color: '#7c3aed',
      view: 'table',
      dataType: 'ios:calendar:event',
      actions: { start: 'Event Start', created: 'Event Created', modified: 'Event Modified', birthday: 'Birthday' },
    },
    REMINDER_KIND,
  ],
  async run(ctx) {
    const src = await ctx.openDatabase(DOMAIN, DB);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'CalendarItem')) throw new ArtifactError(`${DB} has no CalendarItem table (unknown schema)`);
    const c = columnsOf(db, 'CalendarItem');
    const has = (t: string) => hasTable(db, t);

    // Attendees by item (Participant entity_type 7; iLEAPP), organizer by Participant ROWID.
    const people = new Map<
      number,
      { name: string | null; email: string | null; phone: string | null; status: number | null; role: number | null; isSelf: boolean; entity: number | null; owner: number | null }
    >();
    if (has('Participant')) {
      const pc = columnsOf(db, 'Participant');
      const idJoin = has('Identity') && pc.has('identity_id');
      const ic = idJoin ? columnsOf(db, 'Identity') : new Set<string>();
      const cols = ['entity_type', 'status', 'role', 'owner_id', 'email', 'phone_number', 'is_self'].map((x) => colOrNull(pc, x, x, 'p.')).join(', ');
      const q = `SELECT p.ROWID AS rowid, ${cols}, ${idJoin && ic.has('display_name') ? 'i.display_name' : 'NULL'} AS name, ${idJoin && ic.has('address') ? 'i.address' : 'NULL'} AS address
        FROM Participant p ${idJoin ? 'LEFT JOIN Identity i ON i.ROWID = p.identity_id' : ''} ORDER BY p.ROWID`;
      for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
        const email = (sqlText(r.email) ?? sqlText(r.address))?.replace(/^mailto:/i, '') ?? null;
        people.set(Number(r.rowid), {
          name: sqlText(r.name),
          email,
          phone: sqlText(r.phone_number),
          status: r.status == null ? null : Number(r.status),
          role: r.role == null ? null : Number(r.role),
          isSelf: Number(r.is_self ?? 0) === 1,
          entity: r.entity_type == null ? null : Number(r.entity_type),
          owner: r.owner_id == null ? null : Number(r.owner_id),
        });
      }
    }
    const attendeesOf = new Map<number, typeof people extends Map<number, infer V> ? V[] : never>();
    for (const p of people.values()) {
      if (p.owner === null || (p.entity !== null && p.entity !== ATTENDEE_ENTITY)) continue;
      const list = attendeesOf.get(p.owner) ?? [];
      list.push(p);
      attendeesOf.set(p.owner, list);
    }

    const loc = has('Location') && c.has('location_id');
    const lc = loc ? columnsOf(db, 'Location') : new Set<string>();
    const cal = has('Calendar') && c.has('calendar_id');
    const store = cal && has('Store') && columnsOf(db, 'Calendar').has('store_id');
    const cols = [
      'summary',
      'description',
      'start_date',
      'end_date',
      'start_tz',
      'end_tz',
      'all_day',
      'calendar_id',
      'organizer_id',
      'status',
      'url',
      'has_attendees',
      'has_recurrences',
      'entity_type',
      'due_date',
      'completion_date',
      'creation_date',
      'last_modified',
      'calendar_scale',
      'conference_url',
      'unique_identifier',
      'hidden',
    ]
      .map((x) => colOrNull(c, x, x, 'ci.'))
      .join(', ');
    const q = `SELECT ci.ROWID AS rowid, ${cols},
      ${loc && lc.has('title') ? 'l.title' : 'NULL'} AS loc_title, ${loc && lc.has('address') ? 'l.address' : 'NULL'} AS loc_address,
      ${loc && lc.has('latitude') ? 'l.latitude' : 'NULL'} AS loc_lat, ${loc && lc.has('longitude') ? 'l.longitude' : 'NULL'} AS loc_lon,
      ${cal ? 'k.title' : 'NULL'} AS calendar_title, ${store ? 's.name' : 'NULL'} AS store_name
      FROM CalendarItem ci
      ${loc ? 'LEFT JOIN Location l ON l.ROWID = ci.location_id' : ''}
      ${cal ? 'LEFT JOIN Calendar k ON k.ROWID = ci.calendar_id' : ''}
      ${store ? 'LEFT JOIN Store s ON s.ROWID = k.store_id' : ''}
      ORDER BY ci.ROWID`;
    for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const rowid = Number(r.rowid);
      const summary = sqlText(r.summary);
      if (Number(r.entity_type) === REMINDER_ENTITY) {
        emitReminder(ctx, src.fileRowId, {
          table: 'CalendarItem',
          rowid,
          title: summary,
          notes: sqlText(r.description),
          list: sqlText(r.calendar_title),
          created: r.creation_date,
          modified: r.last_modified,
          due: r.due_date,
          completed: r.completion_date,
          completedFlag: null,
          extra: { store: sqlText(r.store_name), priority: null, stored_in: DB },
        });
        continue;
      }
      const where = { fileRowId: src.fileRowId, table: 'CalendarItem', rowid };
      const start = timeOf(ctx, r.start_date, 'mac-s', { ...where, column: 'start_date' });
      const end = timeOf(ctx, r.end_date, 'mac-s', { ...where, column: 'end_date' });
      const created = timeOf(ctx, r.creation_date, 'mac-s', { ...where, column: 'creation_date' });
      const modified = timeOf(ctx, r.last_modified, 'mac-s', { ...where, column: 'last_modified' });
      const floating = sqlText(r.start_tz) === '_float';
      const birthday = sqlText(r.calendar_scale) === 'gregorian';
      const organizer = r.organizer_id == null ? undefined : people.get(Number(r.organizer_id));
      const attendees = (attendeesOf.get(rowid) ?? []).map((p) => ({
        name: p.name ?? (p.email ? ctx.contacts.nameFor(p.email) : null) ?? (p.phone ? ctx.contacts.nameFor(p.phone) : null),
        email: p.email,
        phone: p.phone,
        status: p.status === null ? null : (STATUS[p.status] ?? `status ${p.status}`),
        is_self: p.isSelf,
      }));
      let lat = r.loc_lat == null ? null : Number(r.loc_lat),
        lon = r.loc_lon == null ? null : Number(r.loc_lon);
      if (lat === null || lon === null || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180 || (lat === 0 && lon === 0)) {
        lat = null;
        lon = null;
      }
      const orgName = organizer ? (organizer.name ?? (organizer.email ? ctx.contacts.nameFor(organizer.email) : null)) : null;
      const durationS = start?.utcUs != null && end?.utcUs != null && end.utcUs >= start.utcUs ? (end.utcUs - start.utcUs) / 1e6 : null;
      const label = oneLine(summary ?? '(no title)');
      const place = sqlText(r.loc_title) ?? sqlText(r.loc_address);
      const extra: Record<string, unknown> = {
        summary,
        calendar: sqlText(r.calendar_title),
        account: sqlText(r.store_name),
        start_tz: sqlText(r.start_tz),
        end_tz: sqlText(r.end_tz),
        floating_time: floating || undefined,
        all_day: Number(r.all_day ?? 0) === 1,
        end_utc: isoFromUs(end?.utcUs),
        end_raw: r.end_date ?? null,
        location: place,
        location_address: sqlText(r.loc_address),
        organizer: organizer ? { name: orgName, email: organizer.email, phone: organizer.phone } : null,
        attendees,
        url: sqlText(r.url),
        conference_url: sqlText(r.conference_url),
        status: r.status ?? null,
        has_recurrences: r.has_recurrences ?? null,
        unique_identifier: sqlText(r.unique_identifier),
        hidden: r.hidden ?? null,
        entity_type: r.entity_type ?? null,
      };
      if (floating) extra.time_note = 'floating time: start_date is wall-clock time in whatever zone the device was in, not UTC';
      const base = {
        kind: 'calendar',
        service: sqlText(r.calendar_title) ?? 'Calendar',
        sourceFileId: src.fileRowId,
        sourceTable: 'CalendarItem',
        sourceRowid: rowid,
        counterpart: organizer?.email ?? organizer?.phone ?? null,
        counterpartName: orgName,
      } as const;
      const who = attendees.length ? ` with ${attendees.map((a) => a.name ?? a.email ?? a.phone).join(', ')}` : '';
      const mainId = ctx.emit({
        ...base,
        ts: start,
        action: birthday ? 'birthday' : 'start',
        body: sqlText(r.description),
        durationS,
        latitude: lat,
        longitude: lon,
        title: birthday ? `Birthday: ${label}` : `Calendar event: ${label}${place ? ` at ${oneLine(place)}` : ''}${who}`,
        extra,
      });
      if (created) ctx.emit({ ...base, ts: created, action: 'created', title: `Calendar event created: ${label}`, extra: { start_event_id: mainId } });
      if (modified && modified.utcUs !== created?.utcUs)
        ctx.emit({ ...base, ts: modified, action: 'modified', title: `Calendar event modified: ${label}`, extra: { start_event_id: mainId } });
    }
  },
};
