// locationd caches: the iOS 4 consolidated.db (RootDomain Library/Caches/locationd/consolidated.db) and its
// successor cache_encryptedB.db, which keeps the same table names (docs/ios-formats.md §7).
// Cell*/Wifi* tables hold where Apple's service placed a cell tower or access point the phone saw, not
// where the phone was; *Harvest and Location tables hold the phone's own fixes. Timestamp is Mac seconds.
// No position is stored as (0, 0) with HorizontalAccuracy -1: such rows stay events, without coordinates,
// with extra.no_location = true.
//
// extra_json: { store, table, subtype ('cell'|'cdma-cell'|'lte-cell'|'nr-cell'|'wifi'|'device'),
//   what ('position of the observed cell/access point' | 'position of the device'), the row's key columns
//   (mcc, mnc, lac, ci, mac, …), altitude_m, vertical_accuracy_m, speed_mps, course_deg, confidence,
//   raw_latitude, raw_longitude, raw_accuracy, no_location? }
import { macSeconds } from '../../formats/appleTime.js';
import { columnsOf, hasTable, type Extractor, type ExtractorContext } from '../types.js';
import { accuracyOf, countRows, emitLocation, LOCATION_KIND } from '../locations/common.js';

interface TableSpec {
  table: string;
  subtype: string;
  keys: string[];
}

const CELL = ['MCC', 'MNC', 'LAC', 'CI'];
const CDMA = ['MCC', 'SID', 'NID', 'BSID'];
const LTE = ['MCC', 'MNC', 'TAC', 'CI'];
const TABLES: TableSpec[] = [
  ...['CellLocation', 'CellLocationLocal', 'CellLocationHarvest'].map((table) => ({ table, subtype: 'cell', keys: CELL })),
  ...['CdmaCellLocation', 'CdmaCellLocationLocal', 'CdmaCellLocationHarvest'].map((table) => ({ table, subtype: 'cdma-cell', keys: CDMA })),
  ...['LteCellLocation', 'LteCellLocationLocal', 'LteCellLocationHarvest'].map((table) => ({ table, subtype: 'lte-cell', keys: LTE })),
  ...['NrCellLocation', 'NrCellLocationLocal'].map((table) => ({ table, subtype: 'nr-cell', keys: ['MCC', 'MNC', 'TAC', 'NCI'] })),
  ...['ScdmaCellLocation', 'ScdmaCellLocationLocal'].map((table) => ({ table, subtype: 'cell', keys: CELL })),
  ...['WifiLocation', 'WifiLocationHarvest'].map((table) => ({ table, subtype: 'wifi', keys: ['MAC'] })),
  ...['Location', 'LocationHarvest'].map((table) => ({ table, subtype: 'device', keys: [] })),
];

const LABEL: Record<string, string> = {
  cell: 'Cell tower',
  'cdma-cell': 'CDMA cell tower',
  'lte-cell': 'LTE cell',
  'nr-cell': '5G cell',
  wifi: 'Wi-Fi access point',
  device: 'Device position',
};

const opt = (v: unknown) => (v == null ? null : typeof v === 'bigint' ? Number(v) : v);
const sensor = (v: unknown) => {
  const n = v == null ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
};

async function readStore(ctx: ExtractorContext, relativePath: string): Promise<void> {
  const src = await ctx.openDatabase('RootDomain', relativePath);
  if (!src) return;
  const store = relativePath.split('/').pop()!;
  for (const spec of TABLES) {
    if (!hasTable(src.db, spec.table)) continue;
    const cols = columnsOf(src.db, spec.table);
    if (!cols.has('Timestamp') || !cols.has('Latitude') || !cols.has('Longitude')) {
      ctx.warn(`${store}: ${spec.table} lacks Timestamp/Latitude/Longitude; skipped`, { fileRowId: src.fileRowId, table: spec.table });
      continue;
    }
    const total = countRows(src.db, spec.table);
    let done = 0,
      noPos = 0;
    const keys = spec.keys.filter((k) => cols.has(k));
    try {
      for (const r of src.db.prepare(`SELECT rowid AS _rowid, * FROM "${spec.table}" ORDER BY rowid`).iterate() as Iterable<Record<string, unknown>>) {
        const keyVals: Record<string, unknown> = {};
        for (const k of keys) keyVals[k.toLowerCase()] = opt(r[k]);
        const keyText = keys.map((k) => `${k} ${String(opt(r[k]))}`).join(' ');
        const acc = accuracyOf(r.HorizontalAccuracy);
        const ts = macSeconds(r.Timestamp);
        const ok = emitLocation(ctx, src.fileRowId, {
          ts,
          lat: r.Latitude,
          lon: r.Longitude,
          accuracy: r.HorizontalAccuracy,
          title: `${LABEL[spec.subtype]}${keyText ? ` ${keyText}` : ''} (${store} ${spec.table})${acc !== null ? `, accuracy ${acc} m` : ''}`,
          table: spec.table,
          rowid: r._rowid as bigint,
          extra: {
            store,
            table: spec.table,
            subtype: spec.subtype,
            what: spec.subtype === 'device' || spec.table.endsWith('Harvest') ? 'position of the device' : 'position of the observed cell/access point (not the device)',
            ...keyVals,
            altitude_m: opt(r.Altitude),
            vertical_accuracy_m: sensor(r.VerticalAccuracy),
            speed_mps: sensor(r.Speed),
            course_deg: sensor(r.Course),
            confidence: opt(r.Confidence),
          },
        });
        if (!ok) noPos++;
        if (!ts || ts.invalid)
          ctx.warn(`${store} ${spec.table} row ${String(r._rowid)} has no usable Timestamp (${ts?.invalid ?? String(r.Timestamp)})`, {
            fileRowId: src.fileRowId,
            table: spec.table,
            rowid: r._rowid as bigint,
          });
        if (++done % 10_000 === 0) ctx.progress(done, total);
      }
    } catch (e) {
      ctx.warn(`${store}: ${spec.table} could not be read completely after ${done} rows (${(e as Error).message})`, {
        fileRowId: src.fileRowId,
        severity: 'error',
        table: spec.table,
      });
    }
    if (noPos)
      ctx.warn(`${store}: ${noPos} of ${done} ${spec.table} rows have no position (0,0 / accuracy -1); kept as events without coordinates`, {
        fileRowId: src.fileRowId,
        severity: 'info',
        table: spec.table,
      });
  }
}

const STORES = ['Library/Caches/locationd/consolidated.db', 'Library/Caches/locationd/cache_encryptedB.db'];

export const consolidatedLocations: Extractor = {
  id: 'locationd',
  title: 'Location caches (locationd consolidated.db, cache_encryptedB.db)',
  sources: STORES.map((path) => ({ domain: 'RootDomain', path })),
  kinds: [LOCATION_KIND],
  async run(ctx) {
    for (const p of STORES) await readStore(ctx, p);
  },
};
