// Deleted calls from CallHistoryTransactions/transactions.log: the parser on its own, then through ingest().
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { events, extra, ingestUnchanged, query, warnings } from './artifactKit.js';
import { addCallTransactions, liveUniqueId, transactionRecord, transactionsLog, type CallTransactionsTruth, type TxCall } from '../fixtures/artifacts/callTransactions.js';
import { Rng } from '../fixtures/random.js';
import { makeSqlite } from '../fixtures/backupWriter.js';
import { fillCallHistory, makeCalls, type FixtureCall } from '../fixtures/artifacts/calls.js';
import { MAX_RECORD_BYTES, parseTransactionsLog } from '../src/formats/callTransactions.js';

process.env.TZ = 'Pacific/Kiritimati';

const MAC_EPOCH_US = 978_307_200_000_000;
const call = (i: number, over: Partial<TxCall> = {}): TxCall => ({
  uniqueId: `ID-${i}`,
  address: `+1555000${1000 + i}`,
  macDate: 700_000_000 + i * 3600 + 0.125,
  duration: i * 10 + 0.5,
  callStatus: 2,
  serviceProvider: 'com.apple.Telephony',
  ...over,
});

describe('transactions.log parser', () => {
  it('frames and decodes every record: uniqueId, exact date, duration, status, number', () => {
    const calls = [call(1), call(2, { callStatus: 8, duration: 0 }), call(3, { callStatus: 1 })];
    const log = parseTransactionsLog(transactionsLog(calls));
    expect(log.warnings).toEqual([]);
    expect(log.undecodable).toBe(0);
    expect(log.records.map((r) => [r.index, r.call.uniqueId, r.call.dateMacS, r.call.duration, r.call.callStatus, r.call.address, r.call.addresses])).toEqual(
      calls.map((c, i) => [i, c.uniqueId, c.macDate, c.duration, c.callStatus, c.address, [c.address]]),
    );
    expect(log.records[0].call.serviceProvider).toBe('com.apple.Telephony');
    expect(log.records[0].call.other).toEqual({ read: true });
    expect(log.records[1].offset).toBe(transactionRecord(calls[0]).length);
    expect(log.records.map((r) => r.type)).toEqual([0, 0, 0]);
  });

  it('the CHTransaction type: Delete keeps its call, BatchDeleteAll has none', () => {
    const log = parseTransactionsLog(
      transactionsLog([
        { call: call(1), type: 2 },
        { call: null, type: 3 },
        { call: call(2), type: 1 },
      ]),
    );
    expect(log.warnings).toEqual([]);
    expect(log.records.map((r) => [r.type, r.call?.uniqueId ?? null])).toEqual([
      [2, 'ID-1'],
      [3, null],
      [1, 'ID-2'],
    ]);
  });

  it('a truncated last record is a named warning; the records before it are kept', () => {
    const data = transactionsLog([call(1), call(2)]);
    const log = parseTransactionsLog(data.subarray(0, data.length - 7));
    expect(log.records.map((r) => r.call.uniqueId)).toEqual(['ID-1']);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/truncated: record 1 at offset \d+ claims \d+ bytes, only \d+ remain/);
  });

  it('an absurd length stops the walk with a warning at once (no allocation, no hang)', () => {
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(0xfffffff0);
    const log = parseTransactionsLog(Buffer.concat([transactionRecord(call(1)), bad]));
    expect(log.records).toHaveLength(1);
    expect(log.warnings[0]).toMatch(new RegExp(`absurd record length ${0xfffffff0} at offset \\d+ \\(record 1; more than ${MAX_RECORD_BYTES} bytes\\)`));
  });

  it('a record that is not an archive is named and skipped; framing goes on', () => {
    const junk = Buffer.from('not a plist at all');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(junk.length);
    const log = parseTransactionsLog(Buffer.concat([len, junk, transactionRecord(call(2))]));
    expect(log.records.map((r) => r.call.uniqueId)).toEqual(['ID-2']);
    expect(log.undecodable).toBe(1);
    expect(log.warnings[0]).toMatch(/^transactions\.log record 0 \(offset 0\) is neither a binary nor an XML plist$/);
  });

  it('seeded byte flips never throw: every outcome is records and warnings', () => {
    const good = transactionsLog([call(1), call(2, { callStatus: 8, duration: 0 }), call(3)]);
    const rng = new Rng(16);
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      for (let k = rng.int(1, 8); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      const log = parseTransactionsLog(b);
      expect(log.bytesFramed).toBeLessThanOrEqual(b.length);
      expect(log.records.length + log.undecodable + log.warnings.length).toBeGreaterThan(0);
      for (const r of log.records) expect(r.offset + 4 + r.length).toBeLessThanOrEqual(b.length);
    }
  });

  it('trailing bytes too short for a prefix, zero padding and the record budget are each named', () => {
    const one = transactionRecord(call(1));
    expect(parseTransactionsLog(Buffer.alloc(0))).toEqual({ records: [], undecodable: 0, bytesFramed: 0, warnings: [], budgetExceeded: false });
    expect(parseTransactionsLog(Buffer.concat([one, Buffer.from([1, 2])])).warnings[0]).toMatch(/2 trailing byte\(s\) at offset \d+, too short/);
    expect(parseTransactionsLog(Buffer.concat([one, Buffer.alloc(64)])).warnings[0]).toMatch(/64 zero byte\(s\) of padding/);
    const capped = parseTransactionsLog(transactionsLog([call(1), call(2), call(3)]), { maxRecords: 2 });
    expect(capped.budgetExceeded).toBe(true);
    expect(capped.records).toHaveLength(2);
    expect(capped.warnings[0]).toMatch(/budget exceeded after 2 records \(at most 2\)/);
  });
});

describe('call-transactions artifact', () => {
  it('deleted calls come back flagged with their UTC time and number; live calls are not repeated', async () => {
    let tx!: CallTransactionsTruth;
    let live!: number;
    const t = fixture({
      contacts: 2,
      calls: 2,
      callsInWal: 0,
      extend: (w, truth, rng) => {
        live = truth.calls.length;
        tx = addCallTransactions(w, rng, { live: truth.calls, end: truth.device.backupDate });
      },
    });
    expect(live).toBe(2);
    expect(tx.deleted).toHaveLength(2);
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['call-transactions']);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(2);
    const ev = events(casePath, 'call-transactions');
    expect(ev).toHaveLength(2);
    const want = tx.deleted.map((d) => ({
      kind: 'call',
      action: 'deleted',
      ts: Math.round(d.macDate * 1e6) + MAC_EPOCH_US,
      ts_raw: String(d.macDate),
      ts_epoch: 'mac-s',
      counterpart: d.address,
      direction: d.callStatus === 2 ? 'outgoing' : 'incoming',
      duration: d.duration,
      table: 'transactions.log',
      rowid: tx.records.findIndex((r) => r.call === d && r.type === 0),
      unique_id: d.uniqueId,
      status: d.callStatus,
      evidence: d === tx.deleted[0] ? 'delete-transaction' : 'not-in-call-history',
      transactions: tx.records.filter((r) => r.call === d).length,
    }));
    expect(
      ev.map((e) => ({
        kind: e.kind,
        action: e.action,
        ts: e.ts_utc_us,
        ts_raw: e.ts_raw,
        ts_epoch: e.ts_epoch,
        counterpart: e.counterpart,
        direction: e.direction,
        duration: e.duration_s,
        table: e.source_table,
        rowid: e.source_rowid,
        unique_id: extra(e).unique_id,
        status: extra(e).call_status,
        evidence: extra(e).evidence,
        transactions: (extra(e).transactions as unknown[]).length,
      })),
    ).toEqual(want);
    expect(ev.find((e) => extra(e).call_status === 8)!.title).toMatch(/^Deleted missed call from \+1\d{10} \(recovered from CallHistoryTransactions\/transactions\.log\)$/);
    const flags = query<{ u: string; recovered: number; recovered_from: string; confidence: string }>(
      casePath,
      "SELECT json_extract(extra_json, '$.unique_id') AS u, recovered, recovered_from, confidence FROM events WHERE extractor = 'call-transactions' ORDER BY u",
    );
    // A Delete transaction in the log: high; only absent from ZCALLRECORD: medium.
    expect(flags).toEqual(
      [
        { u: tx.deleted[0].uniqueId, recovered: 1, recovered_from: 'transactions-log', confidence: 'high' },
        { u: tx.deleted[1].uniqueId, recovered: 1, recovered_from: 'transactions-log', confidence: 'medium' },
      ].sort((a, b) => (a.u < b.u ? -1 : 1)),
    );
    // Every call (live from ZCALLRECORD, deleted from the log) is in the case exactly once.
    const ids = query<{ u: string }>(casePath, "SELECT json_extract(extra_json, '$.unique_id') AS u FROM events WHERE kind = 'call' AND action != 'records-missing'");
    expect(ids.map((r) => r.u).sort()).toEqual([...tx.live, ...tx.deleted].map((c) => c.uniqueId).sort());
    const info = warnings(casePath, 'call-transactions').map((w) => w.message);
    expect(info).toContain(
      'CallHistoryTransactions: 5 record(s): 2 call(s) not in the call history (2 deleted), 2 matching a live call (not repeated), 0 without a uniqueId, 0 undecodable',
    );
  }, 60_000);

  it('an absurd length in the log: named warning, the calls before it recovered, the other artifacts unaffected', async () => {
    let tx!: CallTransactionsTruth;
    const t = fixture({
      contacts: 2,
      calls: 2,
      callsInWal: 0,
      extend: (w, truth, rng) => {
        tx = addCallTransactions(w, rng, {
          live: truth.calls,
          end: truth.device.backupDate,
          // After the first two records (live 1, deleted 1): a length of 3 GB and garbage.
          mangle: (b) => {
            const cut = tx0Length(b, 2);
            const bad = Buffer.alloc(16, 0x41);
            bad.writeUInt32LE(3_000_000_000);
            return Buffer.concat([b.subarray(0, cut), bad]);
          },
        });
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root);
    expect(unchanged).toBe(true);
    const ev = events(casePath, 'call-transactions');
    expect(ev.map((e) => extra(e).unique_id)).toEqual([tx.deleted[0].uniqueId]);
    expect(tx.records[1].call).toBe(tx.deleted[0]);
    expect(ev[0].action).toBe('deleted');
    const w = warnings(casePath, 'call-transactions');
    expect(w.some((x) => /transactions\.log: absurd record length 3000000000 at offset \d+ \(record 2;/.test(x.message))).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(2);
    expect(result.summaries.find((s) => s.extractor === 'contacts')!.events).toBeGreaterThan(0);
    expect(result.summaries.find((s) => s.extractor === 'call-transactions')!.status).not.toBe('failed');
  }, 60_000);

  it('a truncated log: named warning, nothing invented', async () => {
    const t = fixture({
      contacts: 1,
      calls: 2,
      callsInWal: 0,
      extend: (w, truth, rng) => {
        addCallTransactions(w, rng, { live: truth.calls, end: truth.device.backupDate, mangle: (b) => b.subarray(0, 10) });
      },
    });
    const { casePath, unchanged } = await ingestUnchanged(t.root, ['call-transactions']);
    expect(unchanged).toBe(true);
    expect(events(casePath, 'call-transactions')).toEqual([]);
    expect(warnings(casePath, 'call-transactions').map((w) => w.message)).toContainEqual(
      expect.stringMatching(/^HomeDomain\/Library\/CallHistoryTransactions\/transactions\.log: truncated: record 0 at offset 0 claims \d+ bytes, only 6 remain$/),
    );
  }, 60_000);

  it('a deleted call also carved from CallHistory.storedata free space: both events stay, the log names the carved one', async () => {
    let calls!: FixtureCall[];
    const t = fixture({
      contacts: 1,
      calls: 0,
      extend: (w, truth, rng, tmp) => {
        calls = makeCalls(rng, 4, [...truth.nameByNumber.keys()], truth.device.backupDate, 0);
        const files = makeSqlite(tmp, 'CallHistory.storedata', (db) => {
          db.pragma('secure_delete = OFF');
          fillCallHistory(db, calls);
          db.prepare('DELETE FROM ZCALLRECORD WHERE Z_PK = 3').run();
        });
        w.addDatabase('HomeDomain', 'Library/CallHistoryDB/CallHistory.storedata', files);
        // The log holds all four calls as inserted; the third was deleted from the database afterwards.
        w.addFile(
          'HomeDomain',
          'Library/CallHistoryTransactions/transactions.log',
          transactionsLog(
            calls.map((c) => ({
              uniqueId: liveUniqueId(c.pk),
              address: c.address,
              macDate: c.macDate,
              duration: c.duration,
              callStatus: c.originated ? 2 : 1,
              serviceProvider: 'com.apple.Telephony',
            })),
          ),
        );
      },
    });
    const { casePath } = await ingestUnchanged(t.root, ['call-transactions']);
    const carved = query<{ id: number }>(
      casePath,
      "SELECT id FROM events WHERE extractor = 'recovery' AND kind = 'call' AND action = 'deleted' AND json_extract(extra_json, '$.guid') = ?",
      liveUniqueId(3),
    );
    expect(carved).toHaveLength(1);
    const ev = events(casePath, 'call-transactions');
    expect(ev.map((e) => [extra(e).unique_id, e.ts_utc_us, extra(e).also_carved_from_call_history_event_ids])).toEqual([
      [liveUniqueId(3), Math.round(calls[2].macDate * 1e6) + MAC_EPOCH_US, [carved[0].id]],
    ]);
  }, 60_000);

  it('transaction.log is read too; a call logged in both files is one event', async () => {
    let tx!: CallTransactionsTruth;
    const t = fixture({
      contacts: 1,
      calls: 2,
      callsInWal: 0,
      extend: (w, truth, rng) => {
        tx = addCallTransactions(w, rng, {
          live: truth.calls,
          end: truth.device.backupDate,
          files: ['Library/CallHistoryTransactions/transactions.log', 'Library/CallHistoryTransactions/transaction.log'],
        });
      },
    });
    const { casePath, unchanged } = await ingestUnchanged(t.root, ['call-transactions']);
    expect(unchanged).toBe(true);
    const ev = events(casePath, 'call-transactions');
    expect(ev.map((e) => extra(e).unique_id).sort()).toEqual(tx.deleted.map((d) => d.uniqueId).sort());
    const files = (e: (typeof ev)[number]) => (extra(e).transactions as { file: string }[]).map((x) => x.file).sort();
    expect(files(ev.find((e) => extra(e).unique_id === tx.deleted[1].uniqueId)!)).toEqual(['transaction.log', 'transactions.log']);
    expect(warnings(casePath, 'call-transactions').map((w) => w.message)).toContain(
      'CallHistoryTransactions: 10 record(s): 2 call(s) not in the call history (2 deleted), 2 matching a live call (not repeated), 0 without a uniqueId, 0 undecodable',
    );
  }, 60_000);

  it('without CallHistory.storedata only a Delete transaction proves a deletion; the other calls are "logged", low confidence', async () => {
    let tx!: CallTransactionsTruth;
    const t = fixture({
      contacts: 1,
      calls: 0,
      extend: (w, truth, rng) => {
        tx = addCallTransactions(w, rng, { live: [], end: truth.device.backupDate, deleted: 2 });
      },
    });
    const { casePath } = await ingestUnchanged(t.root, ['call-transactions']);
    const ev = query<{ u: string; action: string; confidence: string }>(
      casePath,
      "SELECT json_extract(extra_json, '$.unique_id') AS u, action, confidence FROM events WHERE extractor = 'call-transactions' ORDER BY source_rowid",
    );
    expect(ev).toEqual([
      { u: tx.deleted[0].uniqueId, action: 'deleted', confidence: 'high' },
      { u: tx.deleted[1].uniqueId, action: 'logged', confidence: 'low' },
    ]);
    expect(warnings(casePath, 'call-transactions').some((w) => /no CallHistory\.storedata was read/.test(w.message))).toBe(true);
  }, 60_000);

  it('a CallHistory.storedata the calls module cannot read (no ZCALLRECORD) proves no deletion either', async () => {
    const t = fixture({
      contacts: 1,
      calls: 0,
      extend: (w, truth, rng, tmp) => {
        w.addDatabase(
          'HomeDomain',
          'Library/CallHistoryDB/CallHistory.storedata',
          makeSqlite(tmp, 'CallHistory.storedata', (db) => db.exec('CREATE TABLE other (a)')),
        );
        addCallTransactions(w, rng, { live: [], end: truth.device.backupDate, deleted: 2 });
      },
    });
    const { casePath, result } = await ingestUnchanged(t.root, ['call-transactions']);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.status).toBe('failed');
    const ev = query<{ action: string; confidence: string }>(casePath, "SELECT action, confidence FROM events WHERE extractor = 'call-transactions' ORDER BY source_rowid");
    expect(ev).toEqual([
      { action: 'deleted', confidence: 'high' },
      { action: 'logged', confidence: 'low' },
    ]);
  }, 60_000);
});

/** Byte length of the first `n` framed records of a log. */
function tx0Length(b: Buffer, n: number): number {
  let off = 0;
  for (let i = 0; i < n; i++) off += 4 + b.readUInt32LE(off);
  return off;
}
