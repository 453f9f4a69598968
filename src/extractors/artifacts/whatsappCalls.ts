// WhatsApp call log: CallHistory.sqlite in the WhatsApp app group (Core Data). One row of ZWACDCALLEVENT is one call:
// ZDATE (s since 2001), ZDURATION (s), ZOUTCOME, ZCALLIDSTRING, ZGROUPJIDSTRING, ZGROUPCALLCREATORUSERJIDSTRING,
// ZBYTESSENT/ZBYTESRECEIVED; Z1CALLEVENTS points to its ZWAAGGREGATECALLEVENT row (ZINCOMING, ZMISSED, ZVIDEO,
// ZFIRSTDATE), and the people on the call are ZWACDCALLEVENTPARTICIPANT rows (ZJIDSTRING, ZOUTCOME) whose
// Z1PARTICIPANTS names the same aggregate row (Core Data numbers entities alphabetically: 1 = WAAggregateCallEvent).
// Sources: iLEAPP whatsApp.py (`get_whatsappCallHistory`: the join, ZOUTCOME 0 ended, 1 missed, 4 rejected, the
// creator rule for direction); WhatsApp-Chat-Exporter ios_handler (`process_call_record`: ZINCOMING, ZVIDEO, ZOUTCOME
// 2 failed, bytes). docs/artifacts.md lists them.
//
// Newer WhatsApp versions name people by an opaque `<n>@lid` instead of the phone-number JID; ContactsV2.sqlite
// (ZWAADDRESSBOOKCONTACT: ZWHATSAPPID, ZLID, ZFULLNAME, ZPHONENUMBER) maps them back, and names them where the
// address book does not. Every call is one 'call' event (the descriptor of calls.ts, so the calls view shows it) with
// service 'WhatsApp'; a call with a group JID or more than one participant names every participant. ChatStorage's
// missed-call notices (whatsapp.ts) may describe the same call: both are kept, each with its own source.
import { formatDuration } from '../../formats/duration.js';
import { macSeconds, MAX_PLAUSIBLE_US } from '../../formats/appleTime.js';
import { quoteIdent } from '../../sqlite.js';
import { columnsOf, colOrNull, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import type { Direction } from '../../timeline/caseFile.js';
import { timeOf } from '../common/time.js';
import { calls } from './calls.js';
import { jidToHandle, WHATSAPP_DOMAIN } from './whatsapp.js';

const ID = 'whatsapp-calls';
const CALL_DB = 'CallHistory.sqlite';
const CONTACTS_DB = 'ContactsV2.sqlite';
const SERVICE = 'WhatsApp';

/** ZOUTCOME (iLEAPP: 0 ended, 1 missed, 4 rejected; WhatsApp-Chat-Exporter: 2 failed). */
export const WA_CALL_OUTCOMES: Record<number, string> = { 0: 'ended', 1: 'missed', 2: 'failed', 4: 'rejected' };

const int = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const oneLine = (s: string): string => s.replace(/[\r\n\t\u0085\u2028\u2029]+/g, ' ');

interface WaPerson {
  jid: string | null;
  /** +number for a phone-number JID (also one reached through ZLID), else the JID as stored. */
  handle: string | null;
  name: string | null;
  name_source: string | null;
  outcome?: number | null;
}

/** ContactsV2.sqlite: JID → name/number, and @lid → phone-number JID. */
interface WaBook {
  byJid: Map<string, { name: string | null; phone: string | null }>;
  lidToJid: Map<string, string>;
}

async function readBook(ctx: ExtractorContext): Promise<WaBook> {
  const book: WaBook = { byJid: new Map(), lidToJid: new Map() };
  const src = await ctx.openDatabase(WHATSAPP_DOMAIN, CONTACTS_DB);
  if (!src) return book;
  try {
    if (!hasTable(src.db, 'ZWAADDRESSBOOKCONTACT')) {
      ctx.warn(`${CONTACTS_DB} has no ZWAADDRESSBOOKCONTACT table: call participants are named through the address book only`, { fileRowId: src.fileRowId });
      return book;
    }
    const c = columnsOf(src.db, 'ZWAADDRESSBOOKCONTACT');
    const q = `SELECT ${['ZWHATSAPPID', 'ZLID', 'ZFULLNAME', 'ZPHONENUMBER'].map((x) => colOrNull(c, x)).join(', ')} FROM ZWAADDRESSBOOKCONTACT`;
    for (const r of src.db.prepare(q).iterate() as Iterable<Record<string, unknown>>) {
      const jid = sqlText(r.ZWHATSAPPID);
      const lid = sqlText(r.ZLID);
      const entry = { name: sqlText(r.ZFULLNAME), phone: sqlText(r.ZPHONENUMBER) };
      if (jid) book.byJid.set(jid, entry);
      if (lid) {
        const full = lid.includes('@') ? lid : `${lid}@lid`;
        if (jid) book.lidToJid.set(full, jid);
        else book.byJid.set(full, entry);
      }
    }
  } catch (e) {
    // A broken contacts side file costs names, not calls.
    ctx.warn(`${CONTACTS_DB} could not be read (${(e as Error).message}): call participants are named through the address book only`, { fileRowId: src.fileRowId });
  }
  return book;
}

/** The first column of `table` whose name matches `re` (Core Data numbers relationship columns per model). */
function columnLike(cols: Set<string>, re: RegExp): string | null {
  return [...cols].find((c) => re.test(c)) ?? null;
}

async function run(ctx: ExtractorContext): Promise<void> {
  const src = await ctx.openDatabase(WHATSAPP_DOMAIN, CALL_DB);
  if (!src) return;
  const { db } = src;
  if (!hasTable(db, 'ZWACDCALLEVENT')) throw new ArtifactError(`${CALL_DB} has no ZWACDCALLEVENT table (unknown schema)`);
  const book = await readBook(ctx);
  const warnRow = (message: string, table: string, rowid: number, severity: 'info' | 'warning' = 'warning') =>
    ctx.warn(message, { fileRowId: src.fileRowId, table, rowid, severity });

  // One lookup per JID: a call log names the same few people thousands of times.
  const people = new Map<string, WaPerson>();
  const person = (jid: string | null): WaPerson => {
    const key = jid ?? '';
    let p = people.get(key);
    if (!p) people.set(key, (p = lookup(jid)));
    return p;
  };
  const lookup = (jid: string | null): WaPerson => {
    const viaLid = jid ? book.lidToJid.get(jid) : undefined;
    const real = viaLid ?? jid;
    const handle = jidToHandle(real);
    let name = handle?.startsWith('+') ? ctx.contacts.nameFor(handle) : null;
    let source: string | null = name ? 'contacts' : null;
    const wa = (real && book.byJid.get(real)) || (jid && book.byJid.get(jid)) || null;
    if (!name && wa?.name?.trim()) {
      name = oneLine(wa.name.trim());
      source = 'ContactsV2.ZFULLNAME';
    }
    return { jid, handle, name, name_source: source };
  };
  const label = (p: WaPerson) => (p.name ? `${p.name} (${p.handle ?? 'unknown'})` : (p.handle ?? 'unknown'));

  // Aggregate rows by Z_PK.
  const aggregates = new Map<number, Record<string, unknown>>();
  const hasAggregates = hasTable(db, 'ZWAAGGREGATECALLEVENT');
  if (!hasAggregates)
    ctx.warn(`${CALL_DB} has no ZWAAGGREGATECALLEVENT table: direction comes from the group-call creator where it can, video/voice is unknown`, {
      fileRowId: src.fileRowId,
      severity: 'info',
    });
  else {
    const ac = columnsOf(db, 'ZWAAGGREGATECALLEVENT');
    // Raw rows (arrays): a call log can hold 100k rows, and an object per row costs more than the row.
    const q = `SELECT Z_PK, ${['ZINCOMING', 'ZMISSED', 'ZVIDEO', 'ZFIRSTDATE'].map((x) => colOrNull(ac, x)).join(', ')} FROM ZWAAGGREGATECALLEVENT`;
    for (const [pk, ZINCOMING, ZMISSED, ZVIDEO, ZFIRSTDATE] of db.prepare(q).raw(true).safeIntegers(false).all() as unknown[][])
      aggregates.set(Number(pk), { ZINCOMING, ZMISSED, ZVIDEO, ZFIRSTDATE });
  }
  // Participants by aggregate Z_PK.
  const participants = new Map<number, WaPerson[]>();
  if (hasTable(db, 'ZWACDCALLEVENTPARTICIPANT')) {
    const pc = columnsOf(db, 'ZWACDCALLEVENTPARTICIPANT');
    const link = columnLike(pc, /^Z\d+PARTICIPANTS$/);
    if (!link || !pc.has('ZJIDSTRING')) {
      ctx.warn(`${CALL_DB}: ZWACDCALLEVENTPARTICIPANT has no Z<n>PARTICIPANTS/ZJIDSTRING column; calls are listed without participants`, { fileRowId: src.fileRowId });
    } else {
      const q = `SELECT Z_PK, ${quoteIdent(link)}, ZJIDSTRING, ${colOrNull(pc, 'ZOUTCOME')} FROM ZWACDCALLEVENTPARTICIPANT ORDER BY Z_PK`;
      for (const [pk, linkValue, jidValue, outcome] of db.prepare(q).raw(true).safeIntegers(false).all() as unknown[][]) {
        if (linkValue == null) {
          warnRow(`participant Z_PK ${String(pk)} (${sqlText(jidValue) ?? 'no JID'}) belongs to no call`, 'ZWACDCALLEVENTPARTICIPANT', Number(pk));
          continue;
        }
        const key = Number(linkValue);
        let list = participants.get(key);
        if (!list) participants.set(key, (list = []));
        const who = person(sqlText(jidValue));
        list.push({ jid: who.jid, handle: who.handle, name: who.name, name_source: who.name_source, outcome: int(outcome) });
      }
    }
  }

  const ec = columnsOf(db, 'ZWACDCALLEVENT');
  const aggLink = columnLike(ec, /^Z\d+CALLEVENTS$/);
  const cols = ['ZDATE', 'ZDURATION', 'ZOUTCOME', 'ZCALLIDSTRING', 'ZGROUPJIDSTRING', 'ZGROUPCALLCREATORUSERJIDSTRING', 'ZBYTESSENT', 'ZBYTESRECEIVED', 'ZVIDEO']
    .map((x) => colOrNull(ec, x))
    .join(', ');
  const q = `SELECT Z_PK AS pk, ${aggLink ? quoteIdent(aggLink) : 'NULL'} AS agg, ${cols} FROM ZWACDCALLEVENT ORDER BY Z_PK`;
  const total = Number(db.prepare('SELECT count(*) FROM ZWACDCALLEVENT').pluck().get());
  const usedAggregates = new Set<number>();
  const usedParticipants = new Set<number>();
  let done = 0;
  for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
    const pk = Number(r.pk);
    const where = { fileRowId: src.fileRowId, table: 'ZWACDCALLEVENT', rowid: pk };
    // A plausible REAL date needs no warning; anything else goes through the checked converter, which warns.
    const fast = typeof r.ZDATE === 'number' ? macSeconds(r.ZDATE) : null;
    const ts = fast && !fast.invalid ? fast : timeOf(ctx, r.ZDATE, 'mac-s', { ...where, column: 'ZDATE' });
    if (r.ZDATE == null) warnRow(`call Z_PK ${pk} has no ZDATE; kept without a time`, 'ZWACDCALLEVENT', pk);
    const aggPk = int(r.agg);
    const agg = aggPk === null ? undefined : aggregates.get(aggPk);
    if (aggPk !== null) usedAggregates.add(aggPk);
    if (aggPk !== null) usedParticipants.add(aggPk);
    const onCall = aggPk === null ? [] : (participants.get(aggPk) ?? []);
    const creator = sqlText(r.ZGROUPCALLCREATORUSERJIDSTRING);
    const groupJid = sqlText(r.ZGROUPJIDSTRING);

    // Direction: the aggregate's ZINCOMING; without it, iLEAPP's rule (the creator is a participant → incoming).
    let direction: Direction = null;
    let directionSource: string | null = null;
    if (agg && agg.ZINCOMING != null) {
      direction = Number(agg.ZINCOMING) === 1 ? 'incoming' : 'outgoing';
      directionSource = 'ZWAAGGREGATECALLEVENT.ZINCOMING';
    } else if (creator && onCall.length) {
      direction = onCall.some((p) => p.jid === creator) ? 'incoming' : 'outgoing';
      directionSource = 'creator among participants (iLEAPP rule)';
    }
    const unknown = direction ? '' : '; its direction is unknown';
    if (hasAggregates && !agg)
      warnRow(
        aggPk === null
          ? `call Z_PK ${pk} links to no aggregate call row${unknown}`
          : `call Z_PK ${pk} links to aggregate Z_PK ${aggPk}, which is not in ZWAAGGREGATECALLEVENT${unknown}`,
        'ZWACDCALLEVENT',
        pk,
      );
    else if (!direction) warnRow(`call Z_PK ${pk}: no aggregate row and no creator among the participants${unknown}`, 'ZWACDCALLEVENT', pk);

    const outcome = int(r.ZOUTCOME);
    const outcomeLabel = outcome === null ? null : (WA_CALL_OUTCOMES[outcome] ?? null);
    if (outcome !== null && outcomeLabel === null) warnRow(`call Z_PK ${pk}: ZOUTCOME ${outcome} is not a known outcome; kept as the raw value`, 'ZWACDCALLEVENT', pk, 'info');
    const missed = outcome === 1 || Number(agg?.ZMISSED ?? 0) === 1;
    const videoRaw = agg?.ZVIDEO ?? r.ZVIDEO;
    const video = videoRaw == null ? null : Number(videoRaw) === 1;
    const duration = r.ZDURATION == null ? null : Number(r.ZDURATION);

    const isGroup = groupJid !== null || onCall.length > 1;
    const others = onCall.length ? onCall : creator ? [person(creator)] : [];
    if (!others.length) warnRow(`call Z_PK ${pk} names no participant and no creator: the other side is unknown`, 'ZWACDCALLEVENT', pk);
    const who = others.length ? others.map(label).join(', ') : 'unknown';

    const action = direction === 'outgoing' ? 'placed' : outcome === 4 ? 'rejected' : missed ? 'missed' : direction === 'incoming' ? 'received' : 'logged';
    const what = `WhatsApp ${isGroup ? 'group ' : ''}${video === null ? '' : video ? 'video ' : 'voice '}call`;
    const verb =
      action === 'placed'
        ? `Outgoing ${what} to`
        : action === 'rejected'
          ? `Rejected ${what} from`
          : action === 'missed'
            ? `Missed ${what} from`
            : action === 'received'
              ? `Incoming ${what} from`
              : `${what[0].toUpperCase()}${what.slice(1)} (direction unknown) with`;
    const tail = direction === 'outgoing' && (outcome === 1 || outcome === 4) ? ' (not answered)' : outcome === 2 ? ' (failed)' : duration ? `, ${formatDuration(duration)}` : '';
    const endUs = ts?.utcUs != null && duration && Number.isFinite(duration) ? ts.utcUs + Math.round(duration * 1e6) : null;

    ctx.emit({
      ts,
      kind: 'call',
      action,
      title: `${verb} ${who}${tail}`,
      direction,
      counterpart: isGroup ? (groupJid ?? others.map((p) => p.handle ?? '').join(', ')) : (others[0]?.handle ?? null),
      counterpartName: isGroup ? (others.some((p) => p.name) ? others.map((p) => p.name ?? p.handle ?? 'unknown').join(', ') : null) : (others[0]?.name ?? null),
      service: SERVICE,
      durationS: duration,
      sourceFileId: src.fileRowId,
      sourceTable: 'ZWACDCALLEVENT',
      sourceRowid: pk,
      // Plain JSON values only: serialised here without the case file's bigint replacer (hot path).
      extraJson: JSON.stringify({
        call_id: sqlText(r.ZCALLIDSTRING),
        outcome,
        outcome_label: outcomeLabel,
        missed,
        video,
        group: isGroup,
        group_jid: groupJid,
        creator_jid: creator,
        participants: onCall,
        participant_count: onCall.length,
        direction_source: directionSource,
        aggregate_pk: aggPk,
        bytes_sent: int(r.ZBYTESSENT),
        bytes_received: int(r.ZBYTESRECEIVED),
        ended_utc_us: endUs !== null && endUs < MAX_PLAUSIBLE_US ? endUs : null,
      }),
    });
    if (++done % 5000 === 0) ctx.progress(done, total);
  }
  ctx.progress(done, total);
  // Aggregate rows no call row points to: evidence of a call whose detail row is gone; recorded, not dropped.
  for (const [aggPk, a] of aggregates) {
    if (usedAggregates.has(aggPk)) continue;
    usedParticipants.add(aggPk);
    const ts = timeOf(ctx, a.ZFIRSTDATE, 'mac-s', { fileRowId: src.fileRowId, table: 'ZWAAGGREGATECALLEVENT', rowid: aggPk, column: 'ZFIRSTDATE' });
    const onAgg = participants.get(aggPk) ?? [];
    const incoming = a.ZINCOMING == null ? null : Number(a.ZINCOMING) === 1;
    ctx.emit({
      ts,
      kind: 'call',
      action: incoming === false ? 'placed' : Number(a.ZMISSED ?? 0) === 1 ? 'missed' : incoming ? 'received' : 'logged',
      title: `WhatsApp call without a call row (aggregate Z_PK ${aggPk})${onAgg.length ? ` with ${onAgg.map(label).join(', ')}` : ''}`,
      direction: incoming === null ? null : incoming ? 'incoming' : 'outgoing',
      counterpart: onAgg.map((p) => p.handle ?? '').join(', ') || null,
      counterpartName: onAgg.some((p) => p.name) ? onAgg.map((p) => p.name ?? p.handle ?? 'unknown').join(', ') : null,
      service: SERVICE,
      sourceFileId: src.fileRowId,
      sourceTable: 'ZWAAGGREGATECALLEVENT',
      sourceRowid: aggPk,
      extra: { aggregate_only: true, missed: Number(a.ZMISSED ?? 0) === 1, video: a.ZVIDEO == null ? null : Number(a.ZVIDEO) === 1, participants: onAgg },
    });
    warnRow(`aggregate call Z_PK ${aggPk} has no ZWACDCALLEVENT row: kept as a call from ZFIRSTDATE without duration or outcome`, 'ZWAAGGREGATECALLEVENT', aggPk, 'info');
  }
  for (const [link, list] of participants)
    if (!usedParticipants.has(link))
      ctx.warn(`${list.length} participant row(s) (${list.map((p) => p.handle ?? 'no JID').join(', ')}) point to call ${link}, which no call row names`, {
        fileRowId: src.fileRowId,
        table: 'ZWACDCALLEVENTPARTICIPANT',
      });
}

export const whatsappCalls: Extractor = {
  id: ID,
  title: 'WhatsApp call log (CallHistory.sqlite: calls, outcome, duration, group participants)',
  sources: [
    { domain: WHATSAPP_DOMAIN, path: CALL_DB },
    { domain: WHATSAPP_DOMAIN, path: CONTACTS_DB },
  ],
  after: ['contacts'],
  // The Calls descriptor: WhatsApp calls appear in the calls view beside phone and FaceTime calls.
  kinds: calls.kinds,
  run,
};
