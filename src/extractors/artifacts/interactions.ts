// CoreDuet interactions: HomeDomain Library/CoreDuet/People/interactionC.db (Core Data). ZINTERACTIONS rows record who
// was contacted through which app and when (ZSTARTDATE/ZENDDATE, seconds since 2001; ZBUNDLEID; ZDIRECTION 0 incoming,
// 1 outgoing); ZSENDER → ZCONTACTS is the sender, the recipients come through the Z_<n>INTERACTIONRECIPIENT join and
// attachments through Z_<n>INTERACTIONS → ZATTACHMENT (mvt interactionc.py, after APOLLO; iLEAPP interactionCcontacts.py).
// Core Data numbers the join tables and their columns per model version, so they are found by name pattern.
// Every ZINTERACTIONS row is one event at ZSTARTDATE.
import type Database from 'better-sqlite3';
import { isoFromUs } from '../../formats/appleTime.js';
import { formatDuration } from '../../formats/duration.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor } from '../types.js';
import { quoteIdent } from '../../sqlite.js';
import { timeOf } from '../common/time.js';
import { jidToHandle } from './whatsapp.js';

const ID = 'interactions';
const DOMAIN = 'HomeDomain';
const DB = 'Library/CoreDuet/People/interactionC.db';

/** Readable names for the apps that most often appear (the bundle id is always kept). */
const APPS: Record<string, string> = {
  'com.apple.MobileSMS': 'Messages',
  'com.apple.mobilephone': 'Phone',
  'com.apple.InCallService': 'Phone',
  'com.apple.facetime': 'FaceTime',
  'com.apple.mobilemail': 'Mail',
  'net.whatsapp.WhatsApp': 'WhatsApp',
  'ph.telegra.Telegraph': 'Telegram',
  'org.whispersystems.signal': 'Signal',
  'com.facebook.Messenger': 'Messenger',
  'com.burbn.instagram': 'Instagram',
  'com.apple.UIKit.activity.Message': 'Messages (share sheet)',
};

/** A Core Data many-to-many join table: the table and its two columns, found by suffix. */
function findJoin(db: Database.Database, tableRe: RegExp, aSuffix: string, bSuffix: string): { table: string; a: string; b: string } | null {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const t of tables.filter((n) => tableRe.test(n))) {
    const cols = [...columnsOf(db, t)];
    const a = cols.find((c) => c.endsWith(aSuffix));
    const b = cols.find((c) => c.endsWith(bSuffix) && c !== a);
    if (a && b) return { table: t, a, b };
  }
  return null;
}

interface Contact {
  name: string | null;
  identifier: string | null;
  personId: string | null;
}

export const interactions: Extractor = {
  id: ID,
  title: 'Interactions (CoreDuet interactionC.db: who was contacted, through which app, when)',
  sources: [{ domain: DOMAIN, path: DB }],
  after: ['contacts'],
  kinds: [
    {
      kind: 'interaction',
      label: 'Interactions',
      color: '#0891b2',
      view: 'table',
      dataType: 'ios:coreduet:interaction',
      actions: { incoming: 'Interaction Incoming', outgoing: 'Interaction Outgoing', interaction: 'Interaction' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase(DOMAIN, DB);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'ZINTERACTIONS')) throw new ArtifactError(`${DB} has no ZINTERACTIONS table (unknown schema)`);
    const contacts = new Map<number, Contact>();
    if (hasTable(db, 'ZCONTACTS')) {
      const cc = columnsOf(db, 'ZCONTACTS');
      const cols = ['ZDISPLAYNAME', 'ZIDENTIFIER', 'ZPERSONID'].map((c) => colOrNull(cc, c)).join(', ');
      for (const r of db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ZCONTACTS`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
        contacts.set(Number(r.pk), { name: sqlText(r.ZDISPLAYNAME), identifier: sqlText(r.ZIDENTIFIER), personId: sqlText(r.ZPERSONID) });
      }
    }
    const recipients = new Map<number, number[]>();
    const rj = findJoin(db, /^Z_\d+INTERACTIONRECIPIENT$/, 'RECIPIENTS', 'INTERACTIONRECIPIENT');
    if (rj) {
      for (const [c, i] of db
        .prepare(`SELECT ${quoteIdent(rj.a)}, ${quoteIdent(rj.b)} FROM ${quoteIdent(rj.table)} ORDER BY 2, 1`)
        .raw(true)
        .safeIntegers(false)
        .iterate() as Iterable<[number, number]>) {
        const list = recipients.get(Number(i)) ?? [];
        list.push(Number(c));
        recipients.set(Number(i), list);
      }
    }
    const attachments = new Map<number, Record<string, unknown>[]>();
    const aj = hasTable(db, 'ZATTACHMENT') ? findJoin(db, /^Z_\d+INTERACTIONS$/, 'ATTACHMENTS', 'INTERACTIONS') : null;
    if (aj) {
      const ac = columnsOf(db, 'ZATTACHMENT');
      const cols = ['ZCONTENTTEXT', 'ZUTI', 'ZCONTENTURL', 'ZSIZEINBYTES', 'ZPHOTOLOCALIDENTIFIER', 'ZCLOUDIDENTIFIER'].map((c) => colOrNull(ac, c, c, 'a.')).join(', ');
      const q = `SELECT j.${quoteIdent(aj.b)} AS interaction, a.Z_PK AS pk, ${cols} FROM ${quoteIdent(aj.table)} j JOIN ZATTACHMENT a ON a.Z_PK = j.${quoteIdent(aj.a)} ORDER BY a.Z_PK`;
      for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
        const list = attachments.get(Number(r.interaction)) ?? [];
        list.push(r);
        attachments.set(Number(r.interaction), list);
      }
    }
    const ic = columnsOf(db, 'ZINTERACTIONS');
    const cols = [
      'ZSENDER',
      'ZSTARTDATE',
      'ZENDDATE',
      'ZCREATIONDATE',
      'ZBUNDLEID',
      'ZACCOUNT',
      'ZTARGETBUNDLEID',
      'ZDIRECTION',
      'ZRECIPIENTCOUNT',
      'ZDOMAINIDENTIFIER',
      'ZISRESPONSE',
      'ZCONTENTURL',
      'ZLOCATIONUUID',
      'ZGROUPNAME',
      'ZDERIVEDINTENTIDENTIFIER',
      'ZMECHANISM',
      'ZUUID',
    ]
      .map((c) => colOrNull(ic, c))
      .join(', ');
    const person = (c: Contact | undefined) => {
      if (!c) return null;
      const handle = c.identifier ? jidToHandle(c.identifier) : null;
      const name = (handle ? ctx.contacts.nameFor(handle) : null) ?? c.name;
      return { handle, name, identifier: c.identifier, person_id: c.personId, display_name: c.name };
    };
    for (const r of db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ZINTERACTIONS ORDER BY Z_PK`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const pk = Number(r.pk);
      const where = { fileRowId: src.fileRowId, table: 'ZINTERACTIONS', rowid: pk };
      const start = timeOf(ctx, r.ZSTARTDATE, 'mac-s', { ...where, column: 'ZSTARTDATE' });
      const end = timeOf(ctx, r.ZENDDATE, 'mac-s', { ...where, column: 'ZENDDATE' });
      const created = timeOf(ctx, r.ZCREATIONDATE, 'mac-s', { ...where, column: 'ZCREATIONDATE' });
      const dirRaw = r.ZDIRECTION == null ? null : Number(r.ZDIRECTION);
      const direction = dirRaw === 0 ? 'incoming' : dirRaw === 1 ? 'outgoing' : null;
      const sender = person(r.ZSENDER == null ? undefined : contacts.get(Number(r.ZSENDER)));
      const recips = (recipients.get(pk) ?? []).map((id) => person(contacts.get(id))).filter((p): p is NonNullable<typeof p> => !!p);
      const other = direction === 'outgoing' ? (recips[0] ?? null) : (sender ?? recips[0] ?? null);
      const bundle = sqlText(r.ZBUNDLEID);
      const app = bundle ? (APPS[bundle] ?? bundle) : 'unknown app';
      const durationS = start?.utcUs != null && end?.utcUs != null && end.utcUs > start.utcUs ? (end.utcUs - start.utcUs) / 1e6 : null;
      const whoList = (direction === 'outgoing' ? recips : sender ? [sender] : recips).map((p) =>
        p.name ? `${p.name} (${p.handle ?? p.identifier})` : (p.handle ?? p.identifier ?? '?'),
      );
      const who = whoList.length ? whoList.join(', ') : (sqlText(r.ZDOMAINIDENTIFIER) ?? 'unknown');
      const title = `${direction === 'outgoing' ? 'Outgoing' : direction === 'incoming' ? 'Incoming' : 'Interaction'} ${app} interaction ${direction === 'outgoing' ? 'to' : direction === 'incoming' ? 'from' : 'with'} ${who}${durationS ? `, ${formatDuration(durationS)}` : ''}`;
      const atts = (attachments.get(pk) ?? []).map((a) => ({
        pk: a.pk,
        uti: sqlText(a.ZUTI),
        content_text: sqlText(a.ZCONTENTTEXT),
        content_url: sqlText(a.ZCONTENTURL),
        size: a.ZSIZEINBYTES ?? null,
        photo_local_identifier: sqlText(a.ZPHOTOLOCALIDENTIFIER),
        cloud_identifier: sqlText(a.ZCLOUDIDENTIFIER),
      }));
      ctx.emit({
        ts: start,
        kind: 'interaction',
        action: direction ?? 'interaction',
        title: title.replace(/[\r\n\t]+/g, ' '),
        direction,
        counterpart: other?.handle ?? other?.identifier ?? null,
        counterpartName: other?.name ?? null,
        service: app,
        durationS,
        sourceFileId: src.fileRowId,
        sourceTable: 'ZINTERACTIONS',
        sourceRowid: pk,
        extra: {
          bundle_id: bundle,
          target_bundle_id: sqlText(r.ZTARGETBUNDLEID),
          account: sqlText(r.ZACCOUNT),
          direction_raw: dirRaw,
          sender,
          recipients: recips,
          recipient_count: r.ZRECIPIENTCOUNT ?? null,
          domain_identifier: sqlText(r.ZDOMAINIDENTIFIER),
          is_response: r.ZISRESPONSE ?? null,
          mechanism: r.ZMECHANISM ?? null,
          group_name: sqlText(r.ZGROUPNAME),
          content_url: sqlText(r.ZCONTENTURL),
          location_uuid: sqlText(r.ZLOCATIONUUID),
          derived_intent_identifier: sqlText(r.ZDERIVEDINTENTIDENTIFIER),
          uuid: sqlText(r.ZUUID),
          end_utc: isoFromUs(end?.utcUs),
          created_utc: isoFromUs(created?.utcUs),
          attachments: atts.length ? atts : undefined,
        },
      });
    }
  },
};
