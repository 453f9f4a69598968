// Installed apps: the backup's Info.plist ("Installed Applications": bundle ids; "Applications": per app the
// iTunesMetadata plist with name, seller, version, purchase date and the buying Apple ID, written by iTunes-made
// backups) and HomeDomain Library/FrontBoard/applicationState.db (every app FrontBoard knows: bundle and data
// container paths, version, from the `compatibilityInfo` value).
//
// Times, where recorded: the purchase date from iTunesMetadata (`com.apple.iTunesStore.downloadInfo.purchaseDate`, else
// `purchaseDate`), and the creation (Birth) of the app's data container in Manifest.db (the earliest Birth of the
// AppDomain-<bundle id> directories "", Library, Documents): the container is created when the app is installed.
// Events: one per "Installed Applications" entry (`installed`, at the container Birth when the backup has it), one per
// "Applications" entry (`purchased` at the purchase date, else `listed`), one per application_identifier_tab row
// (`registered`, at the container Birth). kvs rows are the app's properties: their keys are listed on the app's event.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { unixSeconds, plistDate, type Timestamp } from '../../formats/appleTime.js';
import { parsePlist, unarchive, isDict, type PlistValue } from '../../formats/plist.js';
import { hasTable, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { fileProblem, plausible, text } from '../common/values.js';

const APP_STATE = 'Library/FrontBoard/applicationState.db';
type Dict = Record<string, PlistValue>;
const str = (v: PlistValue | undefined): string | null => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : null);

/** Earliest Birth (Unix seconds) of the app's container directories, per bundle id. */
function containerBirths(ctx: ExtractorContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of ctx.backup.allEntries()) {
    if (!e.domain.startsWith('AppDomain-') || !['', 'Library', 'Documents'].includes(e.relativePath)) continue;
    try {
      // decode() also serves Manifest.mbdb records, which carry no blob
      const b = ctx.backup.decode(e)?.birth ?? null;
      if (b === null || b <= 0) continue;
      const id = e.domain.slice('AppDomain-'.length);
      const prev = out.get(id);
      if (prev === undefined || b < prev) out.set(id, b);
    } catch {
      /* a damaged MBFile only loses this hint */
    }
  }
  return out;
}

/** Read a top-level backup plist (not a manifest entry), check it is the file the evidence pass hashed, record it. */
function topPlist(ctx: ExtractorContext, name: string): { root: Dict; fileRowId: number } | null {
  const p = path.join(ctx.backup.root, name);
  if (!fs.existsSync(p)) return null;
  const data = fs.readFileSync(p);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const fileRowId = ctx.caseFile.recordFile({ domain: null, relativePath: name, fileId: null, size: data.length, sha256, status: 'ok', readBy: 'apps' });
  const hashed = ctx.backup.topLevelHashes[name];
  if (hashed && hashed !== sha256) ctx.warn(`${name} changed while the backup was being read (sha256 ${hashed} when opened, ${sha256} now)`, { fileRowId, severity: 'error' });
  const root = parsePlist(data, name);
  if (!isDict(root)) throw new ArtifactError(`${name} is not a dictionary plist`);
  return { root, fileRowId };
}

function metadata(v: PlistValue | undefined): Dict | null {
  if (!Buffer.isBuffer(v)) return isDict(v) ? v : null;
  try {
    const r = parsePlist(v, 'iTunesMetadata');
    return isDict(r) ? r : null;
  } catch {
    return null;
  }
}

function purchaseTime(meta: Dict): PlistValue | undefined {
  const dl = meta['com.apple.iTunesStore.downloadInfo'];
  const fromDl = isDict(dl) ? dl.purchaseDate : undefined;
  return fromDl ?? meta.purchaseDate;
}

function toTs(v: PlistValue | undefined): Timestamp | null {
  if (v instanceof Date) return plistDate(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : { utcUs: ms * 1000, raw: v, epoch: 'plist-date' };
  }
  return null;
}

function infoPlistApps(ctx: ExtractorContext, births: Map<string, number>, versions: Map<string, string | null>): boolean {
  const info = topPlist(ctx, 'Info.plist');
  if (!info) return false;
  const { root, fileRowId } = info;
  const installed = root['Installed Applications'];
  if (Array.isArray(installed)) {
    installed.forEach((v, i) => {
      const id = str(v);
      const ref = { fileRowId, table: 'Installed Applications', rowid: i };
      if (id === null) ctx.warn(`Info.plist Installed Applications entry ${i} is not a string`, ref);
      const birth = id ? births.get(id) : undefined;
      const ts = birth !== undefined ? plausible(ctx, unixSeconds(birth), birth, 'container Birth', ref) : null;
      ctx.emit({
        ts,
        kind: 'app',
        action: 'installed',
        title: `App installed: ${id ?? '(unreadable entry)'}${ts ? ' (data container created)' : ''}`,
        counterpart: id,
        service: 'Apps',
        sourceFileId: fileRowId,
        sourceTable: 'Installed Applications',
        sourceRowid: i,
        extra: {
          bundle_id: id,
          version: id ? (versions.get(id) ?? null) : null,
          time_meaning: ts ? 'Manifest.db Birth of the app data container (AppDomain-<bundle id>)' : 'no time recorded',
        },
      });
    });
  }
  const apps = root['Applications'];
  if (isDict(apps)) {
    Object.entries(apps).forEach(([id, v], i) => {
      const ref = { fileRowId, table: 'Applications', rowid: i };
      const entry = isDict(v) ? v : {};
      const meta = metadata(entry.iTunesMetadata);
      if (entry.iTunesMetadata !== undefined && !meta) ctx.warn(`Info.plist Applications ${id}: iTunesMetadata does not decode`, ref);
      const raw = meta ? purchaseTime(meta) : undefined;
      const ts =
        raw === undefined
          ? null
          : plausible(ctx, toTs(raw), raw instanceof Date ? (Number.isNaN(raw.getTime()) ? 'an invalid date' : raw.toISOString()) : raw, 'purchaseDate', ref, 'plist-date');
      const dl = meta && isDict(meta['com.apple.iTunesStore.downloadInfo']) ? (meta['com.apple.iTunesStore.downloadInfo'] as Dict) : {};
      const account = isDict(dl.accountInfo) ? dl.accountInfo : {};
      const name = meta ? (str(meta.itemName) ?? str(meta.bundleDisplayName)) : null;
      const appleId = str(account.AppleID) ?? (meta ? str(meta.appleId) : null);
      ctx.emit({
        ts,
        kind: 'app',
        action: ts ? 'purchased' : 'listed',
        title: `${ts ? 'App purchased/downloaded' : 'App in backup'}: ${name ? `${name} (${id})` : id}${appleId ? ` by Apple ID ${appleId}` : ''}`,
        counterpart: id,
        service: 'Apps',
        sourceFileId: fileRowId,
        sourceTable: 'Applications',
        sourceRowid: i,
        extra: {
          bundle_id: id,
          item_name: name,
          artist: meta ? str(meta.artistName) : null,
          version: meta ? (str(meta.bundleShortVersionString) ?? str(meta.bundleVersion)) : (versions.get(id) ?? null),
          genre: meta ? str(meta.genre) : null,
          item_id: meta ? str(meta.itemId) : null,
          release_date: meta ? str(meta.releaseDate) : null,
          apple_id: appleId,
          ds_person_id: str(account.DSPersonID),
          purchase_date_raw: raw instanceof Date ? (Number.isNaN(raw.getTime()) ? 'an invalid date' : raw.toISOString()) : str(raw),
        },
      });
    });
  }
  return true;
}

/** compatibilityInfo: a plist dict (older iOS) or a plist whose root is data holding an NSKeyedArchiver (newer). */
function compatibility(blob: unknown): Dict | null {
  if (!Buffer.isBuffer(blob)) return null;
  let v: PlistValue = parsePlist(blob, 'compatibilityInfo');
  for (let depth = 0; depth < 3; depth++) {
    if (Buffer.isBuffer(v)) {
      v = parsePlist(v, 'compatibilityInfo');
      continue;
    }
    if (isDict(v) && Array.isArray(v['$objects'])) {
      v = unarchive(v, 'compatibilityInfo');
      continue;
    }
    break;
  }
  return isDict(v) ? v : null;
}

function applicationState(ctx: ExtractorContext, src: { db: import('better-sqlite3').Database; fileRowId: number }, births: Map<string, number>): void {
  const { db } = src;
  if (!hasTable(db, 'application_identifier_tab') || !hasTable(db, 'kvs') || !hasTable(db, 'key_tab'))
    throw new ArtifactError(`${APP_STATE} lacks application_identifier_tab/key_tab/kvs (unknown schema)`);
  const keysOf = db.prepare('SELECT k.key AS key FROM kvs JOIN key_tab k ON k.id = kvs.key WHERE kvs.application_identifier = ? ORDER BY k.key');
  const compat = db.prepare(
    "SELECT kvs.id AS id, kvs.value AS value FROM kvs JOIN key_tab k ON k.id = kvs.key WHERE kvs.application_identifier = ? AND k.key = 'compatibilityInfo'",
  );
  for (const r of db.prepare('SELECT id, application_identifier AS app FROM application_identifier_tab ORDER BY id').iterate() as Iterable<{ id: bigint; app: unknown }>) {
    const ref = { fileRowId: src.fileRowId, table: 'application_identifier_tab', rowid: r.id };
    const id = text(r.app);
    const keys = (keysOf.all(r.id) as { key: unknown }[]).map((k) => text(k.key));
    let info: Dict | null = null;
    const c = compat.get(r.id) as { id: bigint; value: unknown } | undefined;
    if (c) {
      try {
        info = compatibility(c.value);
      } catch (e) {
        /* recorded below */ void e;
      }
      if (!info) ctx.warn(`application_identifier_tab row ${String(r.id)} (${id ?? '?'}): compatibilityInfo (kvs row ${String(c.id)}) does not decode`, ref);
    }
    const birth = id ? births.get(id) : undefined;
    const ts = birth !== undefined ? plausible(ctx, unixSeconds(birth), birth, 'container Birth', ref) : null;
    const bundleId = (info && str(info.bundleIdentifier)) ?? id;
    ctx.emit({
      ts,
      kind: 'app',
      action: 'registered',
      title: `App known to the home screen: ${bundleId ?? '(no identifier)'}${info && str(info.bundleVersion) ? ` ${str(info.bundleVersion)}` : ''}`,
      counterpart: bundleId,
      service: 'Apps',
      sourceFileId: src.fileRowId,
      sourceTable: 'application_identifier_tab',
      sourceRowid: r.id,
      extra: {
        bundle_id: bundleId,
        application_identifier: id,
        bundle_path: info ? str(info.bundlePath) : null,
        sandbox_path: info ? str(info.sandboxPath) : null,
        bundle_version: info ? str(info.bundleVersion) : null,
        kvs_keys: keys,
        time_meaning: ts ? 'Manifest.db Birth of the app data container (AppDomain-<bundle id>)' : 'no time recorded',
      },
    });
  }
}

export const apps: Extractor = {
  id: 'apps',
  title: 'Installed apps (Info.plist, applicationState.db)',
  // Info.plist is read too: it is a top-level backup file, not a manifest entry, so it is not listed here.
  sources: [{ domain: 'HomeDomain', path: APP_STATE }],
  kinds: [
    {
      kind: 'app',
      label: 'Installed apps',
      color: '#5a8f3c',
      view: 'table',
      dataType: 'ios:apps:app',
      actions: { installed: 'App Container Created', purchased: 'App Purchased', registered: 'App Container Created', listed: 'App Listed' },
    },
  ],
  async run(ctx) {
    const births = containerBirths(ctx);
    const versions = new Map<string, string | null>();
    const mp = ctx.backup.manifestPlist?.Applications;
    if (isDict(mp)) for (const [id, v] of Object.entries(mp)) versions.set(id, isDict(v) ? str(v.CFBundleVersion) : null);
    try {
      infoPlistApps(ctx, births, versions);
    } catch (e) {
      ctx.warn(`Info.plist: ${(e as Error).message}`, { severity: 'error' });
    }
    try {
      const src = await ctx.openDatabase('HomeDomain', APP_STATE);
      if (src) applicationState(ctx, src, births);
    } catch (e) {
      ctx.warn(fileProblem('HomeDomain', APP_STATE, e), { severity: 'error' });
    }
  },
};
