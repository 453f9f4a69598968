// Reminders (iOS 13+): Core Data stores `Container_v1/Stores/Data-<UUID>.sqlite`, one per account, under HomeDomain
// Library/Reminders (and the group.com.apple.reminders app group on later systems). Two layouts, chosen by the
// tables present: ZREMCDREMINDER (+ ZREMCDBASELIST for list names) on later iOS, and the earlier single-table
// ZREMCDOBJECT (reminder rows have ZTITLE1, iLEAPP reminders.py). Before iOS 13 reminders lived in Calendar.sqlitedb
// (CalendarItem entity_type 3); calendar.ts reads those with the same kind.
//
// Every reminder row is a 'created' event (title = the reminder, body = its notes) plus 'due', 'completed' and
// 'modified' events for the times it records.
import { isoFromUs } from '../../formats/appleTime.js';
import type { KindDescriptor, Extractor, ExtractorContext, OpenedDatabase } from '../types.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError } from '../types.js';
import { timeOf } from '../common/time.js';

const ID = 'reminders';
const LOCATIONS = [
  { domain: 'HomeDomain', glob: 'Library/Reminders/Container_v1/Stores/*.sqlite' },
  { domain: 'AppDomainGroup-group.com.apple.reminders', glob: 'Container_v1/Stores/*.sqlite' },
];

export const REMINDER_KIND: KindDescriptor = {
  kind: 'reminder',
  label: 'Reminders',
  color: '#db2777',
  view: 'table',
  dataType: 'ios:reminders:reminder',
  actions: { created: 'Reminder Created', due: 'Reminder Due', completed: 'Reminder Completed', modified: 'Reminder Modified' },
};

export interface ReminderRow {
  table: string;
  rowid: number;
  title: string | null;
  notes: string | null;
  list: string | null;
  created: unknown;
  modified: unknown;
  due: unknown;
  completed: unknown;
  completedFlag: boolean | null;
  extra: Record<string, unknown>;
}

/** The events of one reminder, wherever it was stored. */
export function emitReminder(ctx: ExtractorContext, fileRowId: number, r: ReminderRow): void {
  const where = { fileRowId, table: r.table, rowid: r.rowid };
  const created = timeOf(ctx, r.created, 'mac-s', { ...where, column: r.table === 'CalendarItem' ? 'creation_date' : 'ZCREATIONDATE' });
  const modified = timeOf(ctx, r.modified, 'mac-s', { ...where, column: r.table === 'CalendarItem' ? 'last_modified' : 'ZLASTMODIFIEDDATE' });
  const due = timeOf(ctx, r.due, 'mac-s', { ...where, column: r.table === 'CalendarItem' ? 'due_date' : 'ZDUEDATE' });
  const completed = timeOf(ctx, r.completed, 'mac-s', { ...where, column: r.table === 'CalendarItem' ? 'completion_date' : 'ZCOMPLETIONDATE' });
  const label = (r.title ?? '(untitled)').replace(/[\r\n\t]+/g, ' ');
  const inList = r.list ? ` (${r.list.replace(/[\r\n\t]+/g, ' ')})` : '';
  const extra = {
    ...r.extra,
    reminder_title: r.title,
    list: r.list,
    due_utc: isoFromUs(due?.utcUs),
    completed_utc: isoFromUs(completed?.utcUs),
    completed: r.completedFlag ?? !!completed,
  };
  const base = { kind: 'reminder', service: 'Reminders', sourceFileId: fileRowId, sourceTable: r.table, sourceRowid: r.rowid } as const;
  const mainId = ctx.emit({ ...base, ts: created, action: 'created', title: `Reminder created: ${label}${inList}`, body: r.notes, extra });
  if (due) ctx.emit({ ...base, ts: due, action: 'due', title: `Reminder due: ${label}${inList}`, extra: { created_event_id: mainId } });
  if (completed) ctx.emit({ ...base, ts: completed, action: 'completed', title: `Reminder completed: ${label}${inList}`, extra: { created_event_id: mainId } });
  if (modified && modified.utcUs !== created?.utcUs)
    ctx.emit({ ...base, ts: modified, action: 'modified', title: `Reminder modified: ${label}${inList}`, extra: { created_event_id: mainId } });
}

export const reminders: Extractor = {
  id: ID,
  title: 'Reminders (iOS 13+ Reminders stores)',
  sources: LOCATIONS.map((l) => ({ domain: l.domain, path: l.glob })),
  kinds: [REMINDER_KIND],
  async run(ctx) {
    // Each store is one account: an unreadable one is a warning and the others are still read; when none could be
    // read at all, the run fails with every reason (so a listed-but-missing store is not reported as "not present").
    const failures: string[] = [];
    let read = 0;
    for (const loc of LOCATIONS) {
      for (const entry of ctx.backup.find(loc.domain, loc.glob)) {
        let src: Awaited<ReturnType<typeof ctx.openDatabase>>;
        try {
          src = await ctx.openDatabase(entry.domain, entry.relativePath);
        } catch (e) {
          failures.push((e as Error).message);
          ctx.warn(`${entry.domain}/${entry.relativePath}: ${(e as Error).message}`, { severity: 'error' });
          continue;
        }
        if (!src) continue;
        try {
          readStore(ctx, src, entry.relativePath);
          read++;
        } catch (e) {
          failures.push(`${entry.relativePath}: ${(e as Error).message}`);
          ctx.warn(`${entry.domain}/${entry.relativePath} could not be read to the end: ${(e as Error).message}`, { fileRowId: src.fileRowId, severity: 'error' });
        }
      }
    }
    if (read === 0 && failures.length) throw new ArtifactError(`no Reminders store could be read: ${failures.join('; ')}`);
  },
};

function readStore(ctx: ExtractorContext, src: OpenedDatabase, storePath: string): void {
  const entry = { relativePath: storePath };
  const { db } = src;
  if (hasTable(db, 'ZREMCDREMINDER')) {
    const c = columnsOf(db, 'ZREMCDREMINDER');
    const lists = hasTable(db, 'ZREMCDBASELIST') && c.has('ZLIST') && columnsOf(db, 'ZREMCDBASELIST').has('ZNAME');
    const cols = [
      'ZTITLE',
      'ZNOTES',
      'ZCREATIONDATE',
      'ZLASTMODIFIEDDATE',
      'ZDUEDATE',
      'ZCOMPLETIONDATE',
      'ZCOMPLETED',
      'ZFLAGGED',
      'ZPRIORITY',
      'ZMARKEDFORDELETION',
      'ZALLDAY',
      'ZTIMEZONE',
      'ZDACALENDARITEMUNIQUEIDENTIFIER',
    ]
      .map((x) => colOrNull(c, x, x, 'r.'))
      .join(', ');
    const q = `SELECT r.Z_PK AS pk, ${cols}, ${lists ? 'l.ZNAME' : 'NULL'} AS list FROM ZREMCDREMINDER r ${lists ? 'LEFT JOIN ZREMCDBASELIST l ON l.Z_PK = r.ZLIST' : ''} ORDER BY r.Z_PK`;
    for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      emitReminder(ctx, src.fileRowId, {
        table: 'ZREMCDREMINDER',
        rowid: Number(r.pk),
        title: sqlText(r.ZTITLE),
        notes: sqlText(r.ZNOTES),
        list: sqlText(r.list),
        created: r.ZCREATIONDATE,
        modified: r.ZLASTMODIFIEDDATE,
        due: r.ZDUEDATE,
        completed: r.ZCOMPLETIONDATE,
        completedFlag: r.ZCOMPLETED == null ? null : Number(r.ZCOMPLETED) === 1,
        extra: {
          flagged: r.ZFLAGGED ?? null,
          priority: r.ZPRIORITY ?? null,
          deleted: Number(r.ZMARKEDFORDELETION ?? 0) === 1,
          all_day: r.ZALLDAY ?? null,
          time_zone: sqlText(r.ZTIMEZONE),
          store: entry.relativePath,
          calendar_item_uid: sqlText(r.ZDACALENDARITEMUNIQUEIDENTIFIER),
        },
      });
    }
  } else if (hasTable(db, 'ZREMCDOBJECT') && columnsOf(db, 'ZREMCDOBJECT').has('ZTITLE1')) {
    const c = columnsOf(db, 'ZREMCDOBJECT');
    const cols = ['ZTITLE1', 'ZNOTES', 'ZCREATIONDATE', 'ZLASTMODIFIEDDATE', 'ZDUEDATE', 'ZCOMPLETIONDATE', 'ZCOMPLETED', 'ZFLAGGED', 'ZPRIORITY', 'ZMARKEDFORDELETION', 'ZLIST']
      .map((x) => colOrNull(c, x, x, 'o.'))
      .join(', ');
    const listName = c.has('ZLIST') && c.has('ZNAME') ? '(SELECT l.ZNAME FROM ZREMCDOBJECT l WHERE l.Z_PK = o.ZLIST)' : 'NULL';
    // Reminder rows are the ones with a title (iLEAPP: WHERE ZTITLE1 <> ''); lists and other objects share the table.
    const q = `SELECT o.Z_PK AS pk, ${cols}, ${listName} AS list FROM ZREMCDOBJECT o WHERE o.ZTITLE1 IS NOT NULL ORDER BY o.Z_PK`;
    for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      emitReminder(ctx, src.fileRowId, {
        table: 'ZREMCDOBJECT',
        rowid: Number(r.pk),
        title: sqlText(r.ZTITLE1),
        notes: sqlText(r.ZNOTES),
        list: sqlText(r.list),
        created: r.ZCREATIONDATE,
        modified: r.ZLASTMODIFIEDDATE,
        due: r.ZDUEDATE,
        completed: r.ZCOMPLETIONDATE,
        completedFlag: r.ZCOMPLETED == null ? null : Number(r.ZCOMPLETED) === 1,
        extra: { flagged: r.ZFLAGGED ?? null, priority: r.ZPRIORITY ?? null, deleted: Number(r.ZMARKEDFORDELETION ?? 0) === 1, store: entry.relativePath },
      });
    }
  } else {
    // A store of another kind (an empty local account, a future layout): said, not guessed at.
    ctx.warn(
      `${entry.relativePath}: ${hasTable(db, 'ZREMCDOBJECT') ? 'ZREMCDOBJECT has no ZTITLE1 column' : 'neither ZREMCDREMINDER nor ZREMCDOBJECT (unknown schema)'}; no reminders read from this store`,
      { fileRowId: src.fileRowId, severity: hasTable(db, 'ZREMCDOBJECT') ? 'info' : 'warning' },
    );
  }
}
