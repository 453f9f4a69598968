// routined's location cache: Cache.sqlite, table ZRTCLLOCATIONMO (docs/ios-formats.md §7): the phone's own
// fixes with ZTIMESTAMP (Mac seconds), ZLATITUDE, ZLONGITUDE, ZHORIZONTALACCURACY (m), ZVERTICALACCURACY,
// ZSPEED (m/s; -1 invalid), ZCOURSE (-1 invalid). Caches are often left out of backups: absent = not present.
//
// extra_json: { store, table, what, altitude_m, vertical_accuracy_m, speed_mps, course_deg, raw_latitude,
//   raw_longitude, raw_accuracy, no_location? }
import { macSeconds } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { accuracyOf, countRows, emitLocation, LOCATION_KIND } from '../locations/common.js';

const CACHE_PATHS = ['Library/Caches/com.apple.routined/Cache.sqlite'];
const sensor = (v: unknown) => {
  const n = v == null ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
};

async function readCache(ctx: ExtractorContext, relativePath: string): Promise<void> {
  const src = await ctx.openDatabase('HomeDomain', relativePath);
  if (!src) return;
  const table = 'ZRTCLLOCATIONMO';
  if (!hasTable(src.db, table)) throw new ArtifactError(`${relativePath} has no ${table} table (unknown schema)`);
  const c = columnsOf(src.db, table);
  const cols = ['ZTIMESTAMP', 'ZLATITUDE', 'ZLONGITUDE', 'ZHORIZONTALACCURACY', 'ZVERTICALACCURACY', 'ZALTITUDE', 'ZSPEED', 'ZCOURSE'].map((x) => colOrNull(c, x)).join(', ');
  const total = countRows(src.db, table);
  let done = 0;
  try {
    for (const r of src.db.prepare(`SELECT Z_PK AS pk, ${cols} FROM ${table} ORDER BY Z_PK`).iterate() as Iterable<Record<string, unknown>>) {
      const acc = accuracyOf(r.ZHORIZONTALACCURACY);
      const ts = macSeconds(r.ZTIMESTAMP);
      if (ts?.invalid)
        ctx.warn(`${table} Z_PK ${String(r.pk)}: ZTIMESTAMP ${ts.invalid}; kept without a time (raw value in ts_raw)`, { fileRowId: src.fileRowId, table, rowid: r.pk as bigint });
      emitLocation(ctx, src.fileRowId, {
        ts,
        lat: r.ZLATITUDE,
        lon: r.ZLONGITUDE,
        accuracy: r.ZHORIZONTALACCURACY,
        title: `Device position (routined Cache.sqlite)${acc !== null ? `, accuracy ${acc} m` : ''}`,
        table,
        rowid: r.pk as bigint,
        extra: {
          store: 'Cache.sqlite',
          table,
          what: 'position of the device',
          altitude_m: r.ZALTITUDE ?? null,
          vertical_accuracy_m: sensor(r.ZVERTICALACCURACY),
          speed_mps: sensor(r.ZSPEED),
          course_deg: sensor(r.ZCOURSE),
        },
      });
      if (++done % 10_000 === 0) ctx.progress(done, total);
    }
  } catch (e) {
    ctx.warn(`${relativePath}: ${table} could not be read completely after ${done} rows (${(e as Error).message})`, { fileRowId: src.fileRowId, severity: 'error', table });
  }
}

export const routinedLocations: Extractor = {
  id: 'routined',
  title: 'Location history (routined Cache.sqlite)',
  sources: CACHE_PATHS.map((path) => ({ domain: 'HomeDomain', path })),
  kinds: [LOCATION_KIND],
  async run(ctx) {
    for (const p of CACHE_PATHS) await readCache(ctx, p);
  },
};
