// Recents: HomeDomain Library/Recents/Recents (CoreRecents, SQLite). The people and places the phone suggests when
// addressing something: who was last written to, called or shared with, through which app, and when.
//  - recents: one row per recent entry; `dates` the times it was used (Unix milliseconds, ':'-separated), `last_date`
//    the last use (Unix milliseconds), `count`, `weight`, `group_kind`, `original_source` / `bundle_identifier` (the app),
//    `sending_address` (the account it was sent from), `display_name` (newer iOS).
//  - contacts: the addresses of a recent entry (recent_id → recents.ROWID; several for a group), with kind and name.
//  - metadata: key/value blobs of a recent entry: their keys are listed on its events.
// One event per use in `dates` (action `used`); a row without parsable dates is one event at last_date (`last-used`).
// contacts and metadata rows describe a recents row and are on its events.
import { unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor } from '../types.js';
import { num, plausible, text } from '../common/values.js';

const PATH = 'Library/Recents/Recents';
const APPS: Record<string, string> = {
  'com.apple.MobileSMS': 'Messages',
  'com.apple.mobilemail': 'Mail',
  'com.apple.email.maild': 'Mail',
  'com.apple.mobilephone': 'Phone',
  'com.apple.facetime': 'FaceTime',
  'com.apple.Passbook': 'Wallet',
  'com.apple.Maps': 'Maps',
  'com.apple.maps': 'Maps',
  'com.apple.mobileslideshow': 'Photos',
};

const fromMs = (ms: number): Timestamp | null => {
  const t = unixSeconds(ms / 1000);
  return t ? { ...t, raw: String(ms), epoch: 'unix-ms' } : null;
};

export const recents: Extractor = {
  id: 'recents',
  title: 'Recent contacts (CoreRecents)',
  after: ['contacts'],
  sources: [{ domain: 'HomeDomain', path: PATH }],
  kinds: [
    {
      kind: 'recent',
      label: 'Recent contacts',
      color: '#b0487a',
      view: 'table',
      dataType: 'ios:recents:entry',
      actions: { used: 'Recent Contact Used', 'last-used': 'Recent Contact Last Used' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase('HomeDomain', PATH);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'recents')) throw new ArtifactError(`${PATH} has no recents table (unknown schema)`);
    const rc = columnsOf(db, 'recents');
    const addresses = new Map<string, { kind: string | null; address: string | null; name: string | null; rowid: number }[]>();
    if (hasTable(db, 'contacts')) {
      const cc = columnsOf(db, 'contacts');
      for (const r of db
        .prepare(`SELECT ROWID AS rid, ${['recent_id', 'kind', 'address', 'display_name'].map((c) => colOrNull(cc, c)).join(', ')} FROM contacts ORDER BY ROWID`)
        .iterate() as Iterable<Record<string, unknown>>) {
        const key = String(r.recent_id);
        const list = addresses.get(key) ?? [];
        list.push({ kind: text(r.kind), address: text(r.address), name: text(r.display_name), rowid: num(r.rid)! });
        addresses.set(key, list);
      }
    }
    const metaKeys = new Map<string, string[]>();
    if (hasTable(db, 'metadata')) {
      for (const r of db.prepare('SELECT recent_id, key FROM metadata ORDER BY ROWID').iterate() as Iterable<Record<string, unknown>>) {
        const k = String(r.recent_id);
        metaKeys.set(k, [...(metaKeys.get(k) ?? []), text(r.key) ?? '?']);
      }
    }
    const cols = ['display_name', 'bundle_identifier', 'sending_address', 'original_source', 'dates', 'last_date', 'weight', 'count', 'group_kind']
      .map((c) => colOrNull(rc, c))
      .join(', ');
    for (const r of db.prepare(`SELECT ROWID AS rid, ${cols} FROM recents ORDER BY ROWID`).iterate() as Iterable<Record<string, unknown>>) {
      const rid = num(r.rid)!;
      const ref = { fileRowId: src.fileRowId, table: 'recents', rowid: rid };
      const found = addresses.get(String(rid)) ?? [];
      if (!found.length) ctx.warn(`recents row ${rid} has no contacts row (no address)`, { ...ref, severity: 'info' });
      const address =
        found
          .map((a) => a.address)
          .filter((a): a is string => !!a)
          .join(', ') || null;
      const stored = text(r.display_name) ?? found.find((a) => a.name)?.name ?? null;
      const resolved = found.length === 1 ? ctx.contacts.nameFor(found[0].address) : null;
      const name = resolved ?? stored;
      const app = text(r.bundle_identifier) ?? text(r.original_source);
      const via = app ? (APPS[app] ?? app) : null;
      const kind = found[0]?.kind ?? null;
      const extra = {
        addresses: found.map((a) => ({ kind: a.kind, address: a.address, display_name: a.name, contacts_rowid: a.rowid })),
        display_name: stored,
        bundle_identifier: text(r.bundle_identifier),
        original_source: text(r.original_source),
        sending_address: text(r.sending_address),
        count: num(r.count),
        weight: num(r.weight),
        group_kind: num(r.group_kind),
        last_date_raw: r.last_date == null ? null : String(r.last_date),
        metadata_keys: metaKeys.get(String(rid)) ?? [],
      };
      const who = name ? `${name}${address && address !== name ? ` (${address})` : ''}` : (address ?? '(no address)');
      const base = {
        kind: 'recent',
        counterpart: address,
        counterpartName: name,
        service: via,
        sourceFileId: src.fileRowId,
        sourceTable: 'recents',
        sourceRowid: rid,
      };
      const rawDates = text(r.dates);
      const parts = rawDates
        ? rawDates
            .split(/[:,]/)
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
      const uses = parts.map((p) => (/^-?\d+(\.\d+)?$/.test(p) ? Number(p) : NaN));
      if (parts.length && uses.every((n) => Number.isFinite(n))) {
        uses.forEach((ms, i) => {
          const ts = plausible(ctx, fromMs(ms), ms, `dates[${i}]`, ref, 'unix-ms');
          ctx.emit({
            ...base,
            ts,
            action: 'used',
            title: `Recent ${kind ?? 'contact'} ${who}${via ? ` via ${via}` : ''} (use ${i + 1} of ${uses.length})`,
            extra: { ...extra, use_index: i },
          });
        });
      } else {
        if (parts.length) ctx.warn(`recents row ${rid}: dates "${rawDates}" is not a list of millisecond times; the event uses last_date`, ref);
        const ms = num(r.last_date);
        const ts = ms === null ? null : plausible(ctx, fromMs(ms), r.last_date, 'last_date', ref, 'unix-ms');
        ctx.emit({ ...base, ts, action: 'last-used', title: `Recent ${kind ?? 'contact'} ${who}${via ? ` via ${via}` : ''} (last used)`, extra });
      }
    }
  },
};
