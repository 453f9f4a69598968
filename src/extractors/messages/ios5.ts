// The iOS 5 sms.db (before iOS 6 merged iMessage into handle/chat tables): one `message` table holding SMS rows and
// iMessage ("madrid") rows side by side, with two clocks in the same `date` column — Unix seconds for SMS, Mac
// absolute seconds for iMessage (`is_madrid = 1`). Direction: SMS `flags & 1` (2 received, 3 sent); iMessage
// `madrid_flags` (received 4097, 12289, 77825; sent 32773 (send error), 36869, 45061, 102405: bit 0x8000 is set on
// every outgoing value and on none of the incoming ones). docs/ios-formats.md §3.7 names the public readers.
import { macSeconds, unixSeconds, type Timestamp } from '../../formats/appleTime.js';
import { colOrNull, columnsOf, sqlText, type ExtractorContext, type OpenedDatabase } from '../types.js';

/** Does this `message` table have the iOS 5 shape (address/flags, no guid)? */
export function isIos5Sms(columns: Set<string>): boolean {
  return !columns.has('guid') && columns.has('address') && columns.has('flags') && columns.has('date');
}

const MADRID_OUTGOING = 0x8000;

export function readIos5Messages(ctx: ExtractorContext, src: OpenedDatabase): number {
  const mc = columnsOf(src.db, 'message');
  const cols = ['address', 'date', 'text', 'flags', 'is_madrid', 'madrid_handle', 'madrid_flags', 'madrid_date_read', 'madrid_date_delivered', 'madrid_service', 'subject']
    .map((c) => colOrNull(mc, c))
    .join(', ');
  let n = 0;
  for (const r of src.db.prepare(`SELECT ROWID AS rowid, ${cols} FROM message ORDER BY ROWID`).iterate() as Iterable<Record<string, unknown>>) {
    const madrid = Number(r.is_madrid ?? 0) === 1;
    const outgoing = madrid ? (Number(r.madrid_flags ?? 0) & MADRID_OUTGOING) !== 0 : (Number(r.flags ?? 0) & 1) === 1;
    const counterpart = sqlText(madrid ? r.madrid_handle : r.address);
    const name = ctx.contacts.nameFor(counterpart);
    const service = madrid ? 'iMessage' : 'SMS';
    const at = (v: unknown, what: string): Timestamp | null => {
      const ts = madrid ? macSeconds(v) : unixSeconds(v);
      if (ts?.invalid)
        ctx.warn(`message ROWID ${r.rowid}: ${what} ${ts.invalid}; kept without a time (raw value in ts_raw)`, {
          fileRowId: src.fileRowId,
          table: 'message',
          rowid: r.rowid as bigint,
        });
      return ts;
    };
    const ts = at(r.date, 'date');
    const who = name ? `${name} (${counterpart})` : (counterpart ?? 'unknown');
    const action = outgoing ? 'sent' : 'received';
    const title = `${service} ${outgoing ? 'to' : 'from'} ${who}`;
    const extra = {
      is_madrid: madrid ? 1 : 0,
      flags: r.flags == null ? null : Number(r.flags),
      madrid_flags: r.madrid_flags == null ? null : Number(r.madrid_flags),
      time_base: madrid ? 'Mac absolute seconds (iMessage row)' : 'Unix seconds (SMS row)',
      schema: 'iOS 5 sms.db',
    };
    const base = {
      kind: 'message',
      direction: outgoing ? ('outgoing' as const) : ('incoming' as const),
      counterpart,
      counterpartName: name,
      service,
      sourceFileId: src.fileRowId,
      sourceTable: 'message',
      sourceRowid: r.rowid as bigint,
    };
    const mainId = ctx.emit({ ...base, ts, action, title, body: sqlText(r.text), extra });
    n++;
    // iMessage rows also say when they were delivered / read (Mac seconds, 0 = never).
    for (const [col, act, label] of [
      ['madrid_date_delivered', 'delivered', 'Delivered: '],
      ['madrid_date_read', 'read', outgoing ? 'Read by recipient: ' : 'Read: '],
    ] as const) {
      if (!madrid || !r[col] || Number(r[col]) === 0) continue;
      ctx.emit({ ...base, ts: at(r[col], col), action: act, title: `${label}${title}`, body: null, extra: { of_event_id: mainId, schema: 'iOS 5 sms.db' } });
      n++;
    }
  }
  return n;
}
