// Located events as GeoJSON (RFC 7946: a FeatureCollection of Points, [longitude, latitude], WGS-84) and
// KML 2.2 (one Placemark per event, with a TimeStamp). Same filters as the other exports; events
// without coordinates are left out. Streamed: the case is never held in memory.
import { BufferedWriter } from './bufferedWriter.js';
import type Database from 'better-sqlite3';
import { iterateEvents, type EventFilter, type EventRow } from '../timeline/query.js';
import { isoFromUs } from '../formats/appleTime.js';
import { messageLine, timestampDesc } from './describe.js';
import { eventLabel, writeAtomically } from './exports.js';

export type GeoFormat = 'geojson' | 'kml';

function located(e: EventRow): boolean {
  return e.latitude !== null && e.longitude !== null && Number.isFinite(e.latitude) && Number.isFinite(e.longitude) && Math.abs(e.latitude) <= 90 && Math.abs(e.longitude) <= 180;
}

function properties(e: EventRow): Record<string, string | number | null> {
  return {
    event_id: e.id,
    datetime: isoFromUs(e.ts_utc_us),
    timestamp: e.ts_utc_us,
    timestamp_desc: timestampDesc(e.kind, e.action),
    message: messageLine(e),
    kind: e.kind,
    action: e.action,
    accuracy_m: e.accuracy_m,
    extractor: e.extractor,
    source_domain: e.source_domain,
    source_path: e.source_path,
    source_table: e.source_table,
    source_rowid: e.source_rowid,
    source_sha256: e.source_sha256,
  };
}

/** XML text: escape markup and drop characters XML 1.0 cannot carry. */
export function xmlText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return (
    String(v)
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** Write located events as GeoJSON or KML; returns the number of features/placemarks written. */
export function exportGeo(db: Database.Database, format: GeoFormat, out: string, filter: EventFilter = {}): number {
  return writeAtomically(out, (fd) => {
    const w = new BufferedWriter(fd);
    let n = 0;
    if (format === 'geojson') w.write('{"type":"FeatureCollection","features":[\n');
    else w.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n<name>ios-timeline located events</name>\n');
    for (const e of iterateEvents(db, filter)) {
      if (!located(e)) continue;
      let item: string;
      try {
        const p = properties(e);
        if (format === 'geojson') {
          item = (n ? ',\n' : '') + JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [e.longitude, e.latitude] }, properties: p });
        } else {
          const data = Object.entries(p)
            .filter(([, v]) => v !== null)
            .map(([k, v]) => `<Data name="${xmlText(k)}"><value>${xmlText(v)}</value></Data>`)
            .join('');
          item =
            `<Placemark><name>${xmlText(p.timestamp_desc)}${p.datetime ? ` ${xmlText(p.datetime)}` : ''}</name>` +
            `<description>${xmlText(p.message)}</description>` +
            (p.datetime ? `<TimeStamp><when>${xmlText(p.datetime)}</when></TimeStamp>` : '') +
            `<ExtendedData>${data}</ExtendedData><Point><coordinates>${e.longitude},${e.latitude}</coordinates></Point></Placemark>\n`;
        }
      } catch (err) {
        throw new Error(`${format} export stopped at ${eventLabel(e)}: ${(err as Error).message}`);
      }
      w.write(item);
      n++;
    }
    w.write(format === 'geojson' ? '\n]}\n' : '</Document>\n</kml>\n');
    w.flush();
    return n;
  });
}
