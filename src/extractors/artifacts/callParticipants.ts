// Group-call participants: HomeDomain Library/CallHistoryDB/CallHistory.storedata (Core Data, iOS 13+). A call's
// remote participants are the many-to-many join Z_<n>REMOTEPARTICIPANTHANDLES (Z_<n>REMOTEPARTICIPANTCALLS →
// ZCALLRECORD.Z_PK, Z_<m>REMOTEPARTICIPANTHANDLES → ZHANDLE.Z_PK); ZHANDLE.ZVALUE is the address (phone number or
// Apple ID, TEXT or a UTF-8 BLOB), ZNORMALIZEDVALUE its normalised form, ZTYPE the handle type, kept raw. Source of
// these meanings: the Core Data model itself (the iOS 14.3 schema in fixtures/artifacts/calls.ts) and Apple's
// CallHistory classes as public class dumps show them (CHRecentCall.remoteParticipantHandles, a set of CHHandle with
// value, normalizedValue and type); iLEAPP's callHistory.py reads only ZCALLRECORD. Core Data numbers the join table per
// model version (Z_4REMOTEPARTICIPANTHANDLES is seen too), so they are found by name pattern. Every call with more than one remote participant becomes ONE
// 'call' event, action 'group-call', at ZDATE, naming every participant; a 1:1 call is left to the calls module.
import type Database from 'better-sqlite3';
import { quoteIdent } from '../../sqlite.js';
import { columnsOf, hasTable, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { timeOf } from '../common/time.js';
import { calls, addressText } from './calls.js';

const ID = 'call-participants';
const DOMAIN = 'HomeDomain';
const FILES = ['Library/CallHistoryDB/CallHistory.storedata', 'Library/CallHistoryDB/CallHistoryTemp.storedata'];

/** The join table and its two columns (call side, handle side), found by suffix. */
function findJoin(db: Database.Database): { table: string; call: string; handle: string } | null {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const t of tables.filter((n) => /^Z_\d+REMOTEPARTICIPANTHANDLES$/.test(n))) {
    const cols = [...columnsOf(db, t)];
    const call = cols.find((c) => /^Z_\d+REMOTEPARTICIPANTCALLS$/.test(c));
    const handle = cols.find((c) => /^Z_\d+REMOTEPARTICIPANTHANDLES$/.test(c));
    if (call && handle) return { table: t, call, handle };
  }
  return null;
}

async function one(ctx: ExtractorContext, relativePath: string): Promise<void> {
  const src = await ctx.openDatabase(DOMAIN, relativePath);
  if (!src) return;
  const { db } = src;
  if (!hasTable(db, 'ZCALLRECORD')) throw new ArtifactError(`${relativePath} has no ZCALLRECORD table (unknown schema)`);
  const j = findJoin(db);
  if (!j || !hasTable(db, 'ZHANDLE')) return; // schema before group calls (iOS ≤ 12): nothing to add
  const hc = columnsOf(db, 'ZHANDLE');
  const cc = columnsOf(db, 'ZCALLRECORD');
  const value = hc.has('ZVALUE') ? 'h.ZVALUE' : 'NULL';
  const norm = hc.has('ZNORMALIZEDVALUE') ? 'h.ZNORMALIZEDVALUE' : 'NULL';
  const htype = hc.has('ZTYPE') ? 'h.ZTYPE' : 'NULL';
  const col = (x: string) => (cc.has(x) ? `c.${x}` : 'NULL');
  const q = `SELECT c.Z_PK AS pk, ${col('ZDATE')} AS date, ${col('ZDURATION')} AS duration, ${col('ZORIGINATED')} AS originated,
      ${col('ZCALLTYPE')} AS calltype, ${col('ZSERVICE_PROVIDER')} AS provider, ${col('ZUNIQUE_ID')} AS unique_id,
      h.Z_PK AS hpk, ${value} AS value, ${norm} AS norm, ${htype} AS htype
    FROM ${quoteIdent(j.table)} p JOIN ZCALLRECORD c ON c.Z_PK = p.${quoteIdent(j.call)} JOIN ZHANDLE h ON h.Z_PK = p.${quoteIdent(j.handle)}
    WHERE c.Z_PK IN (SELECT ${quoteIdent(j.call)} FROM ${quoteIdent(j.table)} GROUP BY 1 HAVING count(*) > 1)
    ORDER BY c.Z_PK, h.Z_PK`;
  const groups = new Map<
    number,
    { r: Record<string, unknown>; people: { handle_pk: number; address: string | null; normalized: string | null; type: number | null; name: string | null }[] }
  >();
  for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Record<string, unknown>>) {
    const pk = Number(r.pk);
    let g = groups.get(pk);
    if (!g) groups.set(pk, (g = { r, people: [] }));
    const address = addressText(r.value) ?? addressText(r.norm);
    const normalized = addressText(r.norm);
    g.people.push({
      handle_pk: Number(r.hpk),
      address,
      normalized,
      type: r.htype == null ? null : Number(r.htype),
      name: ctx.contacts.nameFor(normalized ?? address) ?? ctx.contacts.nameFor(address),
    });
  }
  for (const [pk, { r, people }] of groups) {
    const ts = timeOf(ctx, r.date, 'mac-s', { fileRowId: src.fileRowId, table: 'ZCALLRECORD', rowid: pk, column: 'ZDATE' });
    const outgoing = Number(r.originated ?? 0) === 1;
    const who = people.map((p) => (p.name ? `${p.name} (${p.address ?? 'unknown'})` : (p.address ?? 'unknown'))).join(', ');
    const duration = r.duration == null ? null : Number(r.duration);
    ctx.emit({
      ts,
      kind: 'call',
      action: 'group-call',
      title: `Group call with ${people.length} participants: ${who}`,
      direction: outgoing ? 'outgoing' : 'incoming',
      counterpart: people.map((p) => p.address ?? '').join(', '),
      counterpartName: people.some((p) => p.name) ? people.map((p) => p.name ?? p.address ?? 'unknown').join(', ') : null,
      service: r.provider == null ? null : String(r.provider),
      durationS: duration,
      sourceFileId: src.fileRowId,
      sourceTable: 'ZCALLRECORD',
      sourceRowid: pk,
      extra: {
        participants: people,
        participant_count: people.length,
        join_table: j.table,
        call_type: r.calltype == null ? null : Number(r.calltype),
        unique_id: r.unique_id ?? null,
      },
    });
  }
}

export const callParticipants: Extractor = {
  id: ID,
  title: 'Group-call participants (CallHistory remote participant handles)',
  sources: FILES.map((path) => ({ domain: DOMAIN, path })),
  after: ['contacts', 'calls'],
  encryptedOnly: true,
  kinds: calls.kinds,
  async run(ctx) {
    for (const f of FILES) await one(ctx, f);
  },
};
