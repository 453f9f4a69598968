// The overview's pictures: the day chart's range and the map's bundled land outline.
import { describe, expect, it } from 'vitest';
import { chartRange, dayChartSvg, mapSvg, type DayBucket } from '../src/report/charts.js';
import { landPath, resolutionFor } from '../src/report/basemap.js';

const bucket = (day: string, n: number): DayBucket => ({ day, kinds: new Map([['message', n]]) });

describe('day chart range', () => {
  it('covers the dense stretch and counts the stray events left out on each side', () => {
    // 3 stray events in 2019 and 2 in 2025; 100 events over ten days in March 2024.
    const days = [bucket('2019-01-05', 2), bucket('2019-06-01', 1), bucket('2025-01-01', 2)];
    for (let d = 1; d <= 10; d++) days.push(bucket(`2024-03-${String(d).padStart(2, '0')}`, 10));
    const r = chartRange(days);
    expect([r.from, r.to]).toEqual(['2024-03-01', '2024-03-10']);
    expect(r.note).toContain('3 earlier events (from 2019-01-05)');
    expect(r.note).toContain('2 later events (to 2025-01-01)');
    expect(r.note).toContain('95% of the dated events');
    const chart = dayChartSvg(days, ['message']);
    expect(chart.unit).toBe('day');
    expect(chart.svg).not.toContain('2019-01-05');
  });

  it('keeps the whole span when the events spread over it', () => {
    const days = Array.from({ length: 24 }, (_, i) => bucket(`20${20 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}-15`, 5));
    const r = chartRange(days);
    expect([r.from, r.to, r.note]).toEqual(['2020-01-15', '2021-12-15', '']);
  });
});

describe('map basemap', () => {
  const view = (lon0: number, lon1: number, lat0: number, lat1: number) => ({
    lon0,
    lon1,
    lat0,
    lat1,
    x: (lon: number) => ((lon - lon0) / (lon1 - lon0)) * 800,
    y: (lat: number) => ((lat1 - lat) / (lat1 - lat0)) * 400,
  });

  it('draws land where there is land and nothing over open ocean', () => {
    expect(landPath(view(-10, 30, 35, 60)).length).toBeGreaterThan(1000); // Europe
    expect(landPath(view(-150, -140, -5, 5))).toBe(''); // the middle of the Pacific
  });

  it('picks a finer outline for a smaller area', () => {
    expect([resolutionFor(150), resolutionFor(10), resolutionFor(1)]).toEqual(['110m', '50m', '10m']);
  });

  it('keeps a city map small, and fills a view that lies wholly inside a continent', () => {
    const paris = landPath(view(2.2, 2.5, 48.75, 48.95)); // no coast in view: the land covers it all
    expect(paris).toMatch(/^M[\d.-]+,[\d.-]+(L[\d.-]+,[\d.-]+)+Z$/);
    const xs = [...paris.matchAll(/[ML](-?[\d.]+),/g)].map((m) => Number(m[1]));
    expect(Math.min(...xs)).toBeLessThanOrEqual(0);
    expect(Math.max(...xs)).toBeGreaterThanOrEqual(800);
    expect(paris.length).toBeLessThan(2000);
    expect(landPath(view(7.1, 7.5, 43.6, 43.85)).length).toBeLessThan(20_000); // Nice, on the 10m coast
  });

  it('puts the outline inside the map picture, clipped to the plot', () => {
    const { svg } = mapSvg([
      { lat: 48.85, lon: 2.35, kind: 'photo', count: 1 },
      { lat: 40.71, lon: -74.0, kind: 'location', count: 2 },
    ]);
    expect(svg).toMatch(/<svg x="\d+" y="\d+" width="\d+" height="\d+" viewBox="[^"]+"><path d="M[^"]+" class="land"\/><\/svg>/);
    expect(svg).toContain('Natural Earth');
  });
});
