// Safari: website history (History.db), open tabs (BrowserState.db), tabs open on the user's other devices
// (CloudTabs.db, see cloudTabs()) and bookmarks / Reading List (Bookmarks.db).
//
// History.db (iOS 9+; the same schema as Safari on macOS): one event per history_visits row at visit_time (seconds
// since 2001), with the URL from history_items, the page title, the redirect chain resolved to URLs (redirect_source =
// the visit that redirected here, redirect_destination = where this visit was redirected to) and origin (0 this device,
// 1 another device through iCloud). history_items rows with no visit left become one undated event each;
// history_tombstones (history the user cleared: a URL or all URLs between start_time and end_time) one event at
// end_time; history_events (deletions waiting to sync) one event at event_time. metadata, history_client_versions,
// history_event_listeners, history_tags and history_items_to_tags are bookkeeping (no events).
// SafariTabs.db (iOS 15+): tabs with their tab group, and the groups themselves (../safari/tabGroups.ts).
// BrowserState.db: one event per `tabs` row at last_viewed_time; tab_sessions (the tab's back/forward list blob) and
// browser_windows are described on the tab event.
// Bookmarks.db: one event per `bookmarks` row (folders included), at last_modified when present; Reading List items
// (under the com.apple.ReadingList folder, `read` not NULL) at their DateAdded from extra_attributes when it decodes.
//
// Apple keeps website history only in encrypted backups (Apple: "About encrypted backups"; mvt docs/ios/records.md
// marks History.db and BrowserState.db "Backup (if encrypted)"), so `safari` is encryptedOnly; bookmarks are not.
import { macSeconds, unixSeconds, plistDate, type Timestamp } from '../../formats/appleTime.js';
import { parsePlist, isDict, type PlistValue } from '../../formats/plist.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { fileProblem, num, plausible, text } from '../common/values.js';
import { bulkVisits, ordinaryVisit } from '../safari/bulk.js';
import { SAFARI_TABS, tabGroups } from '../safari/tabGroups.js';

/** Switches for tests and the bench: the SQL bulk path for ordinary visits (on by default). */
export const safariTuning = { sqlBulk: true };
const VISIT_COLS = ['title', 'load_successful', 'http_non_get', 'synthesized', 'redirect_source', 'redirect_destination', 'origin', 'generation', 'attributes', 'score'];

const HISTORY = 'Library/Safari/History.db';
const BROWSER_STATE = 'Library/Safari/BrowserState.db';
const BOOKMARKS = 'Library/Safari/Bookmarks.db';
const CLOUD_TABS = 'Library/Safari/CloudTabs.db';

function host(url: string | null): string | null {
  if (!url) return null;
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(url);
  return m?.[1] ? m[1].toLowerCase() : null;
}

const ORIGIN: Record<number, string> = { 0: 'this device', 1: 'another device (iCloud)' };

function history(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'history_visits') || !hasTable(db, 'history_items')) throw new ArtifactError(`${HISTORY} has no history_visits/history_items tables (unknown schema)`);
  const v = columnsOf(db, 'history_visits');
  const it = columnsOf(db, 'history_items');
  const vcols = VISIT_COLS.map((c) => colOrNull(v, c, `v_${c}`, 'v.')).join(', ');
  const icols = ['url', 'visit_count', 'domain_expansion', 'status_code'].map((c) => colOrNull(it, c, `i_${c}`, 'i.')).join(', ');
  const redirects = v.has('redirect_source') && v.has('redirect_destination');
  const joins = redirects
    ? `LEFT JOIN history_visits sv ON sv.id = v.redirect_source LEFT JOIN history_items si ON si.id = sv.history_item
    LEFT JOIN history_visits dv ON dv.id = v.redirect_destination LEFT JOIN history_items di ON di.id = dv.history_item`
    : '';
  const total = Number((db.prepare('SELECT count(*) AS n FROM history_visits').get() as { n: bigint }).n);
  // Ordinary visits are written by SQLite (safari/bulk.ts); this loop then reads only the others.
  const bulk =
    safariTuning.sqlBulk && v.has('title') && v.has('id')
      ? bulkVisits(
          ctx.caseFile,
          src.path,
          src.fileRowId,
          { vcol: (c) => (v.has(c) ? `v.${c}` : 'NULL'), icol: (c) => (it.has(c) ? `i.${c}` : 'NULL'), joins, redirects },
          host,
          (m) => ctx.warn(m, { fileRowId: src.fileRowId, severity: 'info' }),
        )
      : null;
  if (bulk !== null) ctx.countEvents(bulk);
  let done = bulk ?? 0;
  ctx.progress(done, total);
  const q = `SELECT v.id AS vid, v.history_item AS item, v.visit_time AS vt, ${vcols}, ${icols}
    ${redirects ? ', si.url AS src_url, di.url AS dst_url' : ', NULL AS src_url, NULL AS dst_url'}
    FROM history_visits v LEFT JOIN history_items i ON i.id = v.history_item ${joins}
    ${bulk !== null ? `WHERE NOT ${ordinaryVisit(redirects)}` : ''} ORDER BY v.id`;
  const stmt = db.prepare(q);
  stmt.safeIntegers(false); // ids and counts are small; visit_time is a REAL
  for (const r of stmt.iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'history_visits', rowid: r.vid as number };
    const url = r.i_url == null ? null : String(r.i_url);
    if (url === null) ctx.warn(`history_visits row ${String(r.vid)}: history_item ${String(r.item)} has no history_items row (URL unknown)`, ref);
    const pageTitle = r.v_title == null ? null : String(r.v_title);
    const ts = plausible(ctx, macSeconds(r.vt), r.vt, 'visit_time', ref, 'mac-s');
    const dst = r.dst_url == null || r.dst_url === '' ? null : String(r.dst_url);
    const origin = r.v_origin == null ? null : Number(r.v_origin);
    ctx.emit({
      ts,
      kind: 'web-visit',
      action: 'visited',
      title: `Visited ${url ?? '(unknown URL)'}${pageTitle ? ` — ${pageTitle}` : ''}${dst ? ` → redirected to ${dst}` : ''}${origin === 1 ? ' (synced from another device)' : ''}`,
      counterpart: host(url),
      service: 'Safari',
      sourceFileId: src.fileRowId,
      sourceTable: 'history_visits',
      sourceRowid: r.vid as number,
      extra: {
        url,
        page_title: pageTitle,
        history_item: r.item,
        visit_count: r.i_visit_count,
        domain_expansion: r.i_domain_expansion ?? null,
        redirect_source: r.v_redirect_source ?? null,
        redirect_source_url: r.src_url ?? null,
        redirect_destination: r.v_redirect_destination ?? null,
        redirect_destination_url: dst,
        load_successful: r.v_load_successful ?? null,
        http_non_get: r.v_http_non_get ?? null,
        synthesized: r.v_synthesized ?? null,
        origin,
        origin_label: origin === null ? null : (ORIGIN[origin] ?? `origin ${origin}`),
        generation: r.v_generation ?? null,
        attributes: r.v_attributes ?? null,
        status_code: r.i_status_code ?? null,
      },
    });
    if (++done % 10000 === 0) ctx.progress(done, total);
  }
  ctx.progress(done, total);
  if (done !== total)
    ctx.warn(`${HISTORY}: ${total} history_visits rows counted but ${done} written; some visits may be missing from the timeline`, { fileRowId: src.fileRowId, severity: 'error' });

  // Items whose visits are gone still show the URL was in history.
  let orphans = 0;
  for (const r of db
    .prepare(`SELECT i.id AS id, ${icols.replace(/i\./g, 'i.')} FROM history_items i WHERE NOT EXISTS (SELECT 1 FROM history_visits v WHERE v.history_item = i.id) ORDER BY i.id`)
    .iterate() as Iterable<Record<string, unknown>>) {
    orphans++;
    const url = text(r.i_url);
    ctx.emit({
      ts: null,
      kind: 'web-visit',
      action: 'listed',
      title: `In history without a visit record: ${url ?? '(no URL)'}`,
      counterpart: host(url),
      service: 'Safari',
      sourceFileId: src.fileRowId,
      sourceTable: 'history_items',
      sourceRowid: r.id as bigint,
      extra: { url, visit_count: num(r.i_visit_count), domain_expansion: text(r.i_domain_expansion) },
    });
  }
  if (orphans) ctx.warn(`${orphans} history_items rows have no history_visits row: listed without a time`, { fileRowId: src.fileRowId, table: 'history_items', severity: 'info' });

  if (hasTable(db, 'history_tombstones')) {
    const t = columnsOf(db, 'history_tombstones');
    const cols = ['start_time', 'end_time', 'url', 'generation', 'udid'].map((c) => colOrNull(t, c)).join(', ');
    for (const r of db.prepare(`SELECT id, ${cols} FROM history_tombstones ORDER BY id`).iterate() as Iterable<Record<string, unknown>>) {
      const ref = { fileRowId: src.fileRowId, table: 'history_tombstones', rowid: r.id as bigint };
      // NSDate.distantPast (-63114076800 s: year 1) as start_time means "everything before end_time".
      const fromBeginning = num(r.start_time) !== null && num(r.start_time)! <= DISTANT_PAST;
      const start = fromBeginning ? null : plausible(ctx, macSeconds(r.start_time), r.start_time, 'start_time', ref, 'mac-s');
      const end = plausible(ctx, macSeconds(r.end_time), r.end_time, 'end_time', ref, 'mac-s');
      const url = text(r.url);
      ctx.emit({
        ts: end,
        kind: 'web-visit',
        action: 'deleted',
        title: `History cleared: ${url ?? 'all sites'} visited ${fromBeginning ? `before ${iso(end)}` : `between ${iso(start)} and ${iso(end)}`}`,
        counterpart: host(url),
        service: 'Safari',
        sourceFileId: src.fileRowId,
        sourceTable: 'history_tombstones',
        sourceRowid: r.id as bigint,
        extra: {
          url,
          start_utc_us: start?.utcUs ?? null,
          start_raw: r.start_time == null ? null : String(r.start_time),
          start_is_distant_past: fromBeginning,
          end_utc_us: end?.utcUs ?? null,
          generation: num(r.generation),
          udid: text(r.udid),
          time_meaning: 'end_time: the end of the cleared range (the moment of clearing is not recorded)',
        },
      });
    }
  }
  if (hasTable(db, 'history_events')) {
    for (const r of db.prepare('SELECT id, event_type, event_time, pending_listeners, length(value) AS value_bytes FROM history_events ORDER BY id').iterate() as Iterable<
      Record<string, unknown>
    >) {
      const ref = { fileRowId: src.fileRowId, table: 'history_events', rowid: r.id as bigint };
      ctx.emit({
        ts: plausible(ctx, macSeconds(r.event_time), r.event_time, 'event_time', ref, 'mac-s'),
        kind: 'web-visit',
        action: 'sync-event',
        title: `Safari history event ${text(r.event_type) ?? '?'} (waiting for ${text(r.pending_listeners) ?? 'no listener'})`,
        service: 'Safari',
        sourceFileId: src.fileRowId,
        sourceTable: 'history_events',
        sourceRowid: r.id as bigint,
        extra: { event_type: text(r.event_type), pending_listeners: text(r.pending_listeners), value_bytes: num(r.value_bytes) },
      });
    }
  }
}

/** NSDate.distantPast in seconds since 2001 (0001-01-01T00:00:00Z). */
const DISTANT_PAST = -63114076800;

const iso = (t: Timestamp | null): string => (t?.utcUs != null ? new Date(Math.floor(t.utcUs / 1000)).toISOString() : `? (${t?.raw ?? 'none'})`);

function tabs(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'tabs')) throw new ArtifactError(`${BROWSER_STATE} has no tabs table (unknown schema)`);
  const c = columnsOf(db, 'tabs');
  const cols = [
    'uuid',
    'title',
    'url',
    'user_visible_url',
    'order_index',
    'last_viewed_time',
    'opened_from_link',
    'showing_reader',
    'private_browsing',
    'browser_window_uuid',
    'browser_window_id',
  ]
    .map((x) => colOrNull(c, x, x, 't.'))
    .join(', ');
  const sessions = hasTable(db, 'tab_sessions') && columnsOf(db, 'tab_sessions').has('tab_uuid');
  const q = `SELECT t.id AS id, ${cols}${sessions ? ', (SELECT length(s.session_data) FROM tab_sessions s WHERE s.tab_uuid = t.uuid) AS session_bytes' : ', NULL AS session_bytes'} FROM tabs t ORDER BY t.id`;
  for (const r of db.prepare(q).iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'tabs', rowid: r.id as bigint };
    const url = text(r.url) ?? text(r.user_visible_url);
    const priv = num(r.private_browsing) === 1;
    ctx.emit({
      ts: plausible(ctx, macSeconds(r.last_viewed_time), r.last_viewed_time, 'last_viewed_time', ref, 'mac-s'),
      kind: 'browser-tab',
      action: 'open',
      title: `Open ${priv ? 'private ' : ''}tab: ${url ?? '(no URL)'}${text(r.title) ? ` — ${text(r.title)}` : ''}`,
      counterpart: host(url),
      service: 'Safari',
      sourceFileId: src.fileRowId,
      sourceTable: 'tabs',
      sourceRowid: r.id as bigint,
      extra: {
        url,
        user_visible_url: text(r.user_visible_url),
        page_title: text(r.title),
        uuid: text(r.uuid),
        order_index: num(r.order_index),
        private_browsing: priv,
        opened_from_link: num(r.opened_from_link),
        showing_reader: num(r.showing_reader),
        window_uuid: text(r.browser_window_uuid),
        window_id: num(r.browser_window_id),
        session_data_bytes: num(r.session_bytes),
        time_meaning: 'last_viewed_time: when the tab was last looked at',
      },
    });
  }
}

/** Bookmarks.db last_modified: Unix seconds in the files described publicly; a value below 1.2e9 can only be Mac seconds. */
function bookmarkTime(v: unknown): Timestamp | null {
  const n = num(v);
  if (n === null || n === 0) return null;
  return Math.abs(n) >= 1.2e9 ? unixSeconds(n) : macSeconds(n);
}

function readingListDates(blob: unknown): { added: Date | null; viewed: Date | null; preview: string | null } | null {
  if (!Buffer.isBuffer(blob) || blob.length === 0) return null;
  let root: PlistValue;
  try {
    root = parsePlist(blob, 'extra_attributes');
  } catch {
    return null;
  }
  if (!isDict(root)) return null;
  const rl = [root['com.apple.ReadingList'], root['ReadingList'], root].find((x) => isDict(x) && ('DateAdded' in x || 'DateLastViewed' in x)) as
    | Record<string, PlistValue>
    | undefined;
  if (!rl) return null;
  const d = (x: PlistValue | undefined) => (x instanceof Date && !Number.isNaN(x.getTime()) ? x : null);
  return { added: d(rl.DateAdded), viewed: d(rl.DateLastViewed), preview: typeof rl.PreviewText === 'string' ? rl.PreviewText : null };
}

function bookmarks(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'bookmarks')) throw new ArtifactError(`${BOOKMARKS} has no bookmarks table (unknown schema)`);
  const c = columnsOf(db, 'bookmarks');
  const cols = [
    'special_id',
    'parent',
    'type',
    'title',
    'url',
    'num_children',
    'hidden',
    'order_index',
    'external_uuid',
    'read',
    'last_modified',
    'deleted',
    'extra_attributes',
    'subtype',
    'date_closed',
  ]
    .map((x) => colOrNull(c, x, x, 'b.'))
    .join(', ');
  const q = `SELECT b.id AS id, ${cols}, p.title AS parent_title FROM bookmarks b LEFT JOIN bookmarks p ON p.id = b.parent ORDER BY b.id`;
  for (const r of db.prepare(q).iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'bookmarks', rowid: r.id as bigint };
    const folder = num(r.type) === 1;
    const url = text(r.url);
    const title = text(r.title);
    const parentTitle = text(r.parent_title);
    const inReadingList = parentTitle === 'com.apple.ReadingList' || (r.read !== null && r.read !== undefined && !folder);
    const rl = inReadingList ? readingListDates(r.extra_attributes) : null;
    let ts = plausible(ctx, bookmarkTime(r.last_modified), r.last_modified, 'last_modified', ref);
    let action = folder ? 'folder' : inReadingList ? 'reading-list' : 'bookmarked';
    if (rl?.added) {
      ts = plistDate(rl.added);
      action = 'reading-list';
    }
    const what = folder ? `Bookmark folder "${title ?? ''}"` : inReadingList ? `Reading List: ${url ?? '(no URL)'}` : `Bookmark: ${url ?? '(no URL)'}`;
    ctx.emit({
      ts,
      kind: 'bookmark',
      action,
      title: `${what}${!folder && title ? ` — ${title}` : ''}${num(r.deleted) === 1 ? ' (deleted, waiting to sync)' : ''}`,
      counterpart: host(url),
      service: 'Safari',
      sourceFileId: src.fileRowId,
      sourceTable: 'bookmarks',
      sourceRowid: r.id as bigint,
      extra: {
        url,
        bookmark_title: title,
        folder,
        parent: num(r.parent),
        parent_title: parentTitle,
        special_id: num(r.special_id),
        hidden: num(r.hidden),
        order_index: num(r.order_index),
        external_uuid: text(r.external_uuid),
        read: num(r.read),
        deleted: num(r.deleted),
        subtype: num(r.subtype),
        last_modified_raw: r.last_modified == null ? null : String(r.last_modified),
        reading_list_added: rl?.added?.toISOString() ?? null,
        reading_list_last_viewed: rl?.viewed?.toISOString() ?? null,
        preview_text: rl?.preview ?? null,
        time_meaning: rl?.added ? 'Reading List DateAdded' : 'last_modified',
      },
    });
  }
}

/**
 * CloudTabs.db: tabs open on the user's other devices (iCloud Tabs). cloud_tab_devices (device name and type,
 * last_modified seconds since 2001), cloud_tabs (url, title, device_uuid, last_viewed_time seconds since 2001 where the
 * column exists and is not 0), cloud_tab_close_requests (a request to close a tab on another device). One event per row.
 */
function cloudTabs(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'cloud_tabs')) throw new ArtifactError(`${CLOUD_TABS} has no cloud_tabs table (unknown schema)`);
  const devices = new Map<string, { name: string | null; type: string | null }>();
  if (hasTable(db, 'cloud_tab_devices')) {
    const dc = columnsOf(db, 'cloud_tab_devices');
    for (const r of db
      .prepare(
        `SELECT rowid AS rid, ${['device_uuid', 'device_name', 'device_type_identifier', 'is_ephemeral_device', 'last_modified'].map((c) => colOrNull(dc, c)).join(', ')} FROM cloud_tab_devices ORDER BY rowid`,
      )
      .iterate() as Iterable<Record<string, unknown>>) {
      const ref = { fileRowId: src.fileRowId, table: 'cloud_tab_devices', rowid: r.rid as bigint };
      const uuid = text(r.device_uuid);
      const name = text(r.device_name);
      const type = text(r.device_type_identifier);
      if (uuid) devices.set(uuid, { name, type });
      ctx.emit({
        ts: plausible(ctx, macSeconds(r.last_modified), r.last_modified, 'last_modified', ref, 'mac-s'),
        kind: 'browser-tab',
        action: 'cloud-device',
        title: `iCloud Tabs device "${name ?? uuid ?? '?'}"${type ? ` (${type})` : ''} updated its tab list`,
        counterpart: name ?? uuid,
        service: 'Safari (iCloud Tabs)',
        sourceFileId: src.fileRowId,
        sourceTable: 'cloud_tab_devices',
        sourceRowid: r.rid as bigint,
        extra: { device_uuid: uuid, device_name: name, device_type: type, ephemeral: num(r.is_ephemeral_device) },
      });
    }
  }
  const tc = columnsOf(db, 'cloud_tabs');
  for (const r of db
    .prepare(
      `SELECT rowid AS rid, ${['tab_uuid', 'device_uuid', 'title', 'url', 'is_pinned', 'is_showing_reader', 'last_viewed_time', 'topic_title'].map((c) => colOrNull(tc, c)).join(', ')} FROM cloud_tabs ORDER BY rowid`,
    )
    .iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'cloud_tabs', rowid: r.rid as bigint };
    const url = text(r.url);
    const dev = text(r.device_uuid);
    const device = dev ? devices.get(dev) : undefined;
    const where = device?.name ?? dev ?? 'another device';
    ctx.emit({
      ts: plausible(ctx, macSeconds(r.last_viewed_time), r.last_viewed_time, 'last_viewed_time', ref, 'mac-s'),
      kind: 'browser-tab',
      action: 'cloud-tab',
      title: `Tab open on ${where}: ${url ?? '(no URL)'}${text(r.title) ? ` — ${text(r.title)}` : ''}`,
      counterpart: host(url),
      service: 'Safari (iCloud Tabs)',
      sourceFileId: src.fileRowId,
      sourceTable: 'cloud_tabs',
      sourceRowid: r.rid as bigint,
      extra: {
        url,
        page_title: text(r.title),
        tab_uuid: text(r.tab_uuid),
        device_uuid: dev,
        device_name: device?.name ?? null,
        device_type: device?.type ?? null,
        pinned: num(r.is_pinned),
        showing_reader: num(r.is_showing_reader),
        topic_title: text(r.topic_title),
      },
    });
  }
  if (hasTable(db, 'cloud_tab_close_requests')) {
    const cc = columnsOf(db, 'cloud_tab_close_requests');
    for (const r of db
      .prepare(
        `SELECT rowid AS rid, ${['close_request_uuid', 'destination_device_uuid', 'url', 'tab_uuid'].map((c) => colOrNull(cc, c)).join(', ')} FROM cloud_tab_close_requests ORDER BY rowid`,
      )
      .iterate() as Iterable<Record<string, unknown>>) {
      const url = text(r.url);
      const dev = text(r.destination_device_uuid);
      ctx.emit({
        ts: null,
        kind: 'browser-tab',
        action: 'close-requested',
        title: `Close requested for the tab ${url ?? '(no URL)'} on ${(dev && devices.get(dev)?.name) ?? dev ?? 'another device'}`,
        counterpart: host(url),
        service: 'Safari (iCloud Tabs)',
        sourceFileId: src.fileRowId,
        sourceTable: 'cloud_tab_close_requests',
        sourceRowid: r.rid as bigint,
        extra: { url, tab_uuid: text(r.tab_uuid), destination_device_uuid: dev, close_request_uuid: text(r.close_request_uuid) },
      });
    }
  }
}

export const safari: Extractor = {
  id: 'safari',
  title: 'Safari history, open tabs, tab groups and iCloud Tabs',
  encryptedOnly: true,
  sources: [
    { domain: 'HomeDomain', path: HISTORY },
    { domain: 'HomeDomain', path: BROWSER_STATE },
    { domain: 'HomeDomain', path: CLOUD_TABS },
    { domain: 'HomeDomain', path: SAFARI_TABS },
  ],
  kinds: [
    {
      kind: 'web-visit',
      label: 'Web history',
      color: '#1f7fbf',
      view: 'table',
      dataType: 'ios:safari:visit',
      actions: { visited: 'Page Visited', listed: 'History Item', deleted: 'History Cleared', 'sync-event': 'History Event' },
    },
    {
      kind: 'browser-tab',
      label: 'Open browser tabs',
      color: '#4fa3d9',
      view: 'table',
      dataType: 'ios:safari:tab',
      actions: {
        open: 'Tab Last Viewed',
        closed: 'Closed Tab Last Viewed',
        deleted: 'Deleted Tab Last Viewed',
        'tab-group': 'Tab Group Created',
        'cloud-tab': 'iCloud Tab Last Viewed',
        'cloud-device': 'iCloud Tabs Device Updated',
        'close-requested': 'iCloud Tab Close Requested',
      },
    },
  ],
  async run(ctx) {
    // One damaged file does not hide the other: its failure is an error warning and the run is "partial".
    for (const [p, read] of [
      [HISTORY, history],
      [BROWSER_STATE, tabs],
      [CLOUD_TABS, cloudTabs],
      [SAFARI_TABS, tabGroups],
    ] as const) {
      try {
        const src = await ctx.openDatabase('HomeDomain', p);
        if (src) read(ctx, src);
      } catch (e) {
        ctx.warn(fileProblem('HomeDomain', p, e), { severity: 'error' });
      }
    }
  },
};

export const safariBookmarks: Extractor = {
  id: 'safari-bookmarks',
  title: 'Safari bookmarks and Reading List',
  sources: [{ domain: 'HomeDomain', path: BOOKMARKS }],
  kinds: [
    {
      kind: 'bookmark',
      label: 'Bookmarks',
      color: '#7cb8e0',
      view: 'table',
      dataType: 'ios:safari:bookmark',
      actions: { bookmarked: 'Bookmark Modified', 'reading-list': 'Reading List Item Added', folder: 'Bookmark Folder Modified' },
    },
  ],
  async run(ctx) {
    const b = await ctx.openDatabase('HomeDomain', BOOKMARKS);
    if (b) bookmarks(ctx, b);
  },
};
