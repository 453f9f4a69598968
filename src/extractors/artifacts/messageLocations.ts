// Locations shared in Messages: the `.loc.vcf` attachments (mime text/x-vlocation) that the messages
// extractor recorded in the case file. Runs after messages: it reads the case file's attachments rows,
// opens each vCard again from the backup (hashing it) and parses the maps URL (`ll=lat,lon`, else `q=`).
// The event takes the message's time, direction and counterpart.
//
// extra_json: { attachment_id, message_event_id, vcard_name, url, vcard_file_row_id }
import fs from 'node:fs';
import { hasTable, type Extractor, type ExtractorContext } from '../types.js';
import { LOCATION_KIND } from '../locations/common.js';
import { validCoordinate } from '../../formats/coordinates.js';

/** Largest vCard read; a location card is a few hundred bytes. */
const MAX_VCARD_BYTES = 256 * 1024;

/** Unfold vCard lines (RFC 6350 §3.2) and return the coordinates of its maps URL, if any. */
export function parseLocationVcard(text: string): { lat: number; lon: number; url: string | null; name: string | null } | null {
  const lines = text
    .replace(/\r\n[ \t]/g, '')
    .replace(/\n[ \t]/g, '')
    .split(/\r?\n/);
  const value = (re: RegExp) => {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m[1].trim();
    }
    return null;
  };
  const url = value(/^(?:[\w-]+\.)?URL(?:;[^:]*)?:(.*)$/i);
  const name = value(/^FN(?:;[^:]*)?:(.*)$/i);
  const candidates: string[] = [];
  if (url) {
    const unescaped = url.replace(/\\([,;:\\])/g, '$1'); // vCard escapes (RFC 6350 §3.4)
    for (const key of ['ll', 'sll', 'q', 'daddr']) {
      const m = new RegExp(`[?&]${key}=([^&]*)`).exec(unescaped);
      if (!m) continue;
      try {
        candidates.push(decodeURIComponent(m[1].replace(/\+/g, ' ')));
      } catch {
        candidates.push(m[1]);
      }
    }
  }
  const geo = value(/^GEO(?:;[^:]*)?:(.*)$/i);
  if (geo) candidates.push(geo.replace(/^geo:/i, '').replace(';', ','));
  for (const c of candidates) {
    const m = /(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)/.exec(c);
    const pos = m ? validCoordinate(Number(m[1]), Number(m[2])) : null;
    if (pos) return { ...pos, url, name };
  }
  return null;
}

interface AttRow {
  id: number;
  event_id: number | null;
  source_file_id: number | null;
  source_rowid: number | null;
  transfer_name: string | null;
  path: string | null;
  domain: string | null;
  relative_path: string | null;
  ts_utc_us: number | null;
  ts_raw: string | null;
  ts_epoch: string | null;
  direction: 'incoming' | 'outgoing' | null;
  counterpart: string | null;
  counterpart_name: string | null;
  thread_id: number | null;
  service: string | null;
}

async function run(ctx: ExtractorContext): Promise<void> {
  const cdb = ctx.caseFile.db;
  if (!hasTable(cdb, 'attachments')) return;
  // Materialised: the same connection writes the new events.
  const rows = cdb
    .prepare(`SELECT a.id, a.event_id, a.source_file_id, a.source_rowid, a.transfer_name, a.path, f.domain, f.relative_path,
      e.ts_utc_us, e.ts_raw, e.ts_epoch, e.direction, e.counterpart, e.counterpart_name, e.thread_id, e.service
    FROM attachments a LEFT JOIN files f ON f.id = a.file_id LEFT JOIN events e ON e.id = a.event_id
    WHERE a.device_id IS ? AND (a.mime_type = 'text/x-vlocation' OR lower(a.transfer_name) LIKE '%.loc.vcf' OR lower(a.path) LIKE '%.loc.vcf')
    ORDER BY a.id`)
    .safeIntegers(false)
    .all(ctx.caseFile.deviceId) as AttRow[];
  for (const r of rows) {
    const label = r.transfer_name ?? r.path ?? `attachment ${r.id}`;
    if (!r.domain || !r.relative_path) {
      ctx.warn(`shared location ${label}: its file is not in the backup; no position`, { severity: 'info', table: 'attachment', rowid: r.source_rowid });
      continue;
    }
    const f = await ctx.openFile(r.domain, r.relative_path);
    if (!f) {
      ctx.warn(`shared location ${label}: ${r.domain}/${r.relative_path} could not be read`, { table: 'attachment', rowid: r.source_rowid });
      continue;
    }
    let parsed: ReturnType<typeof parseLocationVcard> = null;
    try {
      if (f.size <= MAX_VCARD_BYTES) parsed = parseLocationVcard(fs.readFileSync(f.path, 'utf8'));
    } finally {
      fs.rmSync(f.path, { force: true });
    }
    if (!parsed) {
      ctx.warn(`shared location ${label}: no coordinates found in the vCard`, { fileRowId: f.fileRowId, table: 'attachment', rowid: r.source_rowid });
      continue;
    }
    const who = r.counterpart_name ?? r.counterpart ?? 'unknown';
    ctx.emit({
      ts: r.ts_utc_us !== null ? { utcUs: r.ts_utc_us, raw: r.ts_raw ?? String(r.ts_utc_us), epoch: (r.ts_epoch ?? 'unix-s') as never } : null,
      kind: 'location',
      action: 'shared',
      title: `Location ${r.direction === 'outgoing' ? 'sent to' : 'received from'} ${who}${parsed.name ? `: ${parsed.name}` : ''} (${parsed.lat}, ${parsed.lon})`,
      direction: r.direction,
      counterpart: r.counterpart,
      counterpartName: r.counterpart_name,
      threadId: r.thread_id,
      service: r.service,
      latitude: parsed.lat,
      longitude: parsed.lon,
      accuracyM: null,
      sourceFileId: r.source_file_id,
      sourceTable: 'attachment',
      sourceRowid: r.source_rowid,
      extra: { attachment_id: r.id, message_event_id: r.event_id, vcard_name: parsed.name, url: parsed.url, vcard_file_row_id: f.fileRowId },
    });
  }
}

export const messageLocations: Extractor = {
  id: 'message-locations',
  title: 'Locations shared in Messages (.loc.vcf attachments)',
  sources: [{ domain: 'MediaDomain', path: 'Library/SMS/Attachments/**/*.loc.vcf' }],
  after: ['messages'],
  kinds: [LOCATION_KIND],
  run,
};
