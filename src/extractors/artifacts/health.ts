// Apple Health: HealthDomain Health/healthdb_secure.sqlite (samples, workouts, routes) and Health/healthdb.sqlite
// (sources and source_devices: which app or device recorded a sample). Apple keeps both only in encrypted backups.
// Column meanings (iLEAPP health.py, after Heather Mahalik & Jared Barnhart's SANS DFIR Summit 2022 talk and Sarah
// Edwards' APOLLO; christophhagen/HealthDB for the route tables):
// - samples(data_id, start_date, end_date, data_type): seconds since 2001; data_type 7 step count, 8 walking/running
//   distance (metres), 102 workout route; quantity_samples(data_id, quantity); objects(data_id, provenance, creation_date)
//   → data_provenances(ROWID, source_id, device_id, origin_product_type, source_version, tz_name) →
//   healthdb.sqlite sources(ROWID, name, bundle_id) and source_devices(ROWID, name, model, hardware).
// - iOS ≤ 15: workouts(data_id, activity_type, duration, total_distance, total_energy_burned,
//   total_basal_energy_burned), times in samples. iOS 16+: workouts(data_id, total_distance, goal_type, goal) plus
//   workout_activities(ROWID, owner_id → workouts.data_id, activity_type, location_type 2 indoor/3 outdoor,
//   start_date, end_date, duration) and workout_statistics(workout_activity_id, data_type 10 active / 9 resting
//   energy, quantity in kcal).
// - Routes: location_series_data(series_identifier = data_series.hfd_key, timestamp, latitude, longitude,
//   altitude, speed, course, horizontal_accuracy); data_series.data_id is the route sample, tied to its workout
//   through associations(parent_id = workout data_id, child_id = route data_id).
// Events: one 'workout' event per workout (activity) at its start; one 'location' event per route point; and, so
// 100k step samples do not become 100k events, ONE 'health-activity' event per UTC hour per type (steps, distance)
// with the sum, the number of samples and the sources that recorded them.
import type Database from 'better-sqlite3';
import { macSeconds } from '../../formats/appleTime.js';
import { formatDuration } from '../../formats/duration.js';
import { columnsOf, hasTable, sqlText, ArtifactError, type Extractor, type ExtractorContext } from '../types.js';
import { timeOf, usOf } from '../common/time.js';
import { LOCATION_KIND, emitLocation } from '../locations/common.js';

const ID = 'health';
const DOMAIN = 'HealthDomain';
const SECURE = 'Health/healthdb_secure.sqlite';
const SOURCES_DB = 'Health/healthdb.sqlite';
/** samples.data_type values summarised per hour (HealthKit quantity types as Health stores them). */
const QUANTITY_TYPES: Record<number, { name: string; unit: string }> = {
  7: { name: 'Steps', unit: 'steps' },
  8: { name: 'Walking + running distance', unit: 'm' },
};
/** HKWorkoutActivityType (the public HealthKit enumeration; iLEAPP health.py lists the same codes). */
const ACTIVITY: Record<number, string> = {
  13: 'Cycling',
  16: 'Elliptical',
  20: 'Functional strength training',
  24: 'Hiking',
  35: 'Rowing',
  37: 'Running',
  46: 'Swimming',
  50: 'Traditional strength training',
  52: 'Walking',
  57: 'Yoga',
  63: 'HIIT',
  3000: 'Other',
};
/** Plausible Apple-time range (1970–2100) for the SQL-side hour buckets; rows outside are handled one by one. */
const MIN_MAC = -978_307_200;
const MAX_MAC = 4_102_444_800 - 978_307_200;

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v == null || Number.isNaN(Number(v)) ? null : Number(v));

/** data_provenances ROWID → a readable source: the device name, else the source (app) name. */
function provenanceNames(db: Database.Database, names: { sources: Map<number, string>; devices: Map<number, string> }): Map<number, string> {
  const out = new Map<number, string>();
  if (!hasTable(db, 'data_provenances')) return out;
  const c = columnsOf(db, 'data_provenances');
  const q = `SELECT ROWID AS id, ${c.has('source_id') ? 'source_id' : 'NULL'} AS source_id, ${c.has('device_id') ? 'device_id' : 'NULL'} AS device_id,
    ${c.has('origin_product_type') ? 'origin_product_type' : 'NULL'} AS product FROM data_provenances`;
  for (const r of db.prepare(q).safeIntegers(false).all() as Row[]) {
    const device = names.devices.get(Number(r.device_id));
    const source = names.sources.get(Number(r.source_id));
    const product = sqlText(r.product);
    const label = [source, device && device !== source ? device : null].filter(Boolean).join(' on ') || product;
    if (label) out.set(Number(r.id), label);
  }
  return out;
}

async function sourceNames(ctx: ExtractorContext): Promise<{ sources: Map<number, string>; devices: Map<number, string> }> {
  const sources = new Map<number, string>();
  const devices = new Map<number, string>();
  let src: Awaited<ReturnType<ExtractorContext['openDatabase']>> = null;
  try {
    src = await ctx.openDatabase(DOMAIN, SOURCES_DB);
  } catch (e) {
    ctx.warn(`${SOURCES_DB} could not be read (${(e as Error).message}); sources are shown by number`);
    return { sources, devices };
  }
  if (!src) return { sources, devices };
  try {
    if (hasTable(src.db, 'sources') && columnsOf(src.db, 'sources').has('name'))
      for (const r of src.db.prepare('SELECT ROWID AS id, name FROM sources').safeIntegers(false).all() as Row[]) {
        const n = sqlText(r.name);
        if (n) sources.set(Number(r.id), n);
      }
    if (hasTable(src.db, 'source_devices') && columnsOf(src.db, 'source_devices').has('name'))
      for (const r of src.db.prepare('SELECT ROWID AS id, name FROM source_devices').safeIntegers(false).all() as Row[]) {
        const n = sqlText(r.name);
        if (n && n !== '__NONE__') devices.set(Number(r.id), n);
      }
  } catch (e) {
    ctx.warn(`${SOURCES_DB} could not be read (${(e as Error).message}); sources are shown by number`, { fileRowId: src.fileRowId });
  }
  return { sources, devices };
}

function provenanceSql(db: Database.Database, dataId: string): string {
  return hasTable(db, 'objects') && columnsOf(db, 'objects').has('provenance') ? `(SELECT o.provenance FROM objects o WHERE o.data_id = ${dataId})` : 'NULL';
}

async function workouts(ctx: ExtractorContext, db: Database.Database, fileRowId: number, prov: Map<number, string>): Promise<void> {
  if (!hasTable(db, 'workouts')) return;
  const wc = columnsOf(db, 'workouts');
  const modern = hasTable(db, 'workout_activities');
  const w = (c: string) => (wc.has(c) ? `w.${c}` : 'NULL');
  let q: string;
  let table: string;
  if (modern) {
    const ac = columnsOf(db, 'workout_activities');
    const a = (c: string) => (ac.has(c) ? `a.${c}` : 'NULL');
    const stats = hasTable(db, 'workout_statistics');
    const stat = (t: number) => (stats ? `(SELECT max(quantity) FROM workout_statistics s WHERE s.workout_activity_id = a.ROWID AND s.data_type = ${t})` : 'NULL');
    table = 'workout_activities';
    q = `SELECT a.ROWID AS rowid, a.owner_id AS workout_id, ${a('start_date')} AS start_date, ${a('end_date')} AS end_date, ${a('duration')} AS duration,
        ${a('activity_type')} AS activity_type, ${a('location_type')} AS location_type, ${a('is_primary_activity')} AS is_primary,
        ${w('total_distance')} AS distance, ${stat(10)} AS energy, ${stat(9)} AS basal_energy, ${provenanceSql(db, 'a.owner_id')} AS provenance
      FROM workout_activities a LEFT JOIN workouts w ON w.data_id = a.owner_id ORDER BY a.ROWID`;
  } else {
    table = 'workouts';
    q = `SELECT w.data_id AS rowid, w.data_id AS workout_id, s.start_date AS start_date, s.end_date AS end_date, ${w('duration')} AS duration,
        ${w('activity_type')} AS activity_type, NULL AS location_type, NULL AS is_primary, ${w('total_distance')} AS distance,
        ${w('total_energy_burned')} AS energy, ${w('total_basal_energy_burned')} AS basal_energy, ${provenanceSql(db, 'w.data_id')} AS provenance
      FROM workouts w LEFT JOIN samples s ON s.data_id = w.data_id ORDER BY w.data_id`;
  }
  const routes = hasTable(db, 'location_series_data') && hasTable(db, 'data_series') && hasTable(db, 'associations');
  const routeQ = routes
    ? db.prepare(`SELECT l.series_identifier AS series, l.timestamp AS ts, l.latitude AS lat, l.longitude AS lon, l.altitude AS alt,
          l.speed AS speed, l.course AS course, l.horizontal_accuracy AS acc
        FROM associations x JOIN data_series d ON d.data_id = x.child_id JOIN location_series_data l ON l.series_identifier = d.hfd_key
        WHERE x.parent_id = ? ORDER BY l.series_identifier, l.timestamp`)
    : null;
  for (const r of db.prepare(q).safeIntegers(false).iterate() as Iterable<Row>) {
    const rowid = Number(r.rowid);
    const where = { fileRowId, table, rowid };
    const start = timeOf(ctx, r.start_date, 'mac-s', { ...where, column: 'start_date' });
    const end = timeOf(ctx, r.end_date, 'mac-s', { ...where, column: 'end_date' });
    if (!start) ctx.warn(`${table} row ${rowid} has no start date`, where);
    const type = num(r.activity_type);
    const activity = type === null ? 'Workout' : (ACTIVITY[type] ?? `Workout (activity type ${type})`);
    const duration = num(r.duration);
    const distance = num(r.distance);
    const energy = num(r.energy);
    const source = r.provenance == null ? null : (prov.get(Number(r.provenance)) ?? null);
    const parts = [duration ? formatDuration(duration) : null, distance ? `distance ${distance}` : null, energy ? `${Math.round(energy * 100) / 100} kcal` : null].filter(Boolean);
    const workoutId = num(r.workout_id);
    ctx.emit({
      ts: start,
      kind: 'workout',
      action: 'started',
      title: `${activity}${parts.length ? `, ${parts.join(', ')}` : ''}${source ? ` (${source})` : ''}`,
      service: source,
      durationS: duration,
      sourceFileId: fileRowId,
      sourceTable: table,
      sourceRowid: rowid,
      extra: {
        activity_type: type,
        activity,
        workout_data_id: workoutId,
        ended_utc_us: usOf(end),
        duration_s: duration,
        total_distance: distance,
        active_energy_kcal: energy,
        resting_energy_kcal: num(r.basal_energy),
        location_type: num(r.location_type) === 2 ? 'indoor' : num(r.location_type) === 3 ? 'outdoor' : num(r.location_type),
        is_primary_activity: r.is_primary == null ? null : Number(r.is_primary) === 1,
        source,
        provenance: num(r.provenance),
      },
    });
    if (routeQ && workoutId !== null && (!modern || r.is_primary == null || Number(r.is_primary) === 1)) {
      for (const p of routeQ.safeIntegers(false).iterate(workoutId) as Iterable<Row>) {
        // location_series_data is WITHOUT ROWID: a point is named by its key, series_identifier (as the row) and timestamp.
        const pointRowid = Number(p.series);
        const pw = { fileRowId, table: 'location_series_data', rowid: pointRowid };
        emitLocation(ctx, fileRowId, {
          ts: timeOf(ctx, p.ts, 'mac-s', { ...pw, column: 'timestamp' }),
          lat: p.lat,
          lon: p.lon,
          accuracy: p.acc,
          title: `${activity} route point`,
          table: 'location_series_data',
          rowid: pointRowid,
          extra: {
            source: 'Health workout route',
            series_identifier: num(p.series),
            timestamp_raw: p.ts ?? null,
            altitude_m: num(p.alt),
            speed_mps: num(p.speed),
            course: num(p.course),
            workout_table: table,
            workout_rowid: rowid,
          },
        });
      }
    }
  }
}

function hourly(ctx: ExtractorContext, db: Database.Database, fileRowId: number, prov: Map<number, string>): void {
  if (!hasTable(db, 'samples') || !hasTable(db, 'quantity_samples')) return;
  const types = Object.keys(QUANTITY_TYPES).join(',');
  const provSql = provenanceSql(db, 's.data_id');
  const groups = db
    .prepare(`SELECT s.data_type AS type, CAST(floor(s.start_date / 3600.0) AS INTEGER) AS hour, sum(q.quantity) AS total, count(*) AS n,
        min(s.data_id) AS first_id, max(s.data_id) AS last_id, group_concat(DISTINCT ${provSql}) AS provs
      FROM samples s JOIN quantity_samples q ON q.data_id = s.data_id
      WHERE s.data_type IN (${types}) AND typeof(s.start_date) IN ('integer', 'real') AND s.start_date BETWEEN ${MIN_MAC} AND ${MAX_MAC}
      GROUP BY s.data_type, hour ORDER BY s.data_type, hour`)
    .safeIntegers(false)
    .all() as Row[];
  for (const g of groups) {
    const t = QUANTITY_TYPES[Number(g.type)];
    const hour = Number(g.hour);
    const total = Math.round(Number(g.total) * 1000) / 1000;
    const n = Number(g.n);
    const sources = [
      ...new Set(
        String(g.provs ?? '')
          .split(',')
          .filter(Boolean)
          .map((p) => prov.get(Number(p)) ?? `provenance ${p}`),
      ),
    ];
    ctx.emit({
      ts: macSeconds(hour * 3600),
      kind: 'health-activity',
      action: 'hourly-total',
      title: `${t.name}: ${total} ${t.unit} in the hour (${n} sample${n === 1 ? '' : 's'})${sources.length ? ` from ${sources.join(', ')}` : ''}`,
      service: sources.join(', ') || null,
      durationS: 3600,
      sourceFileId: fileRowId,
      sourceTable: 'samples',
      sourceRowid: Number(g.first_id),
      extra: { data_type: Number(g.type), quantity: t.name, unit: t.unit, total, samples: n, first_data_id: Number(g.first_id), last_data_id: Number(g.last_id), sources },
    });
  }
  // Samples whose start_date is no usable time: each warned (table and row) and kept as its own undated event.
  const odd = db
    .prepare(`SELECT s.data_id AS id, s.data_type AS type, s.start_date AS start_date, q.quantity AS quantity FROM samples s JOIN quantity_samples q ON q.data_id = s.data_id
      WHERE s.data_type IN (${types}) AND NOT (typeof(s.start_date) IN ('integer', 'real') AND s.start_date BETWEEN ${MIN_MAC} AND ${MAX_MAC}) ORDER BY s.data_id`)
    .safeIntegers(false)
    .all() as Row[];
  for (const r of odd) {
    const id = Number(r.id);
    const t = QUANTITY_TYPES[Number(r.type)];
    const ts = timeOf(ctx, r.start_date, 'mac-s', { fileRowId, table: 'samples', rowid: id, column: 'start_date' });
    if (!ts) ctx.warn(`samples row ${id} has no start_date`, { fileRowId, table: 'samples', rowid: id });
    ctx.emit({
      ts,
      kind: 'health-activity',
      action: 'sample',
      title: `${t.name}: ${num(r.quantity)} ${t.unit} (sample without a usable time)`,
      sourceFileId: fileRowId,
      sourceTable: 'samples',
      sourceRowid: id,
      extra: { data_type: Number(r.type), quantity: t.name, unit: t.unit, total: num(r.quantity), samples: 1 },
    });
  }
}

export const health: Extractor = {
  id: ID,
  title: 'Health (workouts, routes, hourly steps and distance)',
  sources: [
    { domain: DOMAIN, path: SECURE },
    { domain: DOMAIN, path: SOURCES_DB },
  ],
  encryptedOnly: true, // Apple: Health data is kept only in encrypted backups
  kinds: [
    {
      kind: 'workout',
      label: 'Workouts',
      color: '#c2410c',
      view: 'table',
      dataType: 'ios:health:workout',
      actions: { started: 'Workout Start' },
    },
    {
      kind: 'health-activity',
      label: 'Steps and distance (hourly)',
      color: '#4d7c0f',
      view: 'table',
      dataType: 'ios:health:activity_hour',
      actions: { 'hourly-total': 'Hourly Activity Total', sample: 'Activity Sample' },
    },
    LOCATION_KIND,
  ],
  async run(ctx) {
    const src = await ctx.openDatabase(DOMAIN, SECURE);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'samples')) throw new ArtifactError(`${SECURE} has no samples table (unknown schema)`);
    const names = await sourceNames(ctx);
    const prov = provenanceNames(db, names);
    await workouts(ctx, db, src.fileRowId, prov);
    hourly(ctx, db, src.fileRowId, prov);
  },
};
