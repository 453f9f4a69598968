// Calls: CallHistory.storedata (Core Data, ZCALLRECORD; iOS 8+) and the legacy call_history.db (`call`).
import { formatDuration } from '../../formats/duration.js';
import { macSeconds, unixSeconds, MAX_PLAUSIBLE_US } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';

const CALL_TYPES: Record<number, { service: string; label: string }> = {
  0: { service: 'Third-party app', label: 'app call' },
  1: { service: 'Phone', label: 'phone call' },
  8: { service: 'FaceTime Video', label: 'FaceTime video call' },
  16: { service: 'FaceTime Audio', label: 'FaceTime audio call' },
};

/** ZADDRESS is TEXT on some versions and a BLOB holding UTF-8 on others. */
export function addressText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8').replace(/\0+$/, '');
  return String(v);
}

function callAction(outgoing: boolean, answered: boolean | null): string {
  if (outgoing) return 'placed';
  return answered === false ? 'missed' : 'received';
}

function describe(action: string, typeLabel: string, who: string, duration: number | null): string {
  const verb = action === 'placed' ? `Outgoing ${typeLabel} to` : action === 'missed' ? `Missed ${typeLabel} from` : `Incoming ${typeLabel} from`;
  return `${verb} ${who}${duration ? `, ${formatDuration(duration)}` : ''}`;
}

/** Returns whether the store was there. */
async function coreDataCalls(ctx: ExtractorContext, relativePath: string): Promise<boolean> {
  const src = await ctx.openDatabase('HomeDomain', relativePath);
  if (!src) return false;
  const { db } = src;
  if (!hasTable(db, 'ZCALLRECORD')) throw new ArtifactError(`${relativePath} has no ZCALLRECORD table (unknown schema)`);
  const c = columnsOf(db, 'ZCALLRECORD');
  const select = [
    'ZDATE',
    'ZDURATION',
    'ZADDRESS',
    'ZORIGINATED',
    'ZANSWERED',
    'ZCALLTYPE',
    'ZSERVICE_PROVIDER',
    'ZISO_COUNTRY_CODE',
    'ZLOCATION',
    'ZNAME',
    'ZDISCONNECTED_CAUSE',
    'ZFACE_TIME_DATA',
    'ZREAD',
    'ZUNIQUE_ID',
    'ZHANDLE_TYPE',
  ]
    .map((col) => colOrNull(c, col))
    .join(', ');
  const total = Number((db.prepare('SELECT count(*) AS n FROM ZCALLRECORD').get() as { n: bigint }).n);
  let done = 0;
  for (const r of db.prepare(`SELECT Z_PK AS pk, ${select} FROM ZCALLRECORD ORDER BY Z_PK`).iterate() as Iterable<Record<string, unknown>>) {
    const address = addressText(r.ZADDRESS);
    const type = r.ZCALLTYPE == null ? null : Number(r.ZCALLTYPE);
    const t = type !== null ? CALL_TYPES[type] : undefined;
    const outgoing = Number(r.ZORIGINATED ?? 0) === 1;
    const answered = r.ZANSWERED == null ? null : Number(r.ZANSWERED) === 1;
    const duration = r.ZDURATION == null ? null : Number(r.ZDURATION);
    const name = ctx.contacts.nameFor(address) ?? (typeof r.ZNAME === 'string' && r.ZNAME ? r.ZNAME : null);
    const action = callAction(outgoing, answered);
    const who = name ? `${name} (${address ?? 'unknown number'})` : (address ?? 'unknown number');
    const ts = macSeconds(r.ZDATE);
    if (!ts) ctx.warn(`call Z_PK ${r.pk} has no usable ZDATE (${String(r.ZDATE)})`, { fileRowId: src.fileRowId, table: 'ZCALLRECORD', rowid: r.pk as bigint });
    else if (ts.invalid)
      ctx.warn(`ZCALLRECORD Z_PK ${r.pk}: ZDATE ${ts.invalid}; the call is kept without a time (raw value in ts_raw)`, {
        fileRowId: src.fileRowId,
        table: 'ZCALLRECORD',
        rowid: r.pk as bigint,
      });
    const endUs = ts?.utcUs != null && duration && Number.isFinite(duration) ? ts.utcUs + Math.round(duration * 1e6) : null;
    const provider = r.ZSERVICE_PROVIDER == null ? null : String(r.ZSERVICE_PROVIDER);
    ctx.emit({
      ts,
      kind: 'call',
      action,
      title: describe(action, t?.label ?? `call (type ${type ?? 'unknown'})`, who, duration),
      direction: outgoing ? 'outgoing' : 'incoming',
      counterpart: address,
      counterpartName: name,
      service: t?.service ?? provider ?? (type !== null ? `type ${type}` : null),
      durationS: duration,
      sourceFileId: src.fileRowId,
      sourceTable: 'ZCALLRECORD',
      sourceRowid: r.pk as bigint,
      extra: {
        call_type: type,
        answered,
        service_provider: provider,
        iso_country_code: r.ZISO_COUNTRY_CODE == null ? null : String(r.ZISO_COUNTRY_CODE).toUpperCase(),
        number_location: r.ZLOCATION ?? null,
        disconnected_cause: r.ZDISCONNECTED_CAUSE == null ? null : Number(r.ZDISCONNECTED_CAUSE),
        face_time_data_bytes: r.ZFACE_TIME_DATA == null ? null : Number(r.ZFACE_TIME_DATA),
        read: r.ZREAD == null ? null : Number(r.ZREAD),
        unique_id: r.ZUNIQUE_ID ?? null,
        ended_utc_us: endUs !== null && endUs < MAX_PLAUSIBLE_US ? endUs : null,
      },
    });
    if (++done % 5000 === 0) ctx.progress(done, total);
  }
  ctx.progress(done, total);
  return true;
}

/** Where iOS ≤ 7 kept call_history.db: WirelessDomain in backups (fileID 2b2b0084…); the others are seen in extractions. */
const LEGACY_PATHS: [string, string][] = [
  ['WirelessDomain', 'Library/CallHistory/call_history.db'],
  ['HomeDomain', 'Library/CallHistory/call_history.db'],
  ['HomeDomain', 'Library/CallHistoryDB/call_history.db'],
];

/**
 * iOS ≤ 7: `call` table, Unix seconds, flags bit 1 = outgoing, 4 = phone, 16 = FaceTime. The `answered` column
 * (iOS 7 on) says whether an incoming call was taken; without it, missed = incoming with zero duration.
 */
async function legacyCalls(ctx: ExtractorContext, alsoCoreData: boolean): Promise<void> {
  for (const [domain, p] of LEGACY_PATHS) {
    const src = await ctx.openDatabase(domain, p);
    if (!src) continue;
    if (!hasTable(src.db, 'call')) throw new ArtifactError(`${p} has no call table`);
    const c = columnsOf(src.db, 'call');
    const hasAnswered = c.has('answered');
    const q = `SELECT ROWID AS rowid, ${['address', 'date', 'duration', 'flags', 'read', 'country_code', 'face_time_data', 'answered'].map((x) => colOrNull(c, x)).join(', ')} FROM call`;
    const notes = [
      hasAnswered ? null : 'legacy call_history.db: missed = incoming with zero duration (no answered flag in this schema)',
      // After the iOS 8 update the old database can stay behind beside CallHistory.storedata, which took its calls over.
      alsoCoreData ? 'CallHistory.storedata is also present: this legacy database may repeat calls it holds' : null,
    ].filter(Boolean);
    for (const r of src.db.prepare(q).iterate() as Iterable<Record<string, unknown>>) {
      const flags = Number(r.flags ?? 0);
      const outgoing = (flags & 1) === 1;
      const facetime = (flags & 16) === 16;
      const address = addressText(r.address);
      const name = ctx.contacts.nameFor(address);
      const duration = r.duration == null ? null : Number(r.duration);
      const answered = hasAnswered && r.answered != null ? Number(r.answered) === 1 : null;
      const action = outgoing ? 'placed' : (answered ?? duration !== 0) ? 'received' : 'missed';
      const ts = unixSeconds(r.date);
      if (ts?.invalid)
        ctx.warn(`call ROWID ${r.rowid}: date ${ts.invalid}; the call is kept without a time (raw value in ts_raw)`, {
          fileRowId: src.fileRowId,
          table: 'call',
          rowid: r.rowid as bigint,
        });
      ctx.emit({
        ts,
        kind: 'call',
        action,
        title: describe(action, facetime ? 'FaceTime call' : 'phone call', name ? `${name} (${address})` : (address ?? 'unknown number'), duration),
        direction: outgoing ? 'outgoing' : 'incoming',
        counterpart: address,
        counterpartName: name,
        service: facetime ? 'FaceTime' : 'Phone',
        durationS: duration,
        sourceFileId: src.fileRowId,
        sourceTable: 'call',
        sourceRowid: r.rowid as bigint,
        extra: { flags, answered, country_code: r.country_code ?? null, ...(notes.length ? { note: notes.join('; ') } : {}) },
      });
    }
  }
}

export const calls: Extractor = {
  id: 'calls',
  title: 'Calls (phone, FaceTime, third-party apps)',
  after: ['contacts'],
  encryptedOnly: true, // Apple: call history is kept only in encrypted backups (docs/artifacts.md, HT203790)
  kinds: [
    {
      kind: 'call',
      label: 'Calls',
      color: '#2e9461',
      view: 'calls',
      dataType: 'ios:calls:call',
      actions: {
        placed: 'Call Started',
        received: 'Call Started',
        missed: 'Call Missed',
        rejected: 'Call Rejected', // WhatsApp ZOUTCOME 4 (whatsappCalls.ts)
        logged: 'Call Logged', // a WhatsApp call whose direction is not stored
        deleted: 'Call Deleted',
        'earlier-version': 'Earlier Call Version Recovered',
        'records-missing': 'Calls Missing',
      },
    },
  ],
  sources: [
    { domain: 'HomeDomain', path: 'Library/CallHistoryDB/CallHistory.storedata' },
    { domain: 'HomeDomain', path: 'Library/CallHistoryDB/CallHistoryTemp.storedata' },
    ...LEGACY_PATHS.map(([domain, path]) => ({ domain, path })),
  ],
  async run(ctx) {
    const a = await coreDataCalls(ctx, 'Library/CallHistoryDB/CallHistory.storedata');
    const b = await coreDataCalls(ctx, 'Library/CallHistoryDB/CallHistoryTemp.storedata');
    await legacyCalls(ctx, a || b);
  },
};
