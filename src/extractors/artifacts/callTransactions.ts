// Deleted calls from HomeDomain Library/CallHistoryTransactions/transactions.log (and transaction.log, the other
// name seen; issue #16). The log holds CHTransactions (Insert, Update, Delete, BatchDeleteAll) of archived calls
// (src/formats/callTransactions.ts, docs/recovery.md "CallHistoryTransactions"). A call whose uniqueId the case's
// live calls (ZCALLRECORD.ZUNIQUE_ID, stored by the calls module as extra_json.unique_id) do not hold becomes one
// recovered call event: high confidence when the log has its Delete transaction, medium when only its absence from
// ZCALLRECORD says so (low, action 'logged', when no CallHistory.storedata was read to compare with). Calls that match a live one are counted, not
// emitted again. Runs after `calls`, so this device's live calls are in the case file.
import fs from 'node:fs';
import path from 'node:path';
import { formatDuration } from '../../formats/duration.js';
import { checkedTime } from '../common/time.js';
import { parseTransactionsLog, TRANSACTION_TYPES, type TransactionCall, type TransactionRecord } from '../../formats/callTransactions.js';
import type { Extractor, ExtractorContext } from '../types.js';
import { calls } from './calls.js';

const DOMAIN = 'HomeDomain';
/** transactions.log is the name iLEAPP reads; transaction.log is listed too in a real iOS 14.3 backup (mvt's). */
const FILES = ['Library/CallHistoryTransactions/transactions.log', 'Library/CallHistoryTransactions/transaction.log'];
/** A real log is a few hundred KB; this much is damage or a decoy, and is not read into memory. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const BUDGET = { maxRecords: 200_000, maxMs: 60_000 };
/** Where the live calls come from: without one of them read, absence proves nothing. */
const CALL_DATABASES = ['Library/CallHistoryDB/CallHistory.storedata', 'Library/CallHistoryDB/CallHistoryTemp.storedata'];

/**
 * CHRecentCall.callStatus. 1, 2, 4 and 16 from public sources (docs/recovery.md); 8 (missed) [derived]: the one
 * bit left between them, and the names Apple's code pairs with duration and origin (CHManager CHCallStatusForCall…).
 */
const STATUS: Record<number, { label: string; direction: 'incoming' | 'outgoing' }> = {
  1: { label: 'incoming, answered', direction: 'incoming' },
  2: { label: 'outgoing, connected', direction: 'outgoing' },
  4: { label: 'incoming, answered on another device', direction: 'incoming' },
  8: { label: 'missed', direction: 'incoming' },
  16: { label: 'outgoing, cancelled', direction: 'outgoing' },
};

const PROVIDERS: Record<string, string> = { 'com.apple.Telephony': 'Phone', 'com.apple.FaceTime': 'FaceTime' };

function liveUniqueIds(ctx: ExtractorContext): Set<string> {
  const ids = ctx.caseFile.db
    .prepare(`SELECT json_extract(extra_json, '$.unique_id') FROM events
      WHERE kind = 'call' AND recovered = 0 AND device_id IS ? AND json_extract(extra_json, '$.unique_id') IS NOT NULL`)
    .pluck()
    .all(ctx.caseFile.deviceId) as unknown[];
  return new Set(ids.map(String));
}

/** uniqueId → ids of call events the recovery stage carved out of CallHistory.storedata (extra_json.guid). */
function carvedCalls(ctx: ExtractorContext): Map<string, number[]> {
  const rows = ctx.caseFile.db
    .prepare(`SELECT id, json_extract(extra_json, '$.guid') AS u FROM events
      WHERE kind = 'call' AND recovered = 1 AND extractor = 'recovery' AND device_id IS ? AND json_extract(extra_json, '$.guid') IS NOT NULL ORDER BY id`)
    .all(ctx.caseFile.deviceId) as { id: number | bigint; u: unknown }[];
  const out = new Map<string, number[]>();
  for (const r of rows) out.set(String(r.u), [...(out.get(String(r.u)) ?? []), Number(r.id)]);
  return out;
}

/** A call database was read and the calls module did not fail on it (an unknown schema gives no live calls). */
function callDatabaseRead(ctx: ExtractorContext): boolean {
  const db = ctx.caseFile.db;
  const read = db
    .prepare(`SELECT 1 FROM files WHERE domain = ? AND relative_path IN (${CALL_DATABASES.map(() => '?').join(', ')}) AND status = 'ok' AND device_id IS ?`)
    .get(DOMAIN, ...CALL_DATABASES, ctx.caseFile.deviceId);
  const failed = db.prepare("SELECT 1 FROM extractor_runs WHERE extractor = 'calls' AND status = 'failed' AND device_id IS ?").get(ctx.caseFile.deviceId);
  return !!read && !failed;
}

function titleOf(c: TransactionCall, who: string, deleted: boolean, file: string): string {
  const s = c.callStatus !== null ? STATUS[c.callStatus] : undefined;
  const what = s ? (s.label === 'missed' ? 'missed call from' : s.direction === 'outgoing' ? 'outgoing call to' : 'incoming call from') : 'call with';
  const name = path.posix.basename(file);
  const head = deleted ? `Deleted ${what}` : `Call in ${name}, ${what}`;
  return `${head} ${who}${c.duration ? `, ${formatDuration(c.duration)}` : ''} (recovered from CallHistoryTransactions/${name})`;
}

/** A record with the file it came from. */
type Logged = TransactionRecord & { file: string; fileRowId: number };

export const callTransactions: Extractor = {
  id: 'call-transactions',
  title: 'Deleted calls (CallHistoryTransactions/transactions.log)',
  sources: FILES.map((p) => ({ domain: DOMAIN, path: p })),
  after: ['contacts', 'calls'],
  // Listed (0 bytes) in an unencrypted iOS 14.3 backup (docs/recovery.md): not kept out of unencrypted backups.
  encryptedOnly: false,
  kinds: calls.kinds,
  async run(ctx) {
    const all: Logged[] = [];
    let undecodable = 0;
    let read = 0;
    for (const file of FILES) {
      const where = `${DOMAIN}/${file}`;
      const src = await ctx.openFile(DOMAIN, file);
      if (!src) continue;
      const at = { fileRowId: src.fileRowId };
      if (src.size > MAX_FILE_BYTES) {
        ctx.warn(`${where} is ${src.size} bytes (more than ${MAX_FILE_BYTES}): not read`, { ...at, severity: 'error' });
        continue;
      }
      read++;
      const log = parseTransactionsLog(fs.readFileSync(src.path), BUDGET);
      for (const w of log.warnings) ctx.warn(`${where}: ${w.replace(/^transactions\.log: /, '')}`, at);
      undecodable += log.undecodable;
      for (const r of log.records) all.push({ ...r, file, fileRowId: src.fileRowId });
      if (src.size === 0) ctx.warn(`${where}: 0 bytes, no transactions`, { ...at, severity: 'info' });
    }
    if (!read) return;

    const live = liveUniqueIds(ctx);
    // A deleted call can also have been carved from the database's free space: both stay, each naming the other.
    const carved = carvedCalls(ctx);
    const compared = callDatabaseRead(ctx);
    if (!compared && all.length)
      ctx.warn(
        'CallHistoryTransactions: no CallHistory.storedata was read, so logged calls cannot be told deleted or live; without a Delete transaction they are listed as "logged", low confidence',
        {
          severity: 'info',
        },
      );

    // One call can be logged more than once (Insert, Update, Delete; in either file): grouped by uniqueId.
    const byId = new Map<string, Logged[]>();
    let noId = 0;
    let batchDeletes = 0;
    for (const r of all) {
      if (r.type === 3) batchDeletes++;
      if (!r.call) continue;
      if (!r.call.uniqueId) {
        noId++;
        ctx.warn(`${DOMAIN}/${r.file}: record ${r.index} (offset ${r.offset}) has no uniqueId; it cannot be compared with the call history and is skipped`, {
          fileRowId: r.fileRowId,
        });
        continue;
      }
      const list = byId.get(r.call.uniqueId) ?? [];
      list.push(r);
      byId.set(r.call.uniqueId, list);
    }
    if (batchDeletes)
      ctx.warn(`CallHistoryTransactions: ${batchDeletes} BatchDeleteAll transaction(s): the call history was cleared at least once (the transaction holds no call or time)`, {
        severity: 'info',
      });
    let matched = 0;
    let logged = 0;
    for (const [uniqueId, records] of byId) {
      if (live.has(uniqueId)) {
        matched++;
        continue;
      }
      // A Delete transaction says so itself (high); otherwise absence from ZCALLRECORD is the evidence (medium).
      const deleteRecord = records.find((x) => x.type === 2);
      const r = records.filter((x) => x.type !== 2).at(-1) ?? records[records.length - 1];
      const c = r.call!;
      const where = `${DOMAIN}/${r.file}`;
      const deleted = !!deleteRecord || compared;
      if (!deleted) logged++;
      const { ts, ok } = checkedTime(c.dateMacS, 'mac-s');
      if (!ok)
        ctx.warn(`${where}: record ${r.index} (call ${uniqueId}): date holds an impossible time (${ts?.invalid ?? String(c.dateMacS)}); the raw value is kept, no UTC time`, {
          fileRowId: r.fileRowId,
          table: path.posix.basename(r.file),
          rowid: r.index,
        });
      const status = c.callStatus !== null ? STATUS[c.callStatus] : undefined;
      const name = ctx.contacts.nameFor(c.address);
      const who = name ? `${name} (${c.address ?? 'unknown number'})` : (c.address ?? 'unknown number');
      ctx.emit({
        ts,
        kind: 'call',
        action: deleted ? 'deleted' : 'logged',
        title: titleOf(c, who, deleted, r.file),
        direction: status?.direction ?? null,
        counterpart: c.address,
        counterpartName: name,
        service: c.serviceProvider ? (PROVIDERS[c.serviceProvider] ?? c.serviceProvider) : null,
        durationS: c.duration,
        sourceFileId: r.fileRowId,
        sourceTable: path.posix.basename(r.file),
        sourceRowid: r.index,
        recovered: { from: 'transactions-log', confidence: deleteRecord ? 'high' : compared ? 'medium' : 'low' },
        extra: {
          unique_id: uniqueId,
          evidence: deleteRecord ? 'delete-transaction' : compared ? 'not-in-call-history' : 'not-compared',
          transactions: records.map((x) => ({
            file: path.posix.basename(x.file),
            index: x.index,
            offset: x.offset,
            length: x.length,
            type: x.type,
            type_name: x.type !== null ? (TRANSACTION_TYPES[x.type] ?? null) : null,
          })),
          call_status: c.callStatus,
          call_status_label: status?.label ?? null,
          remote_participants: c.addresses,
          caller_id: c.callerId,
          handle_type: c.handleType,
          disconnected_cause: c.disconnectedCause,
          time_to_establish_s: c.timeToEstablish,
          service_provider: c.serviceProvider,
          date_mac_s: c.dateMacS,
          ended_utc_us: ts?.utcUs != null && c.duration ? ts.utcUs + Math.round(c.duration * 1e6) : null,
          recovered_from_file: where,
          also_carved_from_call_history_event_ids: carved.get(uniqueId) ?? [],
          outer: r.outer,
          other: c.other,
        },
      });
    }
    const notLive = byId.size - matched;
    ctx.warn(
      `CallHistoryTransactions: ${all.length + undecodable} record(s): ${notLive} call(s) not in the call history (${notLive - logged} deleted${logged ? `, ${logged} not compared` : ''}), ${matched} matching a live call (not repeated), ${noId} without a uniqueId, ${undecodable} undecodable`,
      { severity: 'info' },
    );
  },
};
