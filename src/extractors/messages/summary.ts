// message.message_summary_info (iOS 14+): a binary plist. Keys used here (IME `message_types/edited.rs`):
//   ec  — edit history: { "<part index>": [ { d: seconds since 2001, t: attributedBody of that version, bcg?: guid } … ] },
//         oldest first, the last entry being the current text of that part;
//   rp  — retracted (unsent) part indexes;
//   otr — the original parts and their ranges;
//   amsa — the app that sent the message on the owner's behalf (e.g. com.apple.siri).
// Everything else is kept as a list of key names so nothing silently disappears.
import { parsePlist, isDict, type PlistValue } from '../../formats/plist.js';
import { decodeAttributedBody } from '../../formats/typedstream.js';
import { MAC_EPOCH_OFFSET_S, isoFromUs } from '../../formats/appleTime.js';

export interface EditVersion {
  part: number;
  version: number;
  ts_utc_us: number | null;
  time: string | null;
  text: string | null;
  /** Set when the version's attributedBody could not be decoded. */
  error?: string;
  hex?: string;
  guid?: string;
}

export interface MessageSummary {
  editHistory: EditVersion[];
  editedParts: number[];
  unsentParts: number[];
  partCount: number | null;
  sentByApp: string | null;
  keys: string[];
}

function num(v: PlistValue | undefined): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/** Seconds since 2001 (integer or float); nanosecond values are accepted too, by magnitude. */
function editTime(v: PlistValue | undefined): number | null {
  const n = num(v);
  if (n === null || n <= 0) return null;
  const s = n >= 1e11 ? n / 1e9 : n;
  return Math.round((s + MAC_EPOCH_OFFSET_S) * 1_000_000);
}

/** Parse message_summary_info; throws (PlistError) when the blob is not a plist dictionary. */
export function parseMessageSummary(blob: Buffer): MessageSummary {
  const root = parsePlist(blob, 'message_summary_info');
  if (!isDict(root)) throw new Error('message_summary_info is not a dictionary');
  const out: MessageSummary = { editHistory: [], editedParts: [], unsentParts: [], partCount: null, sentByApp: null, keys: Object.keys(root).slice(0, 50) };
  const ec = root.ec;
  if (isDict(ec)) {
    for (const [key, versions] of Object.entries(ec)) {
      const part = Number(key);
      if (!Number.isInteger(part) || !Array.isArray(versions)) continue;
      if (versions.length > 0) out.editedParts.push(part);
      versions.slice(0, 100).forEach((v, i) => {
        if (!isDict(v)) return;
        const us = editTime(v.d);
        const ev: EditVersion = { part, version: i, ts_utc_us: us, time: isoFromUs(us), text: null };
        if (Buffer.isBuffer(v.t)) {
          try {
            ev.text = decodeAttributedBody(v.t).text;
          } catch (e) {
            ev.error = (e as Error).message;
            ev.hex = v.t.subarray(0, 65536).toString('hex');
          }
        }
        if (typeof v.bcg === 'string') ev.guid = v.bcg;
        out.editHistory.push(ev);
      });
    }
  }
  if (Array.isArray(root.rp))
    for (const p of root.rp) {
      const n = num(p);
      if (n !== null) out.unsentParts.push(n);
    }
  if (isDict(root.otr)) out.partCount = Object.keys(root.otr).length;
  if (typeof root.amsa === 'string') out.sentByApp = root.amsa;
  return out;
}
