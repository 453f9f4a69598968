// Exhibit reports (`report --exhibits`): only the tagged events, each a numbered exhibit with its notes, the
// messages around it in its conversation (marked as context), its full provenance and the case's hash summary.
// Numbers follow time order, then event id (the timeline's own order), so re-rendering the same tags gives the
// same numbers. Every value here is text for Handlebars, which escapes it.
import type { CaseFile } from '../timeline/caseFile.js';
import { iterateEvents, type EventFilter, type EventRow } from '../timeline/query.js';
import { listTags, notesOf, recordedTagsDigest, tagsDigest, tagsOf } from '../timeline/tags.js';
import { recordedCaseDigest } from '../custody/outputs.js';
import { buildReportModel, reportText, sizeText, type KeyValue, type ReportModel } from './viewModel.js';
import { kindLabel, timestampDesc } from './describe.js';
import { who } from './viewModel.js';
import { formatDuration } from '../formats/duration.js';
import { validCoordinate } from '../formats/coordinates.js';
import { zoneFormatter, zoneStamp } from './zoneTime.js';
import type { CustodyRow } from '../timeline/custodyLog.js';
import type { Templates } from './html.js';
import Handlebars from 'handlebars';
import fs from 'node:fs';

export const CONTEXT_MAX = 50;
export const CONTEXT_DEFAULT = 3;

export interface ContextRow {
  eventId: number;
  time: string;
  who: string;
  direction: string;
  text: string;
  /** 'exhibit' for the exhibit's own row, 'context' for the rows around it. */
  role: 'exhibit' | 'context';
  /** A context row that is itself an exhibit names its number. */
  alsoExhibit: number | null;
}

export interface Exhibit {
  number: number;
  eventId: number;
  anchor: string;
  time: string;
  desc: string;
  kind: string;
  tags: { tag: string; note: string | null; examiner: string | null; at: string }[];
  note: { note: string; examiner: string | null; at: string } | null;
  fields: KeyValue[];
  conversation: { name: string; rows: ContextRow[]; before: number; after: number } | null;
  provenance: KeyValue[];
  attachments: { name: string; mime: string; size: string; sha256: string; status: string }[];
}

export interface ExhibitsModel extends ReportModel {
  exhibits: Exhibit[];
  selection: { tag: string | null; context: number; lines: string[] };
  hashSummary: KeyValue[];
  /** Set by the PDF writer: the page each exhibit starts on (1-based). */
  pages?: Map<number, { first: number; count: number }>;
}

export interface ExhibitOptions {
  tz: string;
  /** The report's other filters (--from, --kinds…) narrow the selection too. */
  filter: EventFilter;
  /** Only this tag; otherwise every tagged event. */
  tag?: string | null;
  context?: number;
  title?: string;
  filterArgs?: Record<string, string | undefined>;
  now?: Date;
}

/** The selection as a filter: the report's filters plus the tag (or any tag). */
export function exhibitFilter(o: Pick<ExhibitOptions, 'filter' | 'tag'>): EventFilter {
  return o.tag ? { ...o.filter, tag: o.tag } : { ...o.filter, tagged: true };
}

/** Thread names as the report shows them: the display name, else the participants, else the identifier. */
function threadName(cf: CaseFile, id: number): string {
  const r = cf.db
    .prepare(
      `SELECT t.display_name, t.identifier, (SELECT group_concat(COALESCE(p.name, p.handle), ', ') FROM participants p WHERE p.thread_id = t.id) AS names
       FROM threads t WHERE t.id = ?`,
    )
    .get(id) as { display_name: string | null; identifier: string | null; names: string | null } | undefined;
  return r?.display_name || r?.names || r?.identifier || `Conversation ${id}`;
}

const SELECT = `SELECT e.*, f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256
  FROM events e LEFT JOIN files f ON f.id = e.source_file_id`;

/** Receipts say something happened to another message (delivered, read, played): they are not context messages. */
export const RECEIPT_ACTIONS = ['delivered', 'read', 'played'];

/** Up to `n` messages of the same conversation on each side, in the timeline's order (time, then id). */
function around(cf: CaseFile, e: EventRow, n: number): { before: EventRow[]; after: EventRow[] } {
  if (!n || e.thread_id === null) return { before: [], after: [] };
  const key = [e.ts_utc_us === null ? 1 : 0, e.ts_utc_us ?? 0, e.id];
  const notReceipt = `e.action NOT IN (${RECEIPT_ACTIONS.map(() => '?').join(',')})`;
  const before = cf.db
    .prepare(
      `${SELECT} WHERE e.thread_id = ? AND ${notReceipt} AND (e.ts_utc_us IS NULL, coalesce(e.ts_utc_us, 0), e.id) < (?, ?, ?)
       ORDER BY e.ts_utc_us IS NULL DESC, e.ts_utc_us DESC, e.id DESC LIMIT ?`,
    )
    .all(e.thread_id, ...RECEIPT_ACTIONS, ...key, n) as EventRow[];
  const after = cf.db
    .prepare(
      `${SELECT} WHERE e.thread_id = ? AND ${notReceipt} AND (e.ts_utc_us IS NULL, coalesce(e.ts_utc_us, 0), e.id) > (?, ?, ?)
       ORDER BY e.ts_utc_us IS NULL, e.ts_utc_us, e.id LIMIT ?`,
    )
    .all(e.thread_id, ...RECEIPT_ACTIONS, ...key, n) as EventRow[];
  return { before: before.reverse(), after };
}

/** U+FFFC marks where an attachment sits in a message's text: shown as a marker, as the full report does. */
const shown = (s: string | null | undefined): string => reportText(s).replace(/\uFFFC/g, '[attachment]');

const kv = (rows: [string, string | number | null | undefined][]): KeyValue[] =>
  rows.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([key, v]) => ({ key, value: String(v) }));

function eventFields(e: EventRow, stamp: (us: number | null) => string, conversation: string | null): KeyValue[] {
  const pos = validCoordinate(e.latitude, e.longitude);
  return kv([
    ['Time', stamp(e.ts_utc_us)],
    ['What', timestampDesc(e.kind, e.action)],
    ['Kind', kindLabel(e.kind)],
    ['Direction', e.direction],
    ['Counterpart', who(e.counterpart_name, e.counterpart)],
    ['Conversation', conversation],
    ['Service', e.service],
    ['Title', reportText(e.title)],
    ['Text', shown(e.body)],
    ['Duration', e.duration_s != null ? formatDuration(e.duration_s) : null],
    ['Location', pos ? `${pos.lat.toFixed(6)}, ${pos.lon.toFixed(6)}${e.accuracy_m != null ? ` (± ${Math.round(e.accuracy_m)} m)` : ''}` : null],
    ['Recovered', e.recovered === 1 ? `yes: from ${e.recovered_from ?? 'unknown'}, confidence ${e.confidence ?? 'unknown'}` : null],
  ]);
}

function provenance(cf: CaseFile, e: EventRow): KeyValue[] {
  const f = e.source_file_id
    ? (cf.db.prepare('SELECT file_id, size, status, read_by FROM files WHERE id = ?').get(e.source_file_id) as
        | { file_id: string | null; size: number | null; status: string; read_by: string | null }
        | undefined)
    : undefined;
  return kv([
    ['Event id', e.id],
    ['Read by', e.extractor],
    ['Evidence file', e.source_domain || e.source_path ? `${e.source_domain ?? ''}/${e.source_path ?? ''}` : '(not recorded)'],
    ['Backup file name', f?.file_id],
    ['Table', e.source_table],
    ['Row', e.source_rowid],
    ['SHA-256 of the evidence file', e.source_sha256 ?? (e.source_file_id ? '(not hashed)' : null)],
    ['Size of the evidence file', f?.size != null ? sizeText(f.size) : null],
    ['File status', f && f.status !== 'ok' ? f.status : null],
    ['Time as stored', e.ts_raw ? `${e.ts_raw}${e.ts_epoch ? ` (${e.ts_epoch})` : ''}` : null],
  ]);
}

function contextRow(e: EventRow, stamp: (us: number | null) => string, role: ContextRow['role'], numberOf: Map<number, number>): ContextRow {
  const text = e.body ?? e.title ?? timestampDesc(e.kind, e.action);
  return {
    eventId: e.id,
    time: stamp(e.ts_utc_us),
    who: e.direction === 'outgoing' ? 'device owner' : who(e.counterpart_name, e.counterpart),
    direction: e.direction === 'incoming' ? 'in' : e.direction === 'outgoing' ? 'out' : '',
    text: reportText(text, 1000).replace(/\uFFFC/g, '[attachment]'),
    role,
    alsoExhibit: role === 'context' ? (numberOf.get(e.id) ?? null) : null,
  };
}

/** The exhibits of a case, numbered, with everything the exhibit report shows. */
export function buildExhibitsModel(cf: CaseFile, o: ExhibitOptions): ExhibitsModel {
  const context = Math.max(0, Math.min(CONTEXT_MAX, o.context ?? CONTEXT_DEFAULT));
  const filter = exhibitFilter(o);
  const base = buildReportModel(cf, { tz: o.tz, filter, title: o.title || 'Exhibits', filterArgs: o.filterArgs, now: o.now });
  const fmt = zoneFormatter(o.tz);
  const stamp = (us: number | null) => zoneStamp(fmt, us);

  const selected = [...iterateEvents(cf.db, filter)];
  const ids = selected.map((e) => e.id);
  const numberOf = new Map(ids.map((id, i) => [id, i + 1]));
  const tags = tagsOf(cf.db, ids);
  const notes = notesOf(cf.db, ids);
  const names = new Map<number, string>();
  const nameOf = (id: number) => {
    let n = names.get(id);
    if (n === undefined) names.set(id, (n = threadName(cf, id)));
    return n;
  };
  const attStmt = cf.db.prepare('SELECT transfer_name, path, mime_type, total_bytes, status, sha256 FROM attachments WHERE event_id = ? ORDER BY id');

  const exhibits: Exhibit[] = selected.map((e, i) => {
    const conv = e.thread_id !== null ? nameOf(e.thread_id) : null;
    const ctx = around(cf, e, context);
    const note = notes.get(e.id);
    return {
      number: i + 1,
      eventId: e.id,
      anchor: `exhibit-${i + 1}`,
      time: stamp(e.ts_utc_us),
      desc: reportText(e.title ?? timestampDesc(e.kind, e.action), 300),
      kind: kindLabel(e.kind),
      tags: (tags.get(e.id) ?? []).map((t) => ({ tag: t.tag, note: t.note, examiner: t.examiner, at: zoneStamp(fmt, Date.parse(t.at) * 1000) })),
      note: note ? { note: note.note, examiner: note.examiner, at: zoneStamp(fmt, Date.parse(note.at) * 1000) } : null,
      fields: eventFields(e, stamp, conv),
      conversation:
        conv !== null && context > 0
          ? {
              name: conv,
              before: ctx.before.length,
              after: ctx.after.length,
              rows: [
                ...ctx.before.map((c) => contextRow(c, stamp, 'context', numberOf)),
                contextRow(e, stamp, 'exhibit', numberOf),
                ...ctx.after.map((c) => contextRow(c, stamp, 'context', numberOf)),
              ],
            }
          : null,
      provenance: provenance(cf, e),
      attachments: (
        attStmt.all(e.id) as {
          transfer_name: string | null;
          path: string | null;
          mime_type: string | null;
          total_bytes: number | null;
          status: string | null;
          sha256: string | null;
        }[]
      ).map((a) => ({
        name: a.transfer_name || a.path?.split('/').pop() || '(no name)',
        mime: a.mime_type ?? '',
        size: a.total_bytes != null ? sizeText(a.total_bytes) : '',
        sha256: a.sha256 ?? '',
        status: a.status ?? '',
      })),
    };
  });

  const selection = {
    tag: o.tag ?? null,
    context,
    lines: [
      o.tag
        ? `Events tagged "${o.tag}"`
        : `Every tagged event (tags: ${
            listTags(cf.db)
              .map((t) => t.tag)
              .join(', ') || 'none'
          })`,
      ...base.filter.lines.filter((l) => !/^Tag(ged)?:/.test(l)),
      `Context: up to ${context} message${context === 1 ? '' : 's'} before and after in the same conversation`,
    ],
  };
  return { ...base, exhibits, selection, hashSummary: hashSummary(cf, base) };
}

/** The case's hashes an exhibit is checked against: what `ios-timeline verify` re-computes. */
function hashSummary(cf: CaseFile, base: ReportModel): KeyValue[] {
  const digest = recordedCaseDigest(cf);
  const custody = cf.db.prepare('SELECT seq, action, detail_json FROM custody ORDER BY seq').all() as Pick<CustodyRow, 'seq' | 'action' | 'detail_json'>[];
  const tagsRec = recordedTagsDigest(custody);
  const tagsNow = tagsDigest(cf.db);
  const files = cf.db.prepare('SELECT count(*) AS n, count(sha256) AS hashed FROM files').get() as { n: number; hashed: number };
  const evidence = base.evidence.flatMap((ev) =>
    ev.rows
      .filter((r) => /SHA-256|^Device name$|^Serial number$|^UDID$|^Backup folder$|^Evidence unchanged/.test(r.key))
      .map((r) => ({ key: base.evidence.length > 1 ? `${ev.title}: ${r.key}` : r.key, value: r.value })),
  );
  return [
    ...kv([
      ['Case number', base.meta.caseNumber || '(none recorded)'],
      ['Case file', base.caseFile.name],
      ['Case file SHA-256 (before this report was logged)', base.caseFile.sha256 ?? '(unknown)'],
      ['Case content digest (recorded at ingest)', digest?.sha256 ?? '(none: case ingested by an older version)'],
      [
        'Tags digest',
        `${tagsNow.sha256}${tagsRec ? (tagsRec.digest.sha256 === tagsNow.sha256 ? ` (as recorded in custody row ${tagsRec.seq})` : ` (DIFFERS from custody row ${tagsRec.seq}: run ios-timeline verify)`) : ''}`,
      ],
      ['Custody log', `${custody.length} rows, chain ${base.custodyChain.intact ? 'intact' : 'BROKEN'}, head ${base.custodyChain.head}`],
      ['Evidence files hashed at ingest', `${files.hashed.toLocaleString('en-US')} of ${files.n.toLocaleString('en-US')}`],
    ]),
    ...evidence,
  ];
}

/** Render the exhibit page (or, for the PDF, one part of it: the cover, or some exhibits). */
export function renderExhibitsHtml(
  t: Templates,
  model: ExhibitsModel,
  o: { mode: 'interactive' | 'print'; showCover: boolean; exhibits: Exhibit[]; pages?: Record<number, number | string> },
): string {
  return t.render({
    model,
    mode: o.mode,
    print: o.mode === 'print',
    showCover: o.showCover,
    exhibits: o.exhibits,
    pages: o.pages ?? null,
    csp: new Handlebars.SafeString(t.csp),
  });
}

/** The interactive exhibit report: one offline HTML file, no script. */
export function writeExhibitsHtml(model: ExhibitsModel, out: string, t: Templates): void {
  fs.writeFileSync(out, renderExhibitsHtml(t, model, { mode: 'interactive', showCover: true, exhibits: model.exhibits }));
}
