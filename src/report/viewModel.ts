// The report's view model: everything a report shows, read from the case file only (never the backup).
// Small sections become plain objects for the Handlebars templates; long lists (events, files, warnings)
// are streamed as compact row arrays that the report's inline script renders page by page.
import { SOURCE_KIND_LABEL, type SourceKind } from '../backup/source.js';
import { custodySection, evidenceHashRows } from '../custody/records.js';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CaseFile } from '../timeline/caseFile.js';
import { inTimeOrder, iterateEvents, whereClause, countEvents, devicesOf, deviceLabel, onceClause, type EventFilter, type EventRow } from '../timeline/query.js';
import { timestampDesc, kindLabel, kindColor, kindView, kindsInView } from './describe.js';
import { formatDuration } from '../formats/duration.js';
import { messageFacts, type MessageFacts } from './facts.js';
import { validCoordinate } from '../formats/coordinates.js';
import { columnsOf, hasTable } from '../sqlite.js';
import { thumbnailDataUri } from '../timeline/thumbnails.js';
import { zoneFormatter, zoneStamp, type ZoneTime } from './zoneTime.js';
import { dayChartSvg, counterpartChartSvg, mapSvg, densestArea, fmtInt, TrustedSvg, type DayBucket, type MapPoint } from './charts.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import { MIN_PLAUSIBLE_US, MAX_PLAUSIBLE_US } from '../formats/appleTime.js';

export interface ReportOptions {
  tz: string;
  filter: EventFilter;
  title?: string;
  /** The filter as the user gave it (shown in the method section and on the cover). */
  filterArgs?: Record<string, string | undefined>;
  now?: Date;
}

/**
 * One event as the report script reads it (positions are shared with templates/report.js):
 * [id, day, time, offset, kind, action, description, title, body, direction, counterpart, threadId,
 *  service, duration, latitude, longitude, accuracy, source]
 */
export type EventCells = [
  number,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  string,
  number | null,
  number | null,
  number | null,
  string,
  MessageFacts | null,
  [string, string] | null,
  /** The device the event was read from ('' when the case holds one device). */
  string,
  /** The first copy's event id when the same message was read from another device too (shown once), else 0. */
  number,
];

export interface KeyValue {
  key: string;
  value: string;
}

export interface ReportModel {
  title: string;
  tz: string;
  /** "America/New_York (UTC-05:00 and -04:00 in this report)". */
  tzLabel: string;
  generatedAt: string;
  tool: { name: string; version: string };
  meta: { caseNumber: string; examiner: string; agency: string; createdAt: string; caseTz: string; region: string };
  caseFile: { name: string; sha256: string | null; schemaVersion: string };
  evidence: { title: string; rows: KeyValue[] }[];
  filter: { active: boolean; lines: string[] };
  counts: {
    events: number;
    allEvents: number;
    byKind: { kind: string; label: string; count: number; color: string }[];
    threads: number;
    messages: number;
    calls: number;
    photos: number;
    located: number;
    files: number;
    filesReadOrProblems: number;
    warnings: number;
    custody: number;
    undated: number;
    /** Devices in the case, and the events left out of the counts as another device's copy of the same message. */
    devices: number;
    linkedDuplicates: number;
  };
  /** The PDF lists only the files extractors read (or that had problems) when the backup holds more than this. */
  pdfHashListAbridged: boolean;
  missingFiles: MissingFilesView;
  range: { first: string; last: string } | null;
  runs: { extractor: string; title: string; status: string; events: number; warnings: number; started: string; finished: string; message: string }[];
  charts: {
    days: TrustedSvg | null;
    dayUnit: string;
    dayNote: string;
    counterparts: TrustedSvg | null;
    map: TrustedSvg | null;
    mapNote: string;
    detailMap: TrustedSvg | null;
    detailNote: string;
  };
  topCounterparts: { name: string; count: number }[];
  custody: { seq: number; at: string; actor: string; action: string; hash: string; prevHash: string; detail: { key: string; lines: string[] }[] }[];
  custodyChain: { intact: boolean; head: string; problems: string[] };
  /** What recovery examined per database and found (empty when it did not run). */
  recovery: RecoveryView;
}

export function who(name: string | null, handle: string | null): string {
  if (name && handle && name !== handle) return `${name} (${handle})`;
  return name || handle || '';
}

export function sizeText(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024,
    i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]} (${n.toLocaleString('en-US')} B)`;
}

function scalar(db: Database.Database, sql: string, ...params: unknown[]): number {
  const r = db.prepare(sql).get(...params) as Record<string, unknown> | undefined;
  return r ? Number(Object.values(r)[0] ?? 0) : 0;
}

function isoStamp(fmt: ReturnType<typeof zoneFormatter>, iso: string | null): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : zoneStamp(fmt, ms * 1000);
}

/** Short, readable value for a detail cell (nested objects as compact JSON, long text cut with a note). */
export function detailText(v: unknown, max = 400): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/**
 * A custody detail as lines a reader can follow on paper, not raw JSON: a list of records one per line
 * ("messages: ok, 126 events, 0 warnings"), an object as "key: value" lines, long lists of simple values joined.
 */
export function readableLines(v: unknown, max = 2000): string[] {
  const flat = (x: unknown): string => {
    if (x === null || x === undefined) return '';
    if (typeof x !== 'object') return String(x);
    if (Array.isArray(x)) return x.map(flat).join('; ');
    return Object.entries(x as Record<string, unknown>)
      .filter(([, y]) => y !== null && y !== undefined && y !== '' && !(Array.isArray(y) && !y.length))
      .map(([k, y]) => `${k.replace(/_/g, ' ')} ${typeof y === 'object' ? `(${flat(y)})` : String(y)}`)
      .join(', ');
  };
  const record = (o: Record<string, unknown>): string => {
    const label = ['id', 'name', 'path', 'table', 'algorithm'].find((k) => typeof o[k] === 'string');
    if (!label) return flat(o);
    const { [label]: head, ...rest } = o;
    const tail = flat(rest);
    return tail ? `${String(head)}: ${tail}` : String(head);
  };
  let lines: string[];
  if (v === null || v === undefined) lines = [];
  else if (Array.isArray(v))
    lines = v.every((x) => x === null || typeof x !== 'object')
      ? v.length
        ? [v.join('; ')]
        : []
      : v.map((x) => (x && typeof x === 'object' && !Array.isArray(x) ? record(x as Record<string, unknown>) : flat(x)));
  else if (typeof v === 'object')
    lines = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => flat(x) !== '')
      .map(([k, x]) => `${k.replace(/_/g, ' ')}: ${flat(x)}`);
  else lines = [String(v)];
  return lines.map((l) => (l.length > max ? `${l.slice(0, max)}… (${l.length} characters)` : l));
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A detail value that is a UTC instant (ISO "…Z" text, or a *_utc_us number) is shown in the report zone too. */
export function zoneDetail(key: string, value: string, fmt: ReturnType<typeof zoneFormatter>): string {
  if (ISO_UTC.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return `${zoneStamp(fmt, ms * 1000)} (${value})`;
  }
  if (/_utc_us$/.test(key) && /^-?\d+$/.test(value)) return `${zoneStamp(fmt, Number(value))} (${value} µs UTC)`;
  return value;
}

export function filterLines(args: Record<string, string | undefined> | undefined): string[] {
  if (!args) return [];
  const names: Record<string, string> = {
    from: 'From',
    to: 'To',
    kinds: 'Kinds',
    contact: 'Counterpart contains',
    keyword: 'Text contains',
    tag: 'Tag',
    tagged: 'Tagged',
    device: 'Device',
  };
  return Object.entries(names)
    .filter(([k]) => args[k])
    .map(([k, label]) => `${label}: ${args[k]}`);
}

export interface RecoveryView {
  databases: { name: string; records: number; events: number; freeSpace: string; wal: string }[];
  /** One paragraph an examiner can cite: what was examined, how much of it was zero-filled, what was found. */
  summary: string;
  events: number;
}

const n = (v: unknown) => (typeof v === 'number' ? v : 0);
const plural = (k: number, one: string, many = `${one}s`) => `${fmtInt(k)} ${k === 1 ? one : many}`;

/** The recovery_runs of a case (schema v4), as the report's method table and paragraph. */
export function recoveryView(db: Database.Database): RecoveryView {
  if (!hasTable(db, 'recovery_runs')) return { databases: [], summary: '', events: 0 };
  const runs = db.prepare('SELECT database, records, events, stats_json FROM recovery_runs ORDER BY id').all() as {
    database: string;
    records: number;
    events: number;
    stats_json: string | null;
  }[];
  let fb = 0,
    fbZero = 0,
    fl = 0,
    flZero = 0,
    un = 0,
    unZero = 0,
    frames = 0;
  const databases = runs.map((r) => {
    const s = (r.stats_json ? JSON.parse(r.stats_json) : {}) as Record<string, unknown>;
    fb += n(s.freeblocks);
    fbZero += n(s.freeblocksZeroFilled);
    fl += n(s.freelistPages);
    flZero += n(s.freelistZeroFilled);
    un += n(s.unallocatedBytes);
    unZero += n(s.unallocatedZero);
    frames += n(s.walFrames);
    return {
      name: r.database,
      records: Number(r.records),
      events: Number(r.events),
      freeSpace: r.stats_json
        ? `${plural(n(s.freeblocks), 'freeblock')} (${fmtInt(n(s.freeblocksZeroFilled))} zero-filled), ${plural(n(s.freelistPages), 'free page')} (${fmtInt(n(s.freelistZeroFilled))} zero-filled), ${fmtInt(n(s.unallocatedBytes))} unallocated bytes (${fmtInt(n(s.unallocatedZero))} zero)`
        : 'not read',
      wal: n(s.walFrames)
        ? `${plural(n(s.walFrames), 'frame')}, ${plural(n(s.walCommits), 'commit')}${n(s.walFramesUncommitted) ? `, ${fmtInt(n(s.walFramesUncommitted))} never committed` : ''}`
        : 'none',
    };
  });
  const events = Number(db.prepare('SELECT count(*) FROM events WHERE recovered = 1').pluck().get());
  const summary = runs.length
    ? `${plural(runs.length, 'database')} examined: ${plural(fb, 'freeblock')} (${fmtInt(fbZero)} zero-filled), ${plural(fl, 'free page')} (${fmtInt(flZero)} zero-filled), ${fmtInt(un)} bytes of unallocated space (${fmtInt(unZero)} zero), ${plural(frames, 'WAL frame')}. ${plural(events, 'recovered event')} in this case. Free space that iOS zero-fills (secure_delete) holds nothing to recover; rows whose bytes were overwritten are gone and are counted only by the gaps in record numbers.`
    : '';
  return { databases, summary, events };
}

export function buildReportModel(cf: CaseFile, o: ReportOptions): ReportModel {
  const db = cf.db;
  const fmt = zoneFormatter(o.tz);
  const now = o.now ?? new Date();
  const meta = (k: string) => cf.getMeta(k) ?? '';

  // One streaming pass over the filtered events for the overview: per-day counts, counterparts, points, offsets.
  const w = whereClause(o.filter);
  const days = new Map<string, Map<string, number>>();
  const byKind = new Map<string, number>();
  const counterparts = new Map<string, number>();
  const offsets = new Set<string>();
  const points = new Map<string, MapPoint>();
  let located = 0,
    undated = 0,
    total = 0,
    messages = 0,
    calls = 0,
    photos = 0;
  let firstUs: number | null = null,
    lastUs: number | null = null;
  // A message read from two devices is counted once (its second copy has duplicate_of, schema v6).
  // (A case read without migrating, older than schema v6, has no duplicate_of: every row counts.)
  const v6 = columnsOf(db, 'events').has('duplicate_of');
  const once = `${w.sql ? `${w.sql} AND` : 'WHERE'} ${v6 ? onceClause(o.filter) : '1'}`;
  const stmt = db.prepare(`SELECT e.ts_utc_us AS ts, e.kind, e.counterpart, e.counterpart_name AS cname, e.latitude AS lat, e.longitude AS lon
    FROM events e ${once}`);
  stmt.safeIntegers(false);
  for (const r of stmt.iterate(...w.params) as Iterable<{
    ts: number | null;
    kind: string;
    counterpart: string | null;
    cname: string | null;
    lat: number | null;
    lon: number | null;
  }>) {
    total++;
    byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
    const view = kindView(r.kind);
    if (view === 'conversation') messages++;
    else if (view === 'calls') calls++;
    else if (view === 'gallery') photos++;
    const t = fmt(r.ts);
    // Only plausible instants go into the overview: one stored year-200000 value must not make the chart walk 2 million months.
    if (t && r.ts !== null && r.ts >= MIN_PLAUSIBLE_US && r.ts < MAX_PLAUSIBLE_US) {
      offsets.add(t.offset);
      if (firstUs === null || r.ts < firstUs) firstUs = r.ts;
      if (lastUs === null || r.ts > lastUs) lastUs = r.ts;
      let d = days.get(t.day);
      if (!d) days.set(t.day, (d = new Map()));
      d.set(r.kind, (d.get(r.kind) ?? 0) + 1);
    } else undated++;
    if (r.counterpart || r.cname) {
      const key = who(r.cname, r.counterpart);
      counterparts.set(key, (counterparts.get(key) ?? 0) + 1);
    }
    const pos = validCoordinate(r.lat, r.lon);
    if (pos) {
      located++;
      const key = `${pos.lat.toFixed(4)},${pos.lon.toFixed(4)}`;
      const p = points.get(key);
      if (p) p.count++;
      else points.set(key, { lat: pos.lat, lon: pos.lon, kind: r.kind, count: 1 });
    }
  }

  const offsetList = [...offsets].sort();
  const tzLabel =
    o.tz === 'UTC'
      ? 'UTC (+00:00)'
      : offsetList.length
        ? `${o.tz} (UTC${offsetList.join(' and UTC')} in this report)`
        : `${o.tz} (UTC${zoneStamp(fmt, now.getTime() * 1000).slice(-6)} now)`;

  const dayBuckets: DayBucket[] = [...days.entries()].map(([day, kinds]) => ({ day, kinds }));
  const top = [...counterparts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 15)
    .map(([name, count]) => ({ name, count }));
  const kinds = [...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([kind, count], i) => ({ kind, label: kindLabel(kind), count, color: kindColor(kind, i) }));
  const dayChart = dayChartSvg(
    dayBuckets,
    kinds.map((k) => k.kind),
  );
  const map = mapSvg([...points.values()]);
  const dense = densestArea([...points.values()]);
  const detail = dense ? mapSvg(dense.points) : null;
  const detailEvents = dense ? dense.points.reduce((a, p) => a + p.count, 0) : 0;

  const eventsByDevice = new Map(
    v6 ? (db.prepare('SELECT device_id AS id, count(*) AS n FROM events GROUP BY device_id').all() as { id: number | null; n: number }[]).map((r) => [r.id, Number(r.n)]) : [],
  );
  const evidence = (db.prepare('SELECT * FROM evidence ORDER BY id').all() as Record<string, unknown>[]).map((e, _i, all) => {
    const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
    const extra = (() => {
      try {
        return JSON.parse(String(e.extra_json ?? 'null')) as Record<string, unknown> | null;
      } catch {
        return null;
      }
    })();
    const rows: KeyValue[] = [
      ['Device id (the case’s device filter, --device)', all.length > 1 ? s(e.id) : ''],
      ['Events read from this device', all.length > 1 ? (eventsByDevice.get(Number(e.id)) ?? 0).toLocaleString('en-US') : ''],
      ['Device name', s(e.device_name)],
      ['Model (product type)', s(e.product_type)],
      ['iOS version', [s(e.ios_version), e.build_version ? `(build ${s(e.build_version)})` : ''].join(' ').trim()],
      ['Serial number', s(e.serial)],
      ['UDID', s(e.udid)],
      ['IMEI', s(e.imei)],
      ['Phone number', s(e.phone_number)],
      ['Backup date', e.backup_date ? isoStamp(fmt, String(e.backup_date)) : ''],
      ['Backup type', e.is_full_backup == null ? '' : Number(e.is_full_backup) ? 'full backup' : 'incremental'],
      ['Encrypted', Number(e.encrypted) ? 'yes (decrypted with the examiner’s password into temporary working copies)' : 'no'],
      // A file-system folder or archive says what it is (docs/sources.md); a backup keeps the row it always had.
      ...(extra?.source_kind && extra.source_kind !== 'backup'
        ? ([
            ['Evidence', `${SOURCE_KIND_LABEL[extra.source_kind as SourceKind] ?? s(extra.source_kind)}: ${s(e.backup_path)}`],
            ['File-system tree at', `${s(extra.tree_prefix) ? `${s(extra.tree_prefix)}/` : ''}private/var (${Number(extra.tree_files ?? 0).toLocaleString('en-US')} files)`],
          ] as [string, string][])
        : ([['Backup folder', s(e.backup_path)]] as [string, string][])),
      ['Manifest entries', extra?.manifest_entries != null ? Number(extra.manifest_entries).toLocaleString('en-US') : ''],
      [`${typeof extra?.manifest_file === 'string' ? extra.manifest_file : 'Manifest.db'} SHA-256`, s(e.manifest_db_sha256)],
      ['Manifest.plist SHA-256', s(e.manifest_plist_sha256)],
      ['Info.plist SHA-256', s(e.info_plist_sha256)],
      ['Status.plist SHA-256', s(e.status_plist_sha256)],
      ['Folder listing SHA-256 before ingest', s(e.listing_sha256_before)],
      ['Folder listing SHA-256 after ingest', s(e.listing_sha256_after)],
      ['Evidence unchanged by ingest', e.listing_unchanged == null ? 'not checked' : Number(e.listing_unchanged) ? 'yes (listing hashes match)' : 'NO — see processing log'],
    ]
      .filter(([, v]) => v !== '')
      .map(([key, value]) => ({ key, value }));
    return { title: all.length > 1 ? `Device ${deviceLabel({ id: Number(e.id), device_name: (e.device_name as string | null) ?? null })}` : 'Evidence item', rows };
  });

  const runs = (db.prepare('SELECT * FROM extractor_runs ORDER BY id').all() as Record<string, unknown>[]).map((r) => ({
    extractor: String(r.extractor),
    title: String(r.title ?? r.extractor),
    status: String(r.status),
    events: Number(r.events),
    warnings: Number(r.warnings),
    started: isoStamp(fmt, r.started_at as string | null),
    finished: isoStamp(fmt, r.finished_at as string | null),
    message: String(r.message ?? ''),
  }));

  // The same records verify checks (custody/records.ts): the long per-table digest is shown as one hash.
  const custodyView = custodySection(db);
  const custody = custodyView.rows.map((r) => {
    const fields: Record<string, unknown> = { host: r.host, tool_version: r.tool_version, command_line: r.command_line.join(' '), ...r.detail };
    if (r.inputs.length) fields.inputs = r.inputs;
    if (r.outputs.length) fields.outputs = r.outputs;
    const detail = Object.entries(fields)
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([key, v]) => ({ key: key.replace(/_/g, ' '), lines: readableLines(v).map((line) => zoneDetail(key, line, fmt)) }))
      .filter((d) => d.lines.some((l) => l !== ''));
    return { seq: r.seq, at: isoStamp(fmt, r.at), actor: r.examiner, action: r.action, hash: r.hash, prevHash: r.prev_hash, detail };
  });

  let caseSha: string | null = null;
  try {
    caseSha = fileSha256Sync(cf.path);
  } catch {
    /* in-memory or unreadable: shown as unknown */
  }
  const threads = scalar(db, `SELECT count(DISTINCT e.thread_id) FROM events e ${once} AND e.thread_id IS NOT NULL`, ...w.params);
  const devices = devicesOf(db).length;
  const linkedDuplicates = devices > 1 ? scalar(db, `SELECT count(*) FROM events e ${w.sql ? `${w.sql} AND` : 'WHERE'} NOT ${onceClause(o.filter)}`, ...w.params) : 0;
  const fl = filterLines(o.filterArgs);

  return {
    title: o.title || 'Forensic timeline report',
    tz: o.tz,
    tzLabel,
    generatedAt: zoneStamp(fmt, now.getTime() * 1000),
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    meta: {
      caseNumber: meta('case_number'),
      examiner: meta('examiner'),
      agency: meta('agency'),
      createdAt: isoStamp(fmt, meta('created_at') || null),
      caseTz: meta('time_zone'),
      region: meta('region'),
    },
    caseFile: { name: cf.path.split(/[\\/]/).pop() ?? cf.path, sha256: caseSha, schemaVersion: meta('schema_version') },
    evidence,
    filter: { active: fl.length > 0, lines: fl },
    counts: {
      events: total,
      allEvents: fl.length ? countEvents(db, v6 ? { duplicates: false } : {}) : total,
      devices,
      linkedDuplicates,
      byKind: kinds,
      threads,
      messages,
      calls,
      photos,
      located,
      undated,
      files: scalar(db, 'SELECT count(*) FROM files'),
      filesReadOrProblems: scalar(db, "SELECT count(*) FROM files WHERE read_by IS NOT NULL OR status <> 'ok'"),
      warnings: scalar(db, 'SELECT count(*) FROM warnings'),
      custody: custody.length,
    },
    range: firstUs !== null && lastUs !== null ? { first: zoneStamp(fmt, firstUs), last: zoneStamp(fmt, lastUs) } : null,
    runs,
    charts: {
      days: trusted(dayChart.svg),
      dayUnit: dayChart.unit,
      dayNote: dayChart.note,
      counterparts: trusted(counterpartChartSvg(top)),
      map: trusted(map.svg),
      detailMap: detail ? trusted(detail.svg) : null,
      detailNote: dense
        ? `Detail of the busiest area: ${detailEvents.toLocaleString('en-US')} of ${located.toLocaleString('en-US')} located events, within 0.75° of ${dense.lat.toFixed(2)}, ${dense.lon.toFixed(2)}.`
        : '',
      mapNote: located
        ? `${located.toLocaleString('en-US')} located events at ${points.size.toLocaleString('en-US')} distinct places (rounded to 4 decimals)${map.drawn < points.size ? `; the ${map.drawn.toLocaleString('en-US')} most frequent are drawn` : ''}.`
        : 'No event in this report carries a location.',
    },
    topCounterparts: top,
    pdfHashListAbridged: scalar(db, 'SELECT count(*) FROM files') > PDF_FULL_HASH_LIST_MAX,
    missingFiles: missingFilesView(db),
    custody,
    recovery: recoveryView(db),
    custodyChain: { intact: custodyView.chain.intact, head: custodyView.chain.head, problems: custodyView.chain.problems.map((p) => `row ${p.seq}: ${p.problem}`) },
  };
}

const trusted = (svg: string) => (svg ? new TrustedSvg(svg) : null);

function fileSha256Sync(p: string): string {
  // Synchronous on purpose: the report states the hash of the case file it was made from.
  const h = createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (!n) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

// ---- streamed rows ----

/** Source of an event as one line: "sms.db · message #1234"; with several devices, which device, and the other
 *  devices the same message was read from ("also on 2 (Alex’s iPhone): event 812"). */
function sourceText(e: EventRow & { also_on?: string | null }, devices: Map<number, string>): string {
  const file = e.source_path ? e.source_path.split('/').pop() : null;
  const line = [file, e.source_table ? `${e.source_table}${e.source_rowid != null ? ` #${e.source_rowid}` : ''}` : null].filter(Boolean).join(' · ');
  if (!devices.size) return line;
  const also = (e.also_on ?? '')
    .split(',')
    .filter(Boolean)
    .map((x) => {
      const [dev, id] = x.split(':');
      return `also on ${devices.get(Number(dev)) ?? dev}: event ${id}`;
    });
  return [line, ...also].join(' · ');
}

/** Device labels by id when the case holds several devices; empty (no device shown) for a one-device case. */
export function deviceLabels(db: Database.Database): Map<number, string> {
  const all = devicesOf(db);
  return all.length > 1 ? new Map(all.map((d) => [d.id, deviceLabel(d)])) : new Map();
}

/** With several devices, each event row also names the other devices' copies of the same message (schema v6). */
export function alsoOnColumn(devices: Map<number, string>): string {
  return devices.size ? ", (SELECT group_concat(d.device_id || ':' || d.id) FROM events d WHERE d.duplicate_of = e.id) AS also_on" : '';
}

/** Edit times shown like every other time: in the report zone, with its offset. */
function factsInZone(f: MessageFacts | null, fmt: (us: number | null) => ZoneTime | null): MessageFacts | null {
  if (!f?.edit_history.length) return f;
  return {
    ...f,
    edit_history: f.edit_history.map((v) => {
      const t = fmt(v.us);
      return { ...v, text: v.text === null ? null : reportText(v.text), datetime: t ? `${t.day} ${t.time} ${t.offset}` : null };
    }),
  };
}

/** One record's text in a report: a 24 MB message must not become a 1,000-page PDF. Exports keep it whole. */
export const REPORT_TEXT_MAX = 4000;

export function reportText(s: string | null | undefined, max = REPORT_TEXT_MAX): string {
  if (!s) return '';
  if (s.length <= max) return s;
  const cut = /[\uD800-\uDBFF]/.test(s[max - 1]) ? max - 1 : max; // never split a surrogate pair
  return `${s.slice(0, cut)}… (${(s.length - cut).toLocaleString('en-US')} more characters; full text in the case file and exports)`;
}

export function eventCells(e: EventRow, fmt: (us: number | null) => ZoneTime | null, devices: Map<number, string> = new Map()): EventCells {
  const t = fmt(e.ts_utc_us);
  return [
    e.id,
    t?.day ?? '',
    t?.time ?? '',
    t?.offset ?? '',
    e.kind,
    e.action,
    timestampDesc(e.kind, e.action),
    reportText(e.title),
    reportText(e.body),
    e.direction === 'incoming' ? 'in' : e.direction === 'outgoing' ? 'out' : '',
    who(e.counterpart_name, e.counterpart),
    e.thread_id ?? 0,
    e.service ?? '',
    e.duration_s != null ? formatDuration(e.duration_s) : '',
    e.latitude,
    e.longitude,
    e.accuracy_m,
    sourceText(e, devices),
    factsInZone(messageFacts(e.extra_json), fmt),
    e.recovered === 1 ? [e.recovered_from ?? 'unknown', e.confidence ?? 'unknown'] : null,
    devices.size && e.device_id != null ? (devices.get(e.device_id) ?? String(e.device_id)) : '',
    e.duplicate_of ?? 0,
  ];
}

/** Events for the report, in time order (or thread order for the printed conversation view). */
export function* eventRows(
  db: Database.Database,
  filter: EventFilter,
  tz: string,
  opts: { kinds?: string[]; actions?: string[]; threadOrder?: boolean; recoveredOnly?: boolean; ids?: number[] } = {},
): Generator<EventCells> {
  const fmt = zoneFormatter(tz);
  const devices = deviceLabels(db);
  if (!opts.kinds && !opts.actions && !opts.threadOrder && !opts.recoveredOnly && !opts.ids && !devices.size) {
    for (const e of iterateEvents(db, filter)) yield eventCells(e, fmt);
    return;
  }
  const f: EventFilter = { ...filter };
  if (opts.kinds) f.kinds = filter.kinds?.length ? filter.kinds.filter((k) => opts.kinds!.includes(k)) : opts.kinds;
  if (f.kinds && f.kinds.length === 0) return;
  const w = whereClause(f);
  const conds = [
    w.sql.replace(/^WHERE /, ''),
    opts.threadOrder ? 'e.thread_id IS NOT NULL' : '',
    // The printed conversation view shows a message read from two devices once (the first copy names the other).
    opts.threadOrder && devices.size ? onceClause(filter) : '',
    opts.actions ? `e.action IN (${opts.actions.map(() => '?').join(',')})` : '',
    opts.recoveredOnly ? 'e.recovered = 1' : '',
    opts.ids ? 'e.id IN (SELECT value FROM json_each(?))' : '',
  ].filter(Boolean);
  const extra = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const params = [...w.params, ...(opts.actions ?? []), ...(opts.ids ? [JSON.stringify(opts.ids)] : [])];
  const head = `SELECT e.*, f.domain AS source_domain, f.relative_path AS source_path, f.sha256 AS source_sha256${alsoOnColumn(devices)}
    FROM events e LEFT JOIN files f ON f.id = e.source_file_id`;
  const queries = opts.threadOrder ? [{ sql: `${head} ${extra} ORDER BY e.thread_id, e.ts_utc_us IS NULL, e.ts_utc_us, e.id`, params }] : inTimeOrder(head, { sql: extra, params });
  for (const q of queries) {
    const stmt = db.prepare(q.sql);
    stmt.safeIntegers(false);
    for (const e of stmt.iterate(...q.params) as Iterable<EventRow>) yield eventCells(e, fmt, devices);
  }
}

/** Threads: [id, name, service, isGroup, participants, messages]. */
export function threadRows(db: Database.Database, filter: EventFilter, eventIds?: number[]): [number, string, string, number, string, number][] {
  const f = whereClause(filter);
  // Only the given events (a split report's page of undated events), when given.
  const w = eventIds ? { sql: `${f.sql ? `${f.sql} AND` : 'WHERE'} e.id IN (SELECT value FROM json_each(?))`, params: [...f.params, JSON.stringify(eventIds)] } : f;
  const rows = db
    .prepare(`SELECT t.id, t.display_name, t.identifier, t.service, t.is_group,
      (SELECT group_concat(CASE WHEN p.name IS NOT NULL AND p.name <> p.handle THEN p.name || ' (' || p.handle || ')' ELSE p.handle END, ', ') FROM participants p WHERE p.thread_id = t.id) AS people,
      (SELECT group_concat(COALESCE(p.name, p.handle), ', ') FROM participants p WHERE p.thread_id = t.id) AS names,
      c.n
    FROM threads t JOIN (SELECT e.thread_id, count(*) AS n FROM events e ${w.sql ? `${w.sql} AND` : 'WHERE'} e.thread_id IS NOT NULL GROUP BY e.thread_id) c ON c.thread_id = t.id
    ORDER BY t.id`)
    .all(...w.params) as Record<string, unknown>[];
  // A thread without a display name is shown as the phone does: by its participants' names.
  return rows.map((r) => [
    Number(r.id),
    String(r.display_name || r.names || r.identifier || `Thread ${r.id}`),
    String(r.service ?? ''),
    Number(r.is_group) ? 1 : 0,
    String(r.people ?? ''),
    Number(r.n),
  ]);
}

/** Attachments of the given events (or of all filtered events): [eventId, name, mime, status, size, sha256, thumbnail data: URI or ""]. */
export function* attachmentRows(db: Database.Database, sel: { filter?: EventFilter; eventIds?: number[] }): Generator<[number, string, string, string, string, string, string]> {
  const thumbs = hasTable(db, 'thumbnails');
  const thumbSql = thumbs
    ? '(SELECT mime FROM thumbnails t WHERE t.attachment_id = a.id ORDER BY t.id LIMIT 1) AS tmime, (SELECT data FROM thumbnails t WHERE t.attachment_id = a.id ORDER BY t.id LIMIT 1) AS tdata'
    : 'NULL AS tmime, NULL AS tdata';
  let sql: string, params: unknown[];
  if (sel.eventIds) {
    sql = `SELECT a.*, ${thumbSql} FROM attachments a WHERE a.event_id IN (SELECT value FROM json_each(?)) ORDER BY a.event_id, a.id`;
    params = [JSON.stringify(sel.eventIds)];
  } else {
    const w = whereClause(sel.filter ?? {});
    sql = `SELECT a.*, ${thumbSql} FROM attachments a JOIN events e ON e.id = a.event_id ${w.sql} ORDER BY a.event_id, a.id`;
    params = w.params;
  }
  for (const a of db.prepare(sql).iterate(...params) as Iterable<Record<string, unknown>>) {
    const name = String(a.transfer_name || (typeof a.path === 'string' ? a.path.split('/').pop() : '') || `attachment ${a.id}`);
    const thumb = a.tdata ? thumbnailDataUri(String(a.tmime), a.tdata as Buffer) : null;
    yield [Number(a.event_id), name, String(a.mime_type ?? a.uti ?? ''), String(a.status ?? ''), sizeText(a.total_bytes as number | null), String(a.sha256 ?? ''), thumb ?? ''];
  }
}

// Friendly names for the EXIF/GPS keys the photos extractor writes (src/extractors/photos.ts header);
// any other key is shown under its own dotted name, so nothing recorded is hidden.
const PHOTO_KEYS: Record<string, string> = {
  'asset.filename': 'File name',
  'asset.original_filename': 'Original file name',
  'asset.directory': 'Folder',
  'asset.uuid': 'Asset UUID',
  'asset.kind': 'Asset kind',
  'asset.kind_subtype': 'Kind subtype (raw)',
  'file.file_row_id': 'Hash appendix row',
  'orphan.reason': 'Orphan: why',
  'orphan.domain': 'Orphan file domain',
  'orphan.path': 'Orphan file path',
  time_source: 'Time from',
  'video.format': 'Container',
  'video.created_raw': 'QuickTime creation time (as stored)',
  'video.created_utc_us': 'QuickTime creation time (µs)',
  'video.recorded_date': 'QuickTime local creation date',
  'video.duration_s': 'Duration (s)',
  'video.location.lat': 'QuickTime latitude',
  'video.location.lon': 'QuickTime longitude',
  'video.location.alt_m': 'QuickTime altitude (m)',
  'video.location.raw': 'QuickTime location (as stored)',
  'video.width': 'Width (px)',
  'video.height': 'Height (px)',
  'video.problems': 'Video metadata problems',
  video_error: 'Video metadata error',
  'exif.format': 'File format',
  'exif.capture_utc_us': 'EXIF capture time (µs)',
  'asset.subtype_label': 'Subtype',
  'asset.uti': 'Type (UTI)',
  'asset.width': 'Width (px)',
  'asset.height': 'Height (px)',
  'asset.duration_s': 'Duration (s)',
  'asset.favorite': 'Favourite',
  'asset.hidden': 'Hidden',
  'asset.trashed': 'Trashed',
  'asset.trashed_utc': 'Trashed',
  'asset.added_utc': 'Added to library',
  'asset.modified_utc': 'Modified',
  'asset.timezone_offset_s': 'Photos time-zone offset (s)',
  'asset.timezone_name': 'Photos time-zone name',
  'asset.exif_timestamp_string': 'Photos EXIF time string',
  'asset.camera_make': 'Camera make',
  'asset.camera_model': 'Camera model',
  'asset.lens_model': 'Lens',
  'asset.gps_accuracy_m': 'GPS accuracy (m)',
  location_source: 'Location from',
  'db_location.lat': 'Photos.sqlite latitude',
  'db_location.lon': 'Photos.sqlite longitude',
  'file.domain': 'File domain',
  'file.path': 'File path',
  'file.status': 'File status',
  'file.sha256': 'File SHA-256',
  'file.size': 'File size (bytes)',
  'exif.capture_local': 'EXIF capture time (local)',
  'exif.offset': 'EXIF offset',
  'exif.offset_exif': 'EXIF OffsetTimeOriginal',
  'exif.time_basis': 'EXIF time basis',
  'exif.capture_utc': 'EXIF capture time',
  'exif.gps.lat': 'EXIF GPS latitude',
  'exif.gps.lon': 'EXIF GPS longitude',
  'exif.gps.alt_m': 'EXIF GPS altitude (m)',
  'exif.gps.utc': 'EXIF GPS time',
  'exif.gps_utc': 'EXIF GPS time',
  'exif.make': 'EXIF make',
  'exif.model': 'EXIF model',
  'exif.lens': 'EXIF lens',
  'exif.software': 'EXIF software',
  'exif.width': 'EXIF width',
  'exif.height': 'EXIF height',
  'exif.problems': 'EXIF problems',
  exif_error: 'EXIF error',
  'time_zone.basis': 'Time-zone basis',
  'time_zone.offset': 'Time-zone offset',
  'time_zone.note': 'Time-zone note',
  'disagreement.time_diff_s': 'Photos.sqlite vs EXIF time difference (s)',
  'disagreement.distance_m': 'Photos.sqlite vs EXIF distance (m)',
  'disagreement.notes': 'Disagreement',
};

/** Nested details as [dotted key, text] pairs (arrays of plain values joined; deeper structures as JSON). */
export function flattenDetails(v: unknown, prefix = '', out: [string, string][] = [], depth = 0): [string, string][] {
  if (v === null || v === undefined || v === '') return out;
  if (Array.isArray(v)) {
    if (!v.length) return out;
    out.push([prefix || 'value', v.every((x) => x === null || typeof x !== 'object') ? v.join('; ') : detailText(v, 300)]);
  } else if (typeof v === 'object' && depth < 3) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flattenDetails(x, prefix ? `${prefix}.${k}` : k, out, depth + 1);
  } else out.push([prefix || 'value', detailText(v, 300)]);
  return out;
}

/**
 * The few fields a reader of a photo card needs first (in this order); every other recorded field goes to the
 * card's details table. Flags (favourite, hidden, trashed) join the key fields only when set.
 */
const PHOTO_KEY_FIELDS = [
  'orphan.reason',
  'asset.filename',
  'asset.original_filename',
  'exif.capture_local',
  'asset.camera_model',
  'exif.lens',
  'asset.width',
  'asset.height',
  'asset.duration_s',
  'video.duration_s',
  'time_source',
  'location_source',
  'asset.gps_accuracy_m',
  'asset.added_utc',
  'asset.modified_utc',
  'file.size',
  'time_zone.note',
  'file.path',
  'file.sha256',
];
const PHOTO_FLAG_FIELDS = new Set(['asset.favorite', 'asset.hidden', 'asset.trashed', 'asset.trashed_utc', 'orphan', 'orphan_reason']);

/** Split a photo's flattened fields into the card's key fields (in PHOTO_KEY_FIELDS order) and the rest. */
export function splitPhotoFields(flat: [string, string][]): { key: [string, string][]; details: [string, string][] } {
  const rank = (k: string) => PHOTO_KEY_FIELDS.indexOf(k);
  const isKey = ([k, v]: [string, string]) => rank(k) >= 0 || (PHOTO_FLAG_FIELDS.has(k) && v !== '' && v !== 'false' && v !== '0');
  const key = flat.filter(isKey).sort((a, b) => (rank(a[0]) < 0 ? 99 : rank(a[0])) - (rank(b[0]) < 0 ? 99 : rank(b[0])));
  return { key, details: flat.filter((kv) => !isKey(kv)) };
}

/** Photo/video details: [eventId, key [[label, value]...], thumbnail data: URI or "", details [[label, value]...],
 *  orphan reason or ""]. The fifth cell badges a file no database row points to (extra_json.orphan,
 *  src/extractors/artifacts/orphanMedia.ts). */
export function* photoRows(
  db: Database.Database,
  sel: { filter?: EventFilter; eventIds?: number[] },
  tz = 'UTC',
): Generator<[number, [string, string][], string, [string, string][], string]> {
  const fmt = zoneFormatter(tz);
  const thumbs = hasTable(db, 'thumbnails');
  const thumbSql = thumbs
    ? '(SELECT mime FROM thumbnails t WHERE t.event_id = e.id ORDER BY t.id LIMIT 1) AS tmime, (SELECT data FROM thumbnails t WHERE t.event_id = e.id ORDER BY t.id LIMIT 1) AS tdata'
    : 'NULL AS tmime, NULL AS tdata';
  let sql: string, params: unknown[];
  if (sel.eventIds) {
    sql = `SELECT e.id, e.extra_json, ${thumbSql} FROM events e WHERE e.id IN (SELECT value FROM json_each(?)) AND e.kind IN (SELECT value FROM json_each(?)) ORDER BY e.id`;
    params = [JSON.stringify(sel.eventIds), JSON.stringify(kindsInView('gallery'))];
  } else {
    const f: EventFilter = { ...(sel.filter ?? {}) };
    const gallery = kindsInView('gallery');
    f.kinds = f.kinds?.length ? f.kinds.filter((k) => gallery.includes(k)) : gallery;
    if (!f.kinds.length) return;
    const w = whereClause(f);
    sql = `SELECT e.id, e.extra_json, ${thumbSql} FROM events e ${w.sql} ORDER BY e.id`;
    params = w.params;
  }
  for (const r of db.prepare(sql).iterate(...params) as Iterable<{ id: number; extra_json: string | null; tmime: string | null; tdata: Buffer | null }>) {
    let extra: Record<string, unknown> = {};
    try {
      extra = r.extra_json ? (JSON.parse(r.extra_json) as Record<string, unknown>) : {};
    } catch {
      extra = { extra_json: r.extra_json };
    }
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) extra = { value: extra };
    const { key, details } = splitPhotoFields(flattenDetails(extra));
    const label = (kv: [string, string][]) => kv.map(([k, v]): [string, string] => [PHOTO_KEYS[k] ?? k, zoneDetail(k, v, fmt)]);
    const thumb = r.tdata ? thumbnailDataUri(String(r.tmime), r.tdata) : null;
    const orphan = (extra.orphan as { reason?: unknown } | undefined)?.reason;
    yield [Number(r.id), label(key), thumb ?? '', label(details), typeof orphan === 'string' ? orphan : ''];
  }
}

/** Beyond this many listed-but-absent payloads the PDF counts them by domain and missing-files.csv lists them. */
export const PDF_MISSING_LISTED_MAX = 200;
export const MISSING_FILES_CSV = 'missing-files.csv';

export interface MissingFilesView {
  total: number;
  byDomain: { domain: string; count: number }[];
  /** The PDF's hash appendix leaves them out and shows the counts; the CSV beside the report has every one. */
  abridged: boolean;
  csv: string;
}

function missingFilesView(db: Database.Database): MissingFilesView {
  const byDomain = db.prepare("SELECT coalesce(domain, '') AS domain, count(*) AS count FROM files WHERE status = 'missing' GROUP BY domain ORDER BY count DESC, domain").all() as {
    domain: string;
    count: number;
  }[];
  const total = byDomain.reduce((a, d) => a + d.count, 0);
  return { total, byDomain, abridged: total > PDF_MISSING_LISTED_MAX, csv: MISSING_FILES_CSV };
}

/** Hash appendix: [domain, path, size, sha256, status, readBy, note], from the records verify re-checks. */
/** Backups of real phones hold 300,000+ files: a full hash list would be thousands of PDF pages. */
export const PDF_FULL_HASH_LIST_MAX = 5000;

/** Hash appendix: rows for the table. */
/** Hash appendix rows: [domain, path, size, sha256, status, read by, note, file on disk, md5, sha1]: an examiner
 *  can re-check each by hand (`shasum -a 256 3d/3d0d7e…`), with every hash the case recorded. */
export function* fileRows(
  db: Database.Database,
  opts: { readOrProblemsOnly?: boolean; exceptMissing?: boolean } = {},
): Generator<[string, string, string, string, string, string, string, string, string, string]> {
  for (const f of evidenceHashRows(db, opts)) {
    yield [
      String(f.domain ?? '(backup folder)'),
      String(f.relative_path ?? f.disk_path ?? ''),
      sizeText(f.size),
      String(f.sha256 ?? ''),
      String(f.status),
      String(f.read_by ?? ''),
      String(f.note ?? ''),
      String(f.disk_path ?? ''),
      String(f.md5 ?? ''),
      String(f.sha1 ?? ''),
    ];
  }
}

/** Processing log: [time, severity, extractor, message, source]. */
export function* warningRows(db: Database.Database, tz: string): Generator<[string, string, string, string, string]> {
  const fmt = zoneFormatter(tz);
  for (const w of db.prepare(`SELECT w.*, f.relative_path AS path FROM warnings w LEFT JOIN files f ON f.id = w.file_id ORDER BY w.id`).iterate() as Iterable<
    Record<string, unknown>
  >) {
    const src = [w.path ? String(w.path).split('/').pop() : null, w.source_table ? `${w.source_table}${w.source_rowid != null ? ` #${w.source_rowid}` : ''}` : null]
      .filter(Boolean)
      .join(' · ');
    yield [isoStamp(fmt, String(w.at)), String(w.severity), String(w.extractor ?? ''), String(w.message), src];
  }
}
