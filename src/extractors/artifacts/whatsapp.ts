// WhatsApp: ChatStorage.sqlite in the app group container (Core Data: ZWACHATSESSION, ZWAMESSAGE,
// ZWAGROUPMEMBER, ZWAMEDIAITEM; docs/artifacts.md "Set B" names the public sources of every column meaning).
//
// Every ZWAMESSAGE row is one event: kind 'message' (service 'WhatsApp', in its chat's thread, so the
// conversation view shows it like Messages) or, for the missed-call notices WhatsApp stores as system
// messages (type 10, group event 1/4/22) and the call records of newer versions (type 59: direction, and from
// ZMETADATA 87 → 1 video, outcome and duration; ZSTANZAID is the call id of CallHistory.sqlite), kind 'call'. Chats become threads, group members participants,
// media items attachments (the file under Message/<ZMEDIALOCALPATH> hashed; status 'missing' when the backup
// lacks it), shared locations (type 5) carry ZLATITUDE/ZLONGITUDE. JIDs `<number>@s.whatsapp.net` are put to
// names through the address book (E.164); WhatsApp's own names (ZPARTNERNAME, ZCONTACTNAME, push names) are
// the fallback. Schema variants (no ZTITLE before ~2019, no ZWAPROFILEPUSHNAME, mvt's reduced tables) are
// decided by the columns present.
//
// Speed: ordinary text rows (a known chat and sender, a plausible date, no media) are written by SQLite itself, one
// INSERT … SELECT per page from the working copy attached to the case file (bulkWriter); every other row goes through
// the row-by-row code. Both write the same events (test: "the bulk path and the row-by-row path write the same events").
import { MESSAGE_EVENT_COLUMNS } from '../../timeline/caseFile.js';
import type Database from 'better-sqlite3';
import protobuf from 'protobufjs';
import { formatDuration } from '../../formats/duration.js';
import { isoFromUs, macSeconds, MAC_EPOCH_OFFSET_S, MAX_PLAUSIBLE_US, MIN_PLAUSIBLE_US } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { messages } from './messages.js';
import { calls } from './calls.js';
import { timeOf } from '../common/time.js';
import { linkMedia, safeRelative } from '../common/linkedMedia.js';
import { imageMimeOf } from '../thumbnail.js';
import { mimeFromName } from '../messages/vocab.js';
import { addThumbnail } from '../../timeline/thumbnails.js';
import type { Direction } from '../../timeline/caseFile.js';

const ID = 'whatsapp';
export const WHATSAPP_DOMAIN = 'AppDomainGroup-group.net.whatsapp.WhatsApp.shared';
const CHAT_DB = 'ChatStorage.sqlite';
const SERVICE = 'WhatsApp';
/** Schema name of the working copy of ChatStorage.sqlite attached to the case file for the bulk path. */
const WA_SRC = 'wa_src';

/** Switches for tests and the bench: the row-by-row path is the fallback when the working copy cannot be attached. */
export const whatsappTuning = { sqlBulk: true, pageRows: 5000 };
/** How the last runs' message rows were written. */
export const whatsappStats = { bulkRows: 0, rowByRowRows: 0 };

/** ZMESSAGETYPE (IPED ExtractorIOS.decodeMessageType; iLEAPP whatsappMessages: 5 = location). */
export const WA_MESSAGE_TYPES: Record<number, string> = {
  0: 'text',
  1: 'image',
  2: 'video',
  3: 'audio',
  4: 'contact',
  5: 'location',
  6: 'group event',
  7: 'link',
  8: 'document',
  10: 'system',
  11: 'GIF',
  12: 'system',
  14: 'deleted',
  15: 'sticker',
  59: 'call',
};
/** ZGROUPEVENTTYPE of a type-10 row that is a missed call (IPED: 1 voice, 4 video, 22 group video). */
const MISSED_CALL_EVENTS: Record<number, string> = { 1: 'WhatsApp voice call', 4: 'WhatsApp video call', 22: 'WhatsApp group video call' };
/** ZGROUPEVENTTYPE of a type-6 row (IPED). */
const GROUP_EVENTS: Record<number, string> = {
  2: 'joined the group',
  3: 'left the group',
  4: 'changed the group icon',
  5: 'deleted the group icon',
  7: 'removed a member',
  10: 'made you an admin',
  12: 'created the group',
  50: 'added members',
};

/** `14155550100@s.whatsapp.net` → `+14155550100`; other JIDs (groups, @lid, broadcast) stay as they are. */
export function jidToHandle(jid: string | null): string | null {
  if (!jid) return null;
  const m = /^(\d{5,16})(?::\d+)?@(s\.whatsapp\.net|c\.us)$/.exec(jid.trim());
  return m ? `+${m[1]}` : jid;
}

/**
 * ZWAMEDIAITEM.ZMETADATA, a protobuf: field 17 = how many times the message was forwarded, field 21 = the JID it was
 * forwarded from (iLEAPP whatsappMessages.py). Other fields are skipped; a malformed blob throws.
 */
export function readWaMetadata(buf: Buffer): { forwardCount: number | null; forwardedFrom: string | null } {
  const r = protobuf.Reader.create(buf);
  let forwardCount: number | null = null,
    forwardedFrom: string | null = null;
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3,
      wire = tag & 7;
    if (field === 0) throw new Error(`invalid field number 0 at byte ${r.pos}`);
    if (field === 17 && wire === 0) forwardCount = r.uint32();
    else if (field === 21 && wire === 2) forwardedFrom = Buffer.from(r.bytes()).toString('utf8');
    else r.skipType(wire);
  }
  return { forwardCount, forwardedFrom };
}

/** A call record in a chat (ZMESSAGETYPE 59): ZWAMEDIAITEM.ZMETADATA field 87 → 1 → {1 video, 2 outcome, 3 duration s,
 *  5 participants → 1 JID} (public WhatsApp call readers; outcome coded as CallHistory.sqlite ZOUTCOME). */
export interface WaCallInfo {
  video: boolean | null;
  outcome: number | null;
  duration: number | null;
  participants: string[];
}

/** Field 87 → 1 of a ZMETADATA protobuf, or null when the blob has none; a malformed blob throws. */
export function readWaCallInfo(buf: Buffer): WaCallInfo | null {
  const nested = (b: Uint8Array, want: number): Uint8Array | null => {
    const r = protobuf.Reader.create(b);
    let found: Uint8Array | null = null;
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 === 0) throw new Error(`invalid field number 0 at byte ${r.pos}`);
      if (tag >>> 3 === want && (tag & 7) === 2) found = r.bytes();
      else r.skipType(tag & 7);
    }
    return found;
  };
  const outer = nested(buf, 87);
  const body = outer ? nested(outer, 1) : null;
  if (!body) return null;
  const info: WaCallInfo = { video: null, outcome: null, duration: null, participants: [] };
  const r = protobuf.Reader.create(body);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3,
      wire = tag & 7;
    if (field === 0) throw new Error(`invalid field number 0 at byte ${r.pos}`);
    if (field === 1 && wire === 0) info.video = r.uint32() === 1;
    else if (field === 2 && wire === 0) info.outcome = r.uint32();
    else if (field === 3 && wire === 0) info.duration = r.uint32();
    else if (field === 5 && wire === 2) {
      const jid = nested(r.bytes(), 1);
      if (jid) info.participants.push(Buffer.from(jid).toString('utf8'));
    } else r.skipType(wire);
  }
  return info;
}

const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');
const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

interface Person {
  handle: string | null;
  jid: string | null;
  name: string | null;
  nameSource: string | null;
}
interface Session {
  pk: number;
  threadId: number;
  jid: string | null;
  isGroup: boolean;
  label: string;
  partner: Person;
  members: Map<number, Person>;
  side?: Side;
}
interface Side {
  other: Person;
  who: string;
  counterpart: string | null;
  nameSource: string | null;
}

export const whatsapp: Extractor = {
  id: ID,
  title: 'WhatsApp (messages, chats, media, shared locations, missed calls)',
  sources: [{ domain: WHATSAPP_DOMAIN, path: CHAT_DB }],
  reads: [{ domain: WHATSAPP_DOMAIN, path: 'Message/**' }],
  after: ['contacts'],
  // The same descriptor objects as Messages and Calls: WhatsApp rows appear in the conversation and call views.
  kinds: [...messages.kinds, ...calls.kinds],
  async run(ctx) {
    const src = await ctx.openDatabase(WHATSAPP_DOMAIN, CHAT_DB);
    if (!src) return;
    await new WhatsAppReader(ctx, src).run();
  },
};

class WhatsAppReader {
  private readonly db: Database.Database;
  private readonly sessions = new Map<number, Session>();
  private readonly pushNames = new Map<string, string>();
  private readonly orphanThreads = new Map<string, number>();

  constructor(
    private readonly ctx: ExtractorContext,
    private readonly src: OpenedDatabase,
  ) {
    this.db = src.db;
  }

  private warn(message: string, table: string | null, rowid: number | null, severity: 'info' | 'warning' = 'warning'): void {
    this.ctx.warn(message, { fileRowId: this.src.fileRowId, table, rowid, severity });
  }

  /** A person behind a JID: address-book name (E.164) first, then WhatsApp's own names. */
  private person(jid: string | null, ...fallbacks: [string | null, string][]): Person {
    const handle = jidToHandle(jid);
    let name = handle?.startsWith('+') ? this.ctx.contacts.nameFor(handle) : null;
    let nameSource: string | null = name ? 'contacts' : null;
    if (!name) {
      for (const [n, source] of [...fallbacks, [jid ? (this.pushNames.get(jid) ?? null) : null, 'push name'] as [string | null, string]]) {
        if (n?.trim()) {
          name = oneLine(n.trim());
          nameSource = source;
          break;
        }
      }
    }
    return { handle, jid, name, nameSource };
  }

  async run(): Promise<void> {
    const { db } = this;
    if (!hasTable(db, 'ZWAMESSAGE')) throw new ArtifactError(`${CHAT_DB} has no ZWAMESSAGE table (unknown schema)`);
    if (hasTable(db, 'ZWAPROFILEPUSHNAME')) {
      const pc = columnsOf(db, 'ZWAPROFILEPUSHNAME');
      if (pc.has('ZJID') && pc.has('ZPUSHNAME')) {
        for (const r of db.prepare('SELECT ZJID, ZPUSHNAME FROM ZWAPROFILEPUSHNAME').raw(true).iterate() as Iterable<[unknown, unknown]>) {
          const j = sqlText(r[0]),
            n = sqlText(r[1]);
          if (j && n) this.pushNames.set(j, n);
        }
      }
    }
    this.loadSessions();
    const media = this.loadMedia();
    await this.readMessages(media);
    // Media rows no message links to (the message was deleted): still evidence, recorded without an event.
    const left = [...media.byMessage.values()].flat().filter((m) => !m.used);
    if (left.length) this.warn(`${left.length} ZWAMEDIAITEM row(s) belong to no message in ZWAMESSAGE: recorded as attachments without an event`, 'ZWAMEDIAITEM', null, 'info');
    for (const m of left) await this.attach(m.row, null, null);
  }

  private loadSessions(): void {
    const { db, ctx } = this;
    if (!hasTable(db, 'ZWACHATSESSION')) {
      this.warn(`${CHAT_DB} has no ZWACHATSESSION table: messages are grouped by sender only`, null, null);
      return;
    }
    const members = new Map<number, Map<number, Person>>();
    if (hasTable(db, 'ZWAGROUPMEMBER')) {
      const gc = columnsOf(db, 'ZWAGROUPMEMBER');
      const cols = ['ZCHATSESSION', 'ZMEMBERJID', 'ZCONTACTNAME', 'ZFIRSTNAME', 'ZISACTIVE', 'ZISADMIN'].map((c) => colOrNull(gc, c)).join(', ');
      for (const r of db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ZWAGROUPMEMBER ORDER BY Z_PK`).iterate() as Iterable<Record<string, unknown>>) {
        const chat = int(r.ZCHATSESSION) ?? 0;
        const p = this.person(sqlText(r.ZMEMBERJID), [sqlText(r.ZCONTACTNAME), 'ZWAGROUPMEMBER.ZCONTACTNAME'], [sqlText(r.ZFIRSTNAME), 'ZWAGROUPMEMBER.ZFIRSTNAME']);
        const map = members.get(chat) ?? new Map<number, Person>();
        map.set(Number(r.pk), p);
        members.set(chat, map);
      }
    }
    const sc = columnsOf(db, 'ZWACHATSESSION');
    const cols = ['ZCONTACTJID', 'ZPARTNERNAME', 'ZSESSIONTYPE', 'ZARCHIVED', 'ZREMOVED', 'ZHIDDEN', 'ZMESSAGECOUNTER', 'ZLASTMESSAGEDATE', 'ZGROUPINFO', 'ZUNREADCOUNT']
      .map((c) => colOrNull(sc, c))
      .join(', ');
    for (const r of db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ZWACHATSESSION ORDER BY Z_PK`).iterate() as Iterable<Record<string, unknown>>) {
      const pk = Number(r.pk);
      const jid = sqlText(r.ZCONTACTJID);
      const partnerName = sqlText(r.ZPARTNERNAME);
      const isGroup = (jid?.endsWith('@g.us') ?? false) || int(r.ZSESSIONTYPE) === 1;
      const partner = isGroup
        ? { handle: jid, jid, name: partnerName ? oneLine(partnerName) : null, nameSource: 'ZPARTNERNAME' }
        : this.person(jid, [partnerName, 'ZWACHATSESSION.ZPARTNERNAME']);
      const list = members.get(pk) ?? new Map<number, Person>();
      const last = timeOf(ctx, r.ZLASTMESSAGEDATE, 'mac-s', { fileRowId: this.src.fileRowId, table: 'ZWACHATSESSION', rowid: pk, column: 'ZLASTMESSAGEDATE' });
      const threadId = ctx.caseFile.addThread({
        extractor: ID,
        sourceFileId: this.src.fileRowId,
        sourceTable: 'ZWACHATSESSION',
        sourceRowid: pk,
        identifier: jid,
        displayName: partner.name,
        service: SERVICE,
        isGroup,
        extra: {
          session_type: int(r.ZSESSIONTYPE),
          archived: int(r.ZARCHIVED),
          removed: int(r.ZREMOVED),
          hidden: int(r.ZHIDDEN),
          message_counter: int(r.ZMESSAGECOUNTER),
          unread: int(r.ZUNREADCOUNT),
          last_message: isoFromUs(last?.utcUs),
          members: list.size,
          partner_name: partnerName,
        },
      });
      if (isGroup) for (const m of list.values()) ctx.caseFile.addParticipant(threadId, m.handle ?? m.jid ?? '(no JID)', m.name);
      else if (partner.handle) ctx.caseFile.addParticipant(threadId, partner.handle, partner.name);
      const label = isGroup ? `group “${partner.name ?? jid ?? `chat ${pk}`}”` : partner.name ? `${partner.name} (${partner.handle})` : (partner.handle ?? `chat ${pk}`);
      this.sessions.set(pk, { pk, threadId, jid, isGroup, label: oneLine(label), partner, members: list });
    }
  }

  /** ZWAMEDIAITEM rows by the message they belong to (ZMESSAGE; older rows only linked from ZWAMESSAGE.ZMEDIAITEM). */
  private loadMedia(): { byMessage: Map<number, { row: Record<string, unknown>; used: boolean }[]>; byPk: Map<number, { row: Record<string, unknown>; used: boolean }> } {
    const byMessage = new Map<number, { row: Record<string, unknown>; used: boolean }[]>();
    const byPk = new Map<number, { row: Record<string, unknown>; used: boolean }>();
    if (!hasTable(this.db, 'ZWAMEDIAITEM')) return { byMessage, byPk };
    const mc = columnsOf(this.db, 'ZWAMEDIAITEM');
    const cols = [
      'ZMESSAGE',
      'ZMEDIALOCALPATH',
      'ZFILESIZE',
      'ZLATITUDE',
      'ZLONGITUDE',
      'ZHACCURACY',
      'ZTITLE',
      'ZVCARDSTRING',
      'ZVCARDNAME',
      'ZMEDIAURL',
      'ZMOVIEDURATION',
      'ZAUTHORNAME',
      'ZTHUMBNAILLOCALPATH',
      'ZXMPPTHUMBPATH',
      'ZMETADATA',
    ]
      .map((c) => colOrNull(mc, c))
      .join(', ');
    for (const row of this.db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ZWAMEDIAITEM ORDER BY Z_PK`).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
      const item = { row, used: false };
      byPk.set(Number(row.pk), item);
      const msg = int(row.ZMESSAGE) ?? -1;
      const list = byMessage.get(msg) ?? [];
      list.push(item);
      byMessage.set(msg, list);
    }
    return { byMessage, byPk };
  }

  private orphanThread(key: string, who: Person): number {
    let id = this.orphanThreads.get(key);
    if (id === undefined) {
      id = this.ctx.caseFile.addThread({
        extractor: ID,
        sourceFileId: this.src.fileRowId,
        sourceTable: 'ZWAMESSAGE',
        sourceRowid: null,
        identifier: who.jid ?? key,
        displayName: who.name,
        service: SERVICE,
        isGroup: false,
        extra: { synthetic: true, reason: 'the message names no chat session that exists' },
      });
      if (who.handle) this.ctx.caseFile.addParticipant(id, who.handle, who.name);
      this.orphanThreads.set(key, id);
    }
    return id;
  }

  private async readMessages(media: ReturnType<WhatsAppReader['loadMedia']>): Promise<void> {
    const { db, ctx } = this;
    const c = columnsOf(db, 'ZWAMESSAGE');
    const names = [
      'ZCHATSESSION',
      'ZISFROMME',
      'ZMESSAGEDATE',
      'ZSENTDATE',
      'ZFROMJID',
      'ZTOJID',
      'ZTEXT',
      'ZMESSAGETYPE',
      'ZGROUPEVENTTYPE',
      'ZGROUPMEMBER',
      'ZMEDIAITEM',
      'ZMESSAGESTATUS',
      'ZSTARRED',
      'ZPUSHNAME',
      'ZSTANZAID',
      'ZFLAGS',
      'ZPARENTMESSAGE',
    ] as const;
    const cols = names.map((x) => colOrNull(c, x)).join(', ');
    const total = Number(db.prepare('SELECT count(*) FROM ZWAMESSAGE').pluck().safeIntegers(false).get());
    const fileRowId = this.src.fileRowId;
    let done = 0;
    // Raw rows (arrays): 100k+ messages are common, and an object per row costs more than the insert. Plain numbers:
    // WhatsApp stores no 64-bit values that lose precision as doubles (dates are REAL seconds).
    const stmt = db.prepare(`SELECT Z_PK, ${cols} FROM ZWAMESSAGE ORDER BY Z_PK`).raw(true).safeIntegers(false);
    // Who is on the other side of a chat is the same for most of its rows: computed once per chat/direction/member.
    const sideCache = new Map<string, Side>();
    const side = (key: string, make: () => Person) => {
      let v = sideCache.get(key);
      if (!v) {
        const other = make();
        v = {
          other,
          who: oneLine(other.name ? `${other.name} (${other.handle ?? other.jid})` : (other.handle ?? other.jid ?? 'unknown')),
          counterpart: other.handle ?? other.jid,
          nameSource: other.nameSource && other.nameSource !== 'contacts' ? other.nameSource : null,
        };
        sideCache.set(key, v);
      }
      return v;
    };
    const handle = async (row: unknown[]): Promise<void> => {
      const pk = Number(row[0]);
      const chatRaw = row[1],
        fromMe = Number(row[2] ?? 0) === 1,
        dateRaw = row[3],
        sentRaw = row[4];
      const fromJid = sqlText(row[5]),
        toJid = sqlText(row[6]),
        body = sqlText(row[7]);
      const type = int(row[8]),
        gEvent = int(row[9]),
        memberPk = int(row[10]),
        mediaPk = int(row[11]);
      const push = sqlText(row[14]);
      const session = this.sessions.get(int(chatRaw) ?? -1);
      // Who is on the other side: the group member who wrote an incoming group message, else the chat partner.
      let s: Side;
      if (session?.isGroup) {
        const member = session.members.get(memberPk ?? -1);
        if (fromMe) s = side(`${session.pk}:me`, () => session.partner);
        else if (member) s = side(`${session.pk}:m${memberPk}`, () => member);
        else {
          const p = this.person(fromJid && !fromJid.endsWith('@g.us') ? fromJid : null, [push, 'ZWAMESSAGE.ZPUSHNAME']);
          s = side(`${session.pk}:j${p.jid ?? ''}:${p.name ?? ''}`, () => (p.jid ? p : { ...session.partner }));
        }
      } else if (session) s = session.side ??= side(`${session.pk}`, () => session.partner);
      else {
        const p = this.person(fromMe ? toJid : fromJid, [push, 'ZWAMESSAGE.ZPUSHNAME']);
        s = side(`orphan:${p.jid ?? ''}:${p.name ?? ''}`, () => p);
      }
      const other = s.other,
        who = s.who;
      let threadId: number;
      if (session) threadId = session.threadId;
      else {
        if (chatRaw != null) this.warn(`ZWAMESSAGE Z_PK ${pk} names chat session ${String(chatRaw)}, which ZWACHATSESSION does not hold`, 'ZWAMESSAGE', pk);
        threadId = this.orphanThread(other.jid ?? 'unknown', other);
      }
      // A plausible REAL/INTEGER date needs no warning; anything else goes through the checked converter, which warns.
      const fast = typeof dateRaw === 'number' ? macSeconds(dateRaw) : null;
      const ts = fast && !fast.invalid ? fast : timeOf(ctx, dateRaw, 'mac-s', { fileRowId, table: 'ZWAMESSAGE', rowid: pk, column: 'ZMESSAGEDATE' });
      if (!ts) this.warn(`ZWAMESSAGE Z_PK ${pk} has no ZMESSAGEDATE`, 'ZWAMESSAGE', pk);
      const sent = sentRaw == null || sentRaw === dateRaw ? null : timeOf(ctx, sentRaw, 'mac-s', { fileRowId, table: 'ZWAMESSAGE', rowid: pk, column: 'ZSENTDATE' });
      const typeName = type === null ? 'unknown' : (WA_MESSAGE_TYPES[type] ?? `type ${type}`);
      const direction: Direction = fromMe ? 'outgoing' : 'incoming';
      const where = session?.isGroup ? ` in ${session.label}` : '';

      // The message's media row(s).
      let items = media.byMessage.get(pk);
      const viaPk = mediaPk !== null ? media.byPk.get(mediaPk) : undefined;
      if (viaPk && !(items ?? []).includes(viaPk)) items = [...(items ?? []), viaPk];
      let latitude: number | null = null,
        longitude: number | null = null,
        accuracy: number | null = null;
      if (type === 5 || items) {
        const loc = items?.find((m) => m.row.ZLATITUDE != null && m.row.ZLONGITUDE != null && !(Number(m.row.ZLATITUDE) === 0 && Number(m.row.ZLONGITUDE) === 0));
        const la = loc ? Number(loc.row.ZLATITUDE) : NaN,
          lo = loc ? Number(loc.row.ZLONGITUDE) : NaN;
        if (Number.isFinite(la) && Number.isFinite(lo) && Math.abs(la) <= 90 && Math.abs(lo) <= 180) {
          latitude = la;
          longitude = lo;
          const acc = loc ? Number(loc.row.ZHACCURACY) : NaN;
          if (Number.isFinite(acc) && acc > 0) accuracy = acc;
        } else if (type === 5)
          this.warn(
            `ZWAMESSAGE Z_PK ${pk}: a location message without usable coordinates (${loc ? `${String(loc.row.ZLATITUDE)}, ${String(loc.row.ZLONGITUDE)}` : 'no media row'})`,
            'ZWAMESSAGE',
            pk,
          );
      }

      let forward: ReturnType<typeof readWaMetadata> | null = null;
      const metaItem = items?.find((m) => Buffer.isBuffer(m.row.ZMETADATA) && (m.row.ZMETADATA as Buffer).length);
      if (metaItem) {
        try {
          forward = readWaMetadata(metaItem.row.ZMETADATA as Buffer);
        } catch (e) {
          this.warn(
            `ZWAMEDIAITEM Z_PK ${String(metaItem.row.pk)} (message Z_PK ${pk}): ZMETADATA could not be decoded (${(e as Error).message}); the message is kept without it`,
            'ZWAMEDIAITEM',
            Number(metaItem.row.pk),
          );
        }
      }
      let call: WaCallInfo | null = null;
      if (type === 59 && metaItem) {
        try {
          call = readWaCallInfo(metaItem.row.ZMETADATA as Buffer);
        } catch (e) {
          this.warn(`ZWAMESSAGE Z_PK ${pk}: the call record in ZMETADATA could not be decoded (${(e as Error).message}); kept as a call without details`, 'ZWAMESSAGE', pk);
        }
      }
      // extra_json written directly: every value is a string, a number or null.
      let extraJson = `{"message_type":${type},"type_name":${JSON.stringify(typeName)},"from_jid":${JSON.stringify(fromJid)},"to_jid":${JSON.stringify(toJid)},"chat_session":${JSON.stringify(int(chatRaw))}`;
      if (s.nameSource) extraJson += `,"name_source":${JSON.stringify(s.nameSource)}`;
      if (gEvent) extraJson += `,"group_event_type":${gEvent}`;
      if (row[12] != null) extraJson += `,"message_status":${JSON.stringify(int(row[12]))}`;
      if (int(row[13])) extraJson += ',"starred":true';
      if (push) extraJson += `,"push_name":${JSON.stringify(push)}`;
      if (row[15] != null) extraJson += `,"stanza_id":${JSON.stringify(sqlText(row[15]))}`;
      if (row[16] != null && (Number(row[16]) & 128) !== 0) extraJson += ',"forwarded":true'; // IPED: (1 << 7 & ZFLAGS)
      if (row[17] != null) extraJson += `,"parent_message":${JSON.stringify(int(row[17]))}`;
      if (sent?.utcUs != null && sent.utcUs !== ts?.utcUs) extraJson += `,"sent_utc":${JSON.stringify(isoFromUs(sent.utcUs))}`;
      if (forward?.forwardCount != null) extraJson += `,"forward_count":${forward.forwardCount}`;
      if (forward?.forwardedFrom)
        extraJson += `,"forwarded_from":${JSON.stringify(forward.forwardedFrom)},"forwarded_from_handle":${JSON.stringify(jidToHandle(forward.forwardedFrom))}`;
      if (call)
        extraJson += `,"call_video":${JSON.stringify(call.video)},"call_outcome":${JSON.stringify(call.outcome)},"call_duration":${JSON.stringify(call.duration)},"call_participants":${JSON.stringify(call.participants.map((j) => jidToHandle(j)))}`;
      if (latitude !== null) extraJson += `,"location_title":${JSON.stringify(items?.map((m) => sqlText(m.row.ZTITLE)).find(Boolean) ?? null)}`;
      extraJson += '}';

      let kind = 'message',
        action = fromMe ? 'sent' : 'received',
        title: string;
      const missedCall = type === 10 && gEvent !== null ? MISSED_CALL_EVENTS[gEvent] : undefined;
      if (missedCall) {
        kind = 'call';
        action = 'missed';
        title = `Missed ${missedCall} from ${who}${where}`;
      } else if (type === 59) {
        // A call record in the chat; ZSTANZAID is the call's id (CallHistory.sqlite ZCALLIDSTRING, whatsappCalls.ts).
        kind = 'call';
        const unanswered = call?.outcome === 1 || call?.outcome === 4;
        action = fromMe ? 'placed' : call?.outcome === 4 ? 'rejected' : unanswered ? 'missed' : 'received';
        const what = `WhatsApp ${call?.video == null ? '' : call.video ? 'video ' : 'voice '}call`;
        const verb = fromMe ? `Outgoing ${what} to` : action === 'rejected' ? `Rejected ${what} from` : action === 'missed' ? `Missed ${what} from` : `Incoming ${what} from`;
        title = `${verb} ${session?.isGroup && fromMe ? session.label : who}${where}${fromMe && unanswered ? ' (not answered)' : call?.duration ? `, ${formatDuration(call.duration)}` : ''} (chat record)`;
      } else if (type === 6) {
        action = 'group-event';
        title = `WhatsApp ${session?.label ?? 'group'}: ${fromMe ? 'you' : who} ${gEvent !== null ? (GROUP_EVENTS[gEvent] ?? `group event ${gEvent}`) : 'group event'}`;
      } else if (type === 10 || type === 12) {
        action = 'system';
        title = `WhatsApp system message (${gEvent !== null ? `event ${gEvent}` : 'no event type'}) in chat with ${session?.label ?? who}`;
      } else {
        const what = type === 0 ? 'message' : type === 5 ? 'location' : type === 14 ? 'message (deleted by the sender)' : typeName;
        title = fromMe ? `WhatsApp ${what} to ${session?.isGroup ? session.label : who}` : `WhatsApp ${what} from ${who}${where}`;
        if (latitude !== null) title += ` at ${latitude.toFixed(5)}, ${longitude!.toFixed(5)}`;
      }
      const eventId = ctx.emit({
        ts,
        kind,
        action,
        title,
        body,
        direction,
        counterpart: s.counterpart,
        counterpartName: other.name,
        threadId,
        service: SERVICE,
        durationS: call?.duration ?? null,
        latitude,
        longitude,
        accuracyM: accuracy,
        sourceFileId: fileRowId,
        sourceTable: 'ZWAMESSAGE',
        sourceRowid: pk,
        extraJson,
      });
      if (items)
        for (const m of items) {
          m.used = true;
          await this.attach(m.row, eventId, pk);
        }
    };

    const bulk = this.bulkWriter(c, media, side);
    if (!bulk) {
      for (const row of stmt.iterate() as Iterable<unknown[]>) {
        await handle(row);
        if (++done % 5000 === 0) ctx.progress(done, total);
      }
    } else {
      // Page by page: SQLite writes the ordinary rows of the page, JavaScript the others (read through the attached
      // copy with the same columns as above, so both paths see the same values).
      try {
        const rest = ctx.caseFile.db
          .prepare(`SELECT m.Z_PK, ${names.map((x) => (c.has(x) ? `m.${x}` : 'NULL')).join(', ')} FROM ${WA_SRC}.ZWAMESSAGE m
          WHERE m.Z_PK BETWEEN ? AND ? AND NOT (${bulk.condition}) ORDER BY m.Z_PK`)
          .raw(true)
          .safeIntegers(false);
        const bounds = db.prepare('SELECT min(Z_PK), max(Z_PK) FROM ZWAMESSAGE').raw(true).safeIntegers(false).get() as [number | null, number | null];
        const page = whatsappTuning.pageRows;
        for (let lo = Number(bounds[0] ?? 1); bounds[1] !== null && lo <= Number(bounds[1]); lo += page) {
          const hi = lo + page - 1;
          const written = bulk.insert.run(fileRowId, lo, hi).changes;
          ctx.countEvents(written);
          whatsappStats.bulkRows += written;
          done += written;
          for (const row of rest.all(lo, hi) as unknown[][]) {
            await handle(row);
            done++;
            whatsappStats.rowByRowRows++;
          }
          ctx.progress(done, total);
        }
      } finally {
        ctx.caseFile.detachSource(WA_SRC);
      }
    }
    ctx.progress(done, total);
  }

  /**
   * The INSERT … SELECT that writes ordinary rows (plain text, a plausible date, no media, a chat and sender already
   * worked out) straight from the attached working copy, and the SQL condition that picks them; null when the copy
   * cannot be attached (everything then goes row by row). The titles, counterparts and names come from the same
   * side() the row-by-row path uses, put in a TEMP table; the test "the bulk path and the row-by-row path write the
   * same events" holds the two paths together.
   */
  private bulkWriter(
    c: Set<string>,
    media: ReturnType<WhatsAppReader['loadMedia']>,
    side: (key: string, make: () => Person) => Side,
  ): { insert: Database.Statement; condition: string } | null {
    if (!whatsappTuning.sqlBulk) return null;
    for (const need of ['ZCHATSESSION', 'ZMESSAGEDATE', 'ZMESSAGETYPE']) if (!c.has(need)) return null;
    const cf = this.ctx.caseFile;
    try {
      cf.attachSource(this.src.path, WA_SRC);
    } catch (e) {
      this.warn(`messages are written one by one (the working copy could not be attached: ${(e as Error).message})`, null, null, 'info');
      return null;
    }
    try {
      const cdb = cf.db;
      cdb.exec(`CREATE TEMP TABLE IF NOT EXISTS wa_sides (s_session INTEGER NOT NULL, s_from_me INTEGER NOT NULL, s_member INTEGER NOT NULL, s_group INTEGER NOT NULL,
          s_thread INTEGER, s_counterpart TEXT, s_name TEXT, s_title TEXT, s_extra TEXT, PRIMARY KEY (s_session, s_from_me, s_member));
        CREATE TEMP TABLE IF NOT EXISTS wa_media (pk INTEGER PRIMARY KEY);
        DELETE FROM temp.wa_sides; DELETE FROM temp.wa_media;`);
      cdb.function('ios_timeline_wa_num_text', { deterministic: true }, (v: unknown) => (v === null ? null : String(v)));
      const addSide = cdb.prepare('INSERT OR IGNORE INTO temp.wa_sides VALUES (?,?,?,?,?,?,?,?,?)');
      const put = (session: Session, fromMe: boolean, member: number, sd: Side, title: string) =>
        addSide.run(
          session.pk,
          fromMe ? 1 : 0,
          member,
          session.isGroup ? 1 : 0,
          session.threadId,
          sd.counterpart,
          sd.other.name,
          title,
          sd.nameSource ? `,"name_source":${JSON.stringify(sd.nameSource)}` : '',
        );
      for (const session of this.sessions.values()) {
        if (session.isGroup) {
          put(
            session,
            true,
            -1,
            side(`${session.pk}:me`, () => session.partner),
            `WhatsApp message to ${session.label}`,
          );
          for (const [memberPk, member] of session.members) {
            const sd = side(`${session.pk}:m${memberPk}`, () => member);
            put(session, false, memberPk, sd, `WhatsApp message from ${sd.who} in ${session.label}`);
          }
        } else {
          const sd = (session.side ??= side(`${session.pk}`, () => session.partner));
          put(session, true, -1, sd, `WhatsApp message to ${sd.who}`);
          put(session, false, -1, sd, `WhatsApp message from ${sd.who}`);
        }
      }
      const addMedia = cdb.prepare('INSERT OR IGNORE INTO temp.wa_media VALUES (?)');
      for (const pk of media.byMessage.keys()) addMedia.run(pk);
      const m = (x: string) => (c.has(x) ? `m.${x}` : 'NULL');
      const usExpr = `CAST(round((m.ZMESSAGEDATE + ${MAC_EPOCH_OFFSET_S}) * 1000000) AS INTEGER)`;
      const fromMe = `(coalesce(${m('ZISFROMME')}, 0) = 1)`;
      const typed = (cols: string[], types: string) => cols.filter((x) => c.has(x)).map((x) => `typeof(m.${x}) IN (${types})`);
      const join = `s.s_session = m.ZCHATSESSION AND s.s_from_me = ${fromMe} AND s.s_member = CASE WHEN s.s_group = 1 AND NOT ${fromMe} THEN coalesce(${m('ZGROUPMEMBER')}, -2) ELSE -1 END`;
      const plain = [
        "typeof(m.ZMESSAGETYPE) = 'integer'",
        'm.ZMESSAGETYPE = 0',
        `coalesce(${m('ZGROUPEVENTTYPE')}, 0) = 0`,
        // The same plausibility test as formats/appleTime.ts (1970 ≤ UTC < 2101), on the same computed µs value.
        "typeof(m.ZMESSAGEDATE) IN ('integer', 'real')",
        'm.ZMESSAGEDATE != 0',
        `${usExpr} >= ${MIN_PLAUSIBLE_US}`,
        `${usExpr} < ${MAX_PLAUSIBLE_US}`,
        `${m('ZMEDIAITEM')} IS NULL`,
        'm.Z_PK NOT IN (SELECT pk FROM temp.wa_media)',
        `(${m('ZSENTDATE')} IS NULL OR ${m('ZSENTDATE')} = m.ZMESSAGEDATE)`,
        ...typed(['ZTEXT', 'ZFROMJID', 'ZTOJID', 'ZPUSHNAME', 'ZSTANZAID'], "'text', 'null'"),
        ...typed(['ZISFROMME', 'ZCHATSESSION', 'ZGROUPMEMBER', 'ZMESSAGESTATUS', 'ZSTARRED', 'ZFLAGS', 'ZPARENTMESSAGE'], "'integer', 'null'"),
      ].join(' AND ');
      const condition = `${plain} AND EXISTS (SELECT 1 FROM temp.wa_sides s WHERE ${join})`;
      // extra_json exactly as the row-by-row path writes it for these rows (keys in the same order).
      const extra = `'{"message_type":0,"type_name":"text","from_jid":' || json_quote(${m('ZFROMJID')}) || ',"to_jid":' || json_quote(${m('ZTOJID')})
        || ',"chat_session":' || m.ZCHATSESSION || s.s_extra
        || iif(${m('ZMESSAGESTATUS')} IS NOT NULL, ',"message_status":' || ${m('ZMESSAGESTATUS')}, '')
        || iif(coalesce(${m('ZSTARRED')}, 0) != 0, ',"starred":true', '')
        || iif(${m('ZPUSHNAME')} != '', ',"push_name":' || json_quote(${m('ZPUSHNAME')}), '')
        || iif(${m('ZSTANZAID')} IS NOT NULL, ',"stanza_id":' || json_quote(${m('ZSTANZAID')}), '')
        || iif(${m('ZFLAGS')} IS NOT NULL AND (${m('ZFLAGS')} & 128) != 0, ',"forwarded":true', '')
        || iif(${m('ZPARENTMESSAGE')} IS NOT NULL, ',"parent_message":' || ${m('ZPARENTMESSAGE')}, '') || '}'`;
      const insert = cf.prepareEventsFrom(
        MESSAGE_EVENT_COLUMNS,
        `SELECT ${usExpr}, ios_timeline_wa_num_text(m.ZMESSAGEDATE), 'mac-s', 'message',
          iif(${fromMe}, 'sent', 'received'), s.s_title, ${m('ZTEXT')}, iif(${fromMe}, 'outgoing', 'incoming'), s.s_counterpart, s.s_name, s.s_thread,
          '${SERVICE}', ?, 'ZWAMESSAGE', m.Z_PK, '${ID}', ${extra}
        FROM ${WA_SRC}.ZWAMESSAGE m JOIN temp.wa_sides s ON ${join}
        WHERE m.Z_PK BETWEEN ? AND ? AND ${plain} ORDER BY m.Z_PK`,
      );
      return { insert, condition };
    } catch (e) {
      cf.detachSource(WA_SRC);
      this.warn(`messages are written one by one (the bulk statement could not be prepared: ${(e as Error).message})`, null, null, 'info');
      return null;
    }
  }

  /** One ZWAMEDIAITEM row as an attachment; its file (Message/<ZMEDIALOCALPATH>) hashed and linked. */
  private async attach(row: Record<string, unknown>, eventId: number | null, messagePk: number | null): Promise<void> {
    const { ctx } = this;
    const pk = Number(row.pk);
    const local = sqlText(row.ZMEDIALOCALPATH);
    // ZMEDIALOCALPATH is relative to the container's Message/ folder ("Media/<jid>/a/b/<uuid>.jpg"); some rows carry the prefix.
    let rel: string | null = null;
    let reason: string | undefined;
    if (local) {
      const cleaned = local.replace(/^\/?(private\/)?var\/mobile\/Containers\/Shared\/AppGroup\/[^/]+\//, '');
      const safe = safeRelative(cleaned);
      if (!safe) {
        reason = `the path would leave the WhatsApp folder or is malformed (${JSON.stringify(local.slice(0, 200))}); not looked up`;
        this.warn(`ZWAMEDIAITEM Z_PK ${pk}: ${reason}`, 'ZWAMEDIAITEM', pk);
      } else rel = safe.startsWith('Message/') ? safe : `Message/${safe}`;
    }
    const mimeColumn = sqlText(row.ZVCARDSTRING);
    const mime = mimeColumn && /^[a-z]+\/[\w.+-]+$/i.test(mimeColumn) ? mimeColumn : mimeFromName(local);
    const linked = rel
      ? await linkMedia(ctx, ID, WHATSAPP_DOMAIN, rel, { imageMime: imageMimeOf(mime, local) })
      : { status: local ? 'refused-path' : 'no-path', fileRowId: null, sha256: null, size: null, thumbnail: null };
    if (linked.status === 'missing') this.warn(`ZWAMEDIAITEM Z_PK ${pk}: ${WHATSAPP_DOMAIN}/${rel} is not in this backup (recorded as missing)`, 'ZWAMEDIAITEM', pk, 'info');
    const fileSize = int(row.ZFILESIZE);
    const attachmentId = ctx.caseFile.addAttachment({
      eventId,
      extractor: ID,
      sourceFileId: this.src.fileRowId,
      sourceTable: 'ZWAMEDIAITEM',
      sourceRowid: pk,
      fileId: linked.fileRowId,
      path: local,
      transferName: local ? (local.split('/').pop() ?? null) : null,
      mimeType: mime,
      uti: null,
      totalBytes: fileSize,
      status: linked.status,
      sha256: linked.sha256,
      extra: {
        message_pk: messagePk,
        relative_path: rel,
        caption: sqlText(row.ZTITLE),
        url: sqlText(row.ZMEDIAURL),
        author: sqlText(row.ZAUTHORNAME),
        movie_duration_s: int(row.ZMOVIEDURATION),
        vcard_name: sqlText(row.ZVCARDNAME),
        reason: reason ?? null,
        size_on_disk: linked.size !== null && fileSize !== null && linked.size !== fileSize ? linked.size : undefined,
      },
    });
    if (linked.thumbnail) {
      try {
        addThumbnail(ctx.caseFile, { attachmentId, ...linked.thumbnail });
      } catch (e) {
        this.warn(`ZWAMEDIAITEM Z_PK ${pk}: thumbnail not stored (${(e as Error).message})`, 'ZWAMEDIAITEM', pk, 'info');
      }
    }
  }
}
