// Safari tab groups: HomeDomain Library/Safari/SafariTabs.db (iOS 15+, the store that replaced BrowserState.db; the
// same file as Safari 15+ on macOS). Everything is in one `bookmarks` table: folders (type 1) are tab groups, profiles
// (subtype 2) or Safari's own groups ("Local" for the tabs outside any named group, "Private"/"PrivatePinned" for
// private browsing); rows with a URL are tabs, their `parent` the group. Per-tab times live in two binary plists:
// local_attributes.LastVisitTime / DateClosed / OpenedFromLink / TabIndex / IsMuted / ShowingReader, and
// extra_attributes.DateLastViewed / DeviceIdentifier / LocalURL / LocalTitle / com.apple.Bookmark.DateAdded.
// Sources: iLEAPP safariTabs.py (`safariTabsDatabase`: the ancestry walk, private = an ancestor titled
// Private/PrivatePinned, the plist keys, last_modified read as Unix seconds above 978307200 else Mac seconds) and the
// public SafariTabs.db schema reference of the safari-tabgroups tool (type/subtype, the plist keys and meanings).
//
// One event per tab row (kind browser-tab): action 'open', 'closed' (DateClosed or date_closed set) or 'deleted'
// (deleted = 1, a sync tombstone), at LastVisitTime, else DateLastViewed, else last_modified (extra.time_meaning says
// which), with its group, profile and private flag. One event per folder row (action 'tab-group') at its DateAdded.
// A plist that does not decode, a parent that is not in the table and a parent cycle are warnings; the row is kept.
import { macSeconds, plistDate, unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import { isDict, parsePlist, type PlistValue } from '../../formats/plist.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { num, plausible, text } from '../common/values.js';

export const SAFARI_TABS = 'Library/Safari/SafariTabs.db';
const PRIVATE_TITLES = new Set(['private', 'privatepinned']);
const LOCAL_TITLES = new Set(['local', 'localprofile', 'public']);
const MAX_DEPTH = 20;

interface Row {
  id: number;
  parent: number | null;
  type: number | null;
  subtype: number | null;
  title: string | null;
  url: string | null;
  deleted: boolean;
  raw: Record<string, unknown>;
}

function host(url: string | null): string | null {
  if (!url) return null;
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(url);
  return m?.[1] ? m[1].toLowerCase() : null;
}

const dateOf = (v: PlistValue | undefined): Timestamp | null => (v instanceof Date ? plistDate(v) : null);
const plainOf = (v: PlistValue | undefined): string | number | boolean | null =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : typeof v === 'bigint' ? Number(v) : null;

/** last_modified / date_closed: iLEAPP reads a value above 978307200 as Unix seconds, else as seconds since 2001. */
function columnTime(v: unknown): Timestamp | null {
  const n = num(v);
  if (n === null || n === 0) return null;
  return n > 978307200 ? unixSeconds(n) : macSeconds(n);
}

export function tabGroups(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'bookmarks')) throw new ArtifactError(`${SAFARI_TABS} has no bookmarks table (unknown schema)`);
  const c = columnsOf(db, 'bookmarks');
  const cols = [
    'parent',
    'type',
    'subtype',
    'title',
    'url',
    'deleted',
    'hidden',
    'order_index',
    'external_uuid',
    'last_modified',
    'date_closed',
    'extra_attributes',
    'local_attributes',
  ]
    .map((x) => colOrNull(c, x))
    .join(', ');
  const rows = new Map<number, Row>();
  for (const r of db.prepare(`SELECT id, ${cols} FROM bookmarks ORDER BY id`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
    const id = Number(r.id);
    rows.set(id, {
      id,
      parent: num(r.parent),
      type: num(r.type),
      subtype: num(r.subtype),
      title: text(r.title),
      url: text(r.url)?.trim() || null,
      deleted: num(r.deleted) === 1,
      raw: r,
    });
  }

  const ref = (id: number) => ({ fileRowId: src.fileRowId, table: 'bookmarks', rowid: id });
  const plist = (r: Row, column: 'extra_attributes' | 'local_attributes'): Record<string, PlistValue> | null => {
    const v = r.raw[column];
    if (v == null) return null;
    if (!Buffer.isBuffer(v) || v.length === 0) {
      ctx.warn(`bookmarks row ${r.id}: ${column} is not a plist blob; its tab state is not read`, ref(r.id));
      return null;
    }
    try {
      const p = parsePlist(v, `bookmarks row ${r.id} ${column}`);
      if (isDict(p)) return p;
      ctx.warn(`bookmarks row ${r.id}: ${column} is a plist without a dictionary at its root; its tab state is not read`, ref(r.id));
    } catch (e) {
      ctx.warn(`${(e as Error).message}; its tab state is not read`, ref(r.id));
    }
    return null;
  };
  const isFolder = (r: Row) => r.type === 1 || (r.type === null && !r.url);
  const role = (r: Row): string => {
    const t = (r.title ?? '').toLowerCase();
    if (r.subtype === 2) return 'profile';
    if (PRIVATE_TITLES.has(t)) return 'private';
    if (LOCAL_TITLES.has(t)) return 'local';
    return 'named';
  };
  /** The ancestors of a row, nearest first; warns once about a missing parent or a cycle. */
  const ancestors = (r: Row): Row[] => {
    const out: Row[] = [];
    const seen = new Set<number>([r.id]);
    let p = r.parent;
    while (p !== null && p !== 0 && out.length < MAX_DEPTH) {
      const a = rows.get(p);
      if (!a) {
        ctx.warn(`bookmarks row ${r.id}: ancestor ${p} is not in the table; the tab's group is unknown past it`, ref(r.id));
        break;
      }
      if (seen.has(a.id)) {
        ctx.warn(`bookmarks row ${r.id}: its parents form a cycle at row ${a.id}; the walk stops there`, ref(r.id));
        break;
      }
      seen.add(a.id);
      out.push(a);
      p = a.parent;
    }
    return out;
  };

  const tabsIn = new Map<number, number>();
  for (const r of rows.values()) if (r.url && r.parent !== null) tabsIn.set(r.parent, (tabsIn.get(r.parent) ?? 0) + 1);

  let done = 0;
  for (const r of rows.values()) {
    const extraPlist = plist(r, 'extra_attributes');
    if (isFolder(r) && !r.url) {
      const added = dateOf(isDict(extraPlist?.['com.apple.Bookmark']) ? (extraPlist['com.apple.Bookmark'] as Record<string, PlistValue>).DateAdded : undefined);
      const kind = role(r);
      const n = tabsIn.get(r.id) ?? 0;
      const what = kind === 'profile' ? 'Safari profile' : kind === 'private' ? 'Private tabs group' : kind === 'local' ? 'Tabs outside any named group' : 'Tab group';
      ctx.emit({
        ts: added,
        kind: 'browser-tab',
        action: 'tab-group',
        title: `${what} “${r.title ?? '(no title)'}” (${n} tab${n === 1 ? '' : 's'})`,
        service: 'Safari',
        sourceFileId: src.fileRowId,
        sourceTable: 'bookmarks',
        sourceRowid: r.id,
        extra: {
          group_title: r.title,
          role: kind,
          tabs: n,
          parent: r.parent,
          deleted: r.deleted,
          hidden: num(r.raw.hidden),
          external_uuid: text(r.raw.external_uuid),
          omit_from_ui: extraPlist?.['com.apple.bookmarks.OmitFromUI'] === true,
          time_meaning: added ? 'com.apple.Bookmark.DateAdded: when the group was created' : 'no creation date stored',
        },
      });
      continue;
    }
    if (!r.url) {
      ctx.warn(`bookmarks row ${r.id}: type ${r.type ?? 'NULL'} with no URL is neither a folder nor a tab; kept without a URL`, ref(r.id));
    }
    const local = plist(r, 'local_attributes');
    const up = ancestors(r);
    const group = up.find((a) => isFolder(a) && a.subtype !== 2) ?? null;
    const profile = up.find((a) => a.subtype === 2) ?? null;
    const priv = up.some((a) => PRIVATE_TITLES.has((a.title ?? '').toLowerCase()));

    let ts: Timestamp | null = null;
    let meaning = 'no view time stored';
    const lastVisit = dateOf(local?.LastVisitTime);
    const lastViewed = dateOf(extraPlist?.DateLastViewed);
    if (lastVisit) [ts, meaning] = [lastVisit, 'local_attributes.LastVisitTime: when the tab was last visited'];
    else if (lastViewed) [ts, meaning] = [lastViewed, 'extra_attributes.DateLastViewed: when the tab was last viewed (on the device named in DeviceIdentifier)'];
    else if (r.raw.last_modified != null && num(r.raw.last_modified) !== 0) {
      ts = plausible(ctx, columnTime(r.raw.last_modified), r.raw.last_modified, 'last_modified', ref(r.id), 'mac-s');
      meaning = 'bookmarks.last_modified';
    }
    const closed = dateOf(local?.DateClosed) ?? columnTime(r.raw.date_closed);
    const action = r.deleted ? 'deleted' : closed ? 'closed' : 'open';
    const groupLabel = group && role(group) === 'named' ? ` in tab group “${group.title ?? '(no title)'}”` : '';
    const bookmarkAdded = dateOf(isDict(extraPlist?.['com.apple.Bookmark']) ? (extraPlist['com.apple.Bookmark'] as Record<string, PlistValue>).DateAdded : undefined);
    ctx.emit({
      ts,
      kind: 'browser-tab',
      action,
      title: `${action === 'open' ? 'Open' : action === 'closed' ? 'Closed' : 'Deleted'} ${priv ? 'private ' : ''}tab${groupLabel}: ${r.url ?? '(no URL)'}${r.title ? ` — ${r.title}` : ''}`,
      counterpart: host(r.url),
      service: 'Safari',
      sourceFileId: src.fileRowId,
      sourceTable: 'bookmarks',
      sourceRowid: r.id,
      extra: {
        url: r.url,
        page_title: r.title,
        tab_group: group?.title ?? null,
        tab_group_id: group?.id ?? null,
        tab_group_role: group ? role(group) : null,
        profile: profile?.title ?? null,
        private_browsing: priv,
        deleted: r.deleted,
        closed_utc_us: closed?.utcUs ?? null,
        added_utc_us: bookmarkAdded?.utcUs ?? null,
        last_viewed_utc_us: lastViewed?.utcUs ?? null,
        device_identifier: plainOf(extraPlist?.DeviceIdentifier),
        local_url: plainOf(extraPlist?.LocalURL),
        local_title: plainOf(extraPlist?.LocalTitle),
        opened_from_link: plainOf(local?.OpenedFromLink),
        tab_index: plainOf(local?.TabIndex),
        muted: plainOf(local?.IsMuted),
        showing_reader: plainOf(local?.ShowingReader),
        window_uuid: plainOf(local?.WindowUUID),
        order_index: num(r.raw.order_index),
        external_uuid: text(r.raw.external_uuid),
        time_meaning: meaning,
      },
    });
    if (++done % 5000 === 0) ctx.progress(done);
  }
}
