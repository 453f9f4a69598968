// `tag`, `untag`, `note` and `tags`: an examiner marks events in a case (docs/custody.md "Tags and notes").
// Writes lock the case and append one custody row per change; `tags` only reads.
import type { Command } from 'commander';
import { CaseFile, finalCasePath } from '../../timeline/caseFile.js';
import { addTag, listTags, removeTag, setNote, TagError } from '../../timeline/tags.js';
import type { CustodyRow } from '../../timeline/custodyLog.js';
import { openCaseForWriting } from '../caseAccess.js';
import { UsageError } from '../errors.js';
import { zoneFormatter, zoneStamp } from '../../report/zoneTime.js';
import { validateZone } from '../../timeline/query.js';
import fs from 'node:fs';
import path from 'node:path';

/** Event ids as given: separate arguments or comma-separated, each a positive integer. */
export function parseEventIds(args: string[]): number[] {
  const parts = args.flatMap((a) => a.split(',')).map((s) => s.trim());
  const bad = parts.filter((s) => !/^[1-9]\d{0,15}$/.test(s));
  if (bad.length) throw new UsageError(`not an event id: ${bad.slice(0, 5).join(', ')} (give the numbers of events, e.g. from the report or export's event_id)`);
  if (!parts.length) throw new UsageError('give at least one event id');
  return parts.map(Number);
}

/** Run a tag change on the locked case; a refused change (unknown event, bad name) is a one-line usage error. */
function withCase<T extends { custody: CustodyRow | null }>(casePath: string, command: string, allowIncomplete: boolean | undefined, fn: (cf: CaseFile, casePath: string) => T): T {
  const opened = openCaseForWriting(casePath, command, { outputs: [], allowIncomplete });
  try {
    const r = fn(opened.cf, finalCasePath(path.resolve(casePath)));
    if (r.custody) process.stderr.write(`custody head of ${finalCasePath(path.resolve(casePath))}: row ${r.custody.seq}, ${r.custody.hash}\n`);
    return r;
  } catch (e) {
    if (e instanceof TagError) throw new UsageError(e.message);
    throw e;
  } finally {
    opened.close();
  }
}

const caseExists = (p: string) => {
  if (!fs.existsSync(p)) throw new UsageError(`case file ${p} does not exist`);
};

interface WriteOpts {
  case: string;
  tag: string;
  note?: string;
  examiner?: string;
  allowIncomplete?: boolean;
}

export function registerTags(program: Command): void {
  program
    .command('tag')
    .description('Tag events (and optionally note why they matter); the events themselves are never changed.')
    .argument('<event-id...>', 'event ids (separate or comma-separated)')
    .requiredOption('--case <file>', 'case file')
    .requiredOption('--tag <name>', 'tag name (1–64 characters)')
    .option('--note <text>', "the tag's note on each event (replaces an earlier note of the same tag)")
    .option('--examiner <name>', "examiner recorded with the tag and in the custody log (default: the case's examiner)")
    .option('--allow-incomplete', 'accept a case whose ingest did not finish')
    .action((ids: string[], o: WriteOpts) => {
      caseExists(o.case);
      const eventIds = parseEventIds(ids);
      const r = withCase(o.case, `tag ${o.tag}`, o.allowIncomplete, (cf, casePath) => addTag(cf.db, { eventIds, tag: o.tag, note: o.note, examiner: o.examiner, casePath }));
      const tag = o.tag.trim().normalize('NFC');
      process.stdout.write(
        r.custody
          ? `tag "${tag}": ${r.added} event(s) tagged, ${r.updated} note(s) updated; custody row ${r.custody.seq}\n`
          : `tag "${tag}": nothing changed (already tagged${o.note !== undefined ? ' with that note' : ''})\n`,
      );
    });

  program
    .command('untag')
    .description('Remove a tag from events (its notes stay in the custody log).')
    .argument('<event-id...>', 'event ids (separate or comma-separated)')
    .requiredOption('--case <file>', 'case file')
    .requiredOption('--tag <name>', 'tag name')
    .option('--examiner <name>', "examiner recorded in the custody log (default: the case's examiner)")
    .option('--allow-incomplete', 'accept a case whose ingest did not finish')
    .action((ids: string[], o: WriteOpts) => {
      caseExists(o.case);
      const eventIds = parseEventIds(ids);
      const r = withCase(o.case, `untag ${o.tag}`, o.allowIncomplete, (cf, casePath) => removeTag(cf.db, { eventIds, tag: o.tag, examiner: o.examiner, casePath }));
      const tag = o.tag.trim().normalize('NFC');
      process.stdout.write(r.custody ? `tag "${tag}" removed from ${r.removed} event(s); custody row ${r.custody.seq}\n` : `tag "${tag}": nothing changed (not on those events)\n`);
    });

  program
    .command('note')
    .description('Write (or with --clear remove) a note on one event, tagged or not.')
    .argument('<event-id>', 'event id')
    .requiredOption('--case <file>', 'case file')
    .option('--text <text>', 'the note')
    .option('--clear', 'remove the note')
    .option('--examiner <name>', "examiner recorded with the note and in the custody log (default: the case's examiner)")
    .option('--allow-incomplete', 'accept a case whose ingest did not finish')
    .action((id: string, o: { case: string; text?: string; clear?: boolean; examiner?: string; allowIncomplete?: boolean }) => {
      caseExists(o.case);
      if ((o.text === undefined) === !o.clear) throw new UsageError('give either --text or --clear');
      const [eventId] = parseEventIds([id]);
      withCase(o.case, 'note', o.allowIncomplete, (cf, casePath) => {
        const before = cf.db.prepare('SELECT max(seq) FROM custody').pluck().get() as number;
        setNote(cf.db, { eventId, note: o.clear ? null : (o.text ?? null), examiner: o.examiner, casePath });
        const row = cf.db.prepare('SELECT * FROM custody WHERE seq > ? ORDER BY seq DESC LIMIT 1').get(before) as CustodyRow | undefined;
        process.stdout.write(row ? `note on event ${eventId} ${o.clear ? 'removed' : 'written'}; custody row ${row.seq}\n` : `note on event ${eventId}: nothing changed\n`);
        return { custody: row ?? null };
      });
    });

  program
    .command('tags')
    .description('List the tags in a case with how many events carry each; with --tag, the events of that tag.')
    .requiredOption('--case <file>', 'case file')
    .option('--tag <name>', 'list the events with this tag (id, time, kind, title, note)')
    .option('--tz <zone>', 'time zone for the event times (default: the case zone)')
    .option('--json', 'print JSON instead of text')
    .action((o: { case: string; tag?: string; tz?: string; json?: boolean }) => {
      caseExists(o.case);
      const cf = CaseFile.open(o.case, { readonly: true });
      try {
        // A case from before tags existed (read-only: not migrated) has none.
        const has = cf.db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='event_tags'").get();
        const tags = has ? listTags(cf.db) : [];
        if (o.tag === undefined) {
          if (o.json) process.stdout.write(`${JSON.stringify(tags, null, 2)}\n`);
          else if (!tags.length) process.stdout.write('no tags in this case\n');
          else {
            const w = Math.max(...tags.map((t) => String(t.count).length));
            for (const t of tags) process.stdout.write(`${String(t.count).padStart(w)}  ${t.tag}\n`);
          }
          return;
        }
        const tag = o.tag.trim().normalize('NFC');
        if (!tags.some((t) => t.tag === tag)) throw new UsageError(`no event is tagged "${tag}" in this case${tags.length ? ` (tags: ${tags.map((t) => t.tag).join(', ')})` : ''}`);
        const tz = validateZoneOrUsage(o.tz ?? cf.getMeta('time_zone') ?? 'UTC');
        const rows = cf.db
          .prepare(
            `SELECT e.id, e.ts_utc_us, e.kind, e.action, e.title, t.note, t.examiner, t.at FROM event_tags t JOIN events e ON e.id = t.event_id
             WHERE t.tag = ? ORDER BY e.ts_utc_us IS NULL, e.ts_utc_us, e.id`,
          )
          .all(tag) as { id: number; ts_utc_us: number | null; kind: string; action: string; title: string | null; note: string | null; examiner: string | null; at: string }[];
        const fmt = zoneFormatter(tz);
        const when = (us: number | null) => zoneStamp(fmt, us);
        if (o.json) {
          const out = rows.map((r) => ({
            event_id: r.id,
            time: when(r.ts_utc_us),
            time_zone: tz,
            kind: r.kind,
            action: r.action,
            title: r.title,
            note: r.note,
            examiner: r.examiner,
            tagged_at: r.at,
          }));
          process.stdout.write(`${JSON.stringify({ tag, events: out }, null, 2)}\n`);
          return;
        }
        process.stdout.write(`tag "${tag}": ${rows.length} event(s), times in ${tz}\n`);
        for (const r of rows) process.stdout.write(`${r.id}\t${when(r.ts_utc_us)}\t${r.kind}\t${oneLine(r.title ?? '')}${r.note ? `\t${oneLine(r.note)}` : ''}\n`);
      } finally {
        cf.db.close();
      }
    });
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

function validateZoneOrUsage(tz: string): string {
  try {
    return validateZone(tz);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
