// Shared pieces of the location extractors: each location store is its own module (consolidated.ts,
// routined.ts, …) and emits kind 'location' events with latitude, longitude and accuracy_m when known.
import type Database from 'better-sqlite3';
import type { Timestamp } from '../../formats/appleTime.js';
import type { ExtractorContext, KindDescriptor } from '../types.js';
import { validCoordinate } from '../../formats/coordinates.js';

/** The one 'location' kind, emitted by every location store. */
export const LOCATION_KIND: KindDescriptor = {
  kind: 'location',
  label: 'Locations',
  color: '#7a55b0',
  view: 'table',
  dataType: 'ios:location:fix',
  actions: { seen: 'Location Recorded', shared: 'Location Shared' },
};

/** Accuracy in metres; negative values (-1) mean "unknown" in Apple's location stores. */
export function accuracyOf(v: unknown): number | null {
  const n = v == null ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export interface LocationRow {
  ts: Timestamp | null;
  lat: unknown;
  lon: unknown;
  accuracy: unknown;
  title: string;
  action?: string;
  table: string;
  rowid: number | bigint;
  extra: Record<string, unknown>;
}

/**
 * Emit one location event. A row without a usable position still becomes an event (every source row
 * does), without coordinates and flagged with extra.no_location = true.
 */
export function emitLocation(ctx: ExtractorContext, fileRowId: number, r: LocationRow): boolean {
  const pos = validCoordinate(r.lat, r.lon);
  const acc = accuracyOf(r.accuracy);
  ctx.emit({
    ts: r.ts,
    kind: 'location',
    action: r.action ?? 'seen',
    title: pos ? r.title : `${r.title} (no position recorded)`,
    latitude: pos?.lat ?? null,
    longitude: pos?.lon ?? null,
    accuracyM: pos ? acc : null,
    sourceFileId: fileRowId,
    sourceTable: r.table,
    sourceRowid: r.rowid,
    extra: { ...r.extra, raw_latitude: r.lat ?? null, raw_longitude: r.lon ?? null, raw_accuracy: r.accuracy ?? null, ...(pos ? {} : { no_location: true }) },
  });
  return !!pos;
}

export function countRows(db: Database.Database, table: string): number | undefined {
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: bigint }).n);
  } catch {
    return undefined;
  }
}
