// Health: healthdb_secure.sqlite + healthdb.sqlite (two schema generations) through ingest().
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';
import { events, extra, ingestUnchanged, warnings, truncatedSqlite } from './artifactKit.js';
import { addHealth, type HealthGeneration, type HealthTruth } from '../fixtures/artifacts/health.js';

process.env.TZ = 'Pacific/Kiritimati';
const MAC_US = 978_307_200_000_000;
const us = (mac: number) => Math.round((mac + 978_307_200) * 1e6);

describe.each(['ios15', 'ios17'] as HealthGeneration[])('health (%s schema)', (generation) => {
  it('workouts, route points and one event per hour per type, with sources; hostile times warned', async () => {
    let h!: HealthTruth;
    const t = fixture({
      contacts: 1,
      calls: 1,
      callsInWal: 0,
      extend: (w, truth, rng, tmp) => {
        h = addHealth(w, rng, tmp, { generation, end: truth.device.backupDate });
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root, ['health']);
    expect(unchanged).toBe(true);
    const ev = events(casePath, 'health');
    expect(result.summaries.find((s) => s.extractor === 'health')!.events).toBe(ev.length);

    // One hourly event per (type, hour): 409 step and distance samples become h.hours.length events.
    const hourly = ev.filter((e) => e.action === 'hourly-total').sort((a, b) => extra(a).data_type - extra(b).data_type || a.ts_utc_us! - b.ts_utc_us!);
    expect(h.hours.length).toBe(4);
    expect(
      hourly.map((e) => ({
        ts: e.ts_utc_us,
        table: e.source_table,
        rowid: e.source_rowid,
        type: extra(e).data_type,
        total: extra(e).total,
        n: extra(e).samples,
        sources: extra(e).sources,
      })),
    ).toEqual(h.hours.map((x) => ({ ts: x.hourMac * 1e6 + MAC_US, table: 'samples', rowid: x.firstId, type: x.type, total: x.total, n: x.n, sources: x.sources })));
    const big = hourly.find((e) => extra(e).samples === 400)!;
    expect(big.title).toBe(`Steps: ${extra(big).total} steps in the hour (400 samples) from Sam’s Apple Watch on Apple Watch`);

    // Workouts: exact start, duration, type, energy, distance and source.
    const wo = ev.filter((e) => e.kind === 'workout');
    expect(
      wo.map((e) => ({
        table: e.source_table,
        rowid: e.source_rowid,
        ts: e.ts_utc_us,
        dur: e.duration_s,
        type: extra(e).activity_type,
        kcal: extra(e).active_energy_kcal,
        dist: extra(e).total_distance,
        end: extra(e).ended_utc_us,
        source: extra(e).source,
      })),
    ).toEqual(
      h.workouts.map((x) => ({
        table: x.table,
        rowid: x.rowid,
        ts: x.startMac < 1e12 ? us(x.startMac) : null,
        dur: x.duration,
        type: x.activityType,
        kcal: x.energy,
        dist: x.distance,
        end: x.endMac < 1e12 ? us(x.endMac) : null,
        source: x.source,
      })),
    );
    expect(wo[0].title).toBe('Running, 30 min 21 s, distance 5.12, 402.25 kcal (Sam’s Apple Watch on Apple Watch)');

    // Route points (ios17 only): location events at each timestamp with the position.
    const pts = ev.filter((e) => e.kind === 'location');
    const pos = positions(pts);
    expect(pos).toEqual(h.route.map((p) => ({ ts: us(p.tsMac), table: 'location_series_data', rowid: p.series, lat: p.lat, lon: p.lon, workout: p.workoutRowid })));
    expect(pts.length).toBe(generation === 'ios17' ? 3 : 0);

    // 1e300: the sample and the workout are kept without a time, each warned naming table and row.
    const w = warnings(casePath, 'health');
    expect(w.some((x) => x.source_table === 'samples' && x.source_rowid === h.absurdSampleId && /samples row \d+: start_date holds an impossible time/.test(x.message))).toBe(true);
    const wt = generation === 'ios17' ? 'workout_activities' : 'workouts';
    expect(
      w.some(
        (x) =>
          x.source_table === wt && x.source_rowid === h.absurdWorkoutRowid && new RegExp(`${wt} row ${h.absurdWorkoutRowid}: start_date holds an impossible time`).test(x.message),
      ),
    ).toBe(true);
    const odd = ev.filter((e) => e.action === 'sample');
    expect(odd.map((e) => [e.source_rowid, e.ts_utc_us, extra(e).total])).toEqual([[h.absurdSampleId, null, 42]]);
  }, 60_000);
});

/** Route points as the test compares them (latitude and longitude are event columns, the workout row is in extra). */
function positions(pts: ReturnType<typeof events>) {
  return pts.map((e) => {
    const x = extra(e);
    const row = e as unknown as { latitude: number; longitude: number };
    return { ts: e.ts_utc_us, table: e.source_table, rowid: e.source_rowid, lat: row.latitude, lon: row.longitude, workout: x.workout_rowid };
  });
}

describe('health: broken database', () => {
  it('a truncated healthdb_secure.sqlite fails alone; calls still extracted', async () => {
    const t = fixture({
      contacts: 2,
      calls: 3,
      callsInWal: 0,
      extend: (w) => {
        w.addFile('HealthDomain', 'Health/healthdb_secure.sqlite', truncatedSqlite());
      },
    });
    const { casePath, result, unchanged } = await ingestUnchanged(t.root);
    expect(unchanged).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'health')!.status).toBe('failed');
    expect(warnings(casePath, 'health').some((x) => x.severity === 'error')).toBe(true);
    expect(result.summaries.find((s) => s.extractor === 'calls')!.events).toBe(3);
  }, 60_000);
});
