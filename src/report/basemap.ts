// Land outlines under the report's maps, from Natural Earth (public domain) as packaged by world-atlas.
// Bundled, so the map stays offline: the outline is projected here and inlined as one SVG path.
import { createRequire } from 'node:module';
import { feature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';

type Ring = [number, number][];
/** A ring with its bounding box, computed once when the outline is loaded (maps test every ring against the view). */
interface BoxedRing {
  points: Ring;
  minLon: number;
  maxLon: number;
  minLat: number;
  maxLat: number;
}
type Resolution = '110m' | '50m' | '10m';

const require = createRequire(import.meta.url);
const cache = new Map<Resolution, BoxedRing[]>();

/** Every land ring (outer and holes) at one Natural Earth resolution, read once per process. */
function landRings(res: Resolution): BoxedRing[] {
  const cached = cache.get(res);
  if (cached) return cached;
  const topo = require(`world-atlas/land-${res}.json`) as Topology<{ land: GeometryCollection }>;
  const land = feature(topo, topo.objects.land);
  const rings: Ring[] = [];
  for (const f of land.features) {
    const g = f.geometry;
    if (g.type === 'Polygon') rings.push(...(g.coordinates as Ring[]));
    else if (g.type === 'MultiPolygon') for (const p of g.coordinates as Ring[][]) rings.push(...p);
  }
  const boxed = rings.map((points) => {
    const b: BoxedRing = { points, minLon: Infinity, maxLon: -Infinity, minLat: Infinity, maxLat: -Infinity };
    for (const [lon, lat] of points) {
      if (lon < b.minLon) b.minLon = lon;
      if (lon > b.maxLon) b.maxLon = lon;
      if (lat < b.minLat) b.minLat = lat;
      if (lat > b.maxLat) b.maxLat = lat;
    }
    return b;
  });
  cache.set(res, boxed);
  return boxed;
}

/** The coarsest outline that still looks right at this span: 110m for the world, 10m for a city. */
export function resolutionFor(latSpan: number): Resolution {
  return latSpan > 30 ? '110m' : latSpan > 3 ? '50m' : '10m';
}

export interface View {
  lon0: number;
  lon1: number;
  lat0: number;
  lat1: number;
  x(lon: number): number;
  y(lat: number): number;
}

/**
 * The SVG path data of the land inside a view: every ring near it is projected, clipped to the view (padded a
 * little; the caller's viewport clips the rest) and thinned to points at least half a pixel apart, so a city map
 * of the 10m outline, or a view that lies wholly inside a continent, stays a few kilobytes.
 */
export function landPath(view: View): string {
  const res = resolutionFor(view.lat1 - view.lat0);
  const padLon = (view.lon1 - view.lon0) * 0.05,
    padLat = (view.lat1 - view.lat0) * 0.05;
  const xs = [view.x(view.lon0 - padLon), view.x(view.lon1 + padLon)],
    ys = [view.y(view.lat0 - padLat), view.y(view.lat1 + padLat)];
  const box = { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
  const out: string[] = [];
  for (const ring of landRings(res)) {
    if (ring.maxLon < view.lon0 - padLon || ring.minLon > view.lon1 + padLon || ring.maxLat < view.lat0 - padLat || ring.minLat > view.lat1 + padLat) continue;
    const clipped = clipToBox(
      ring.points.map(([lon, lat]) => [view.x(lon), view.y(lat)] as [number, number]),
      box,
    );
    let d = '';
    let px = Number.NaN,
      py = Number.NaN;
    for (const [x, y] of clipped) {
      if (Math.abs(x - px) < 0.5 && Math.abs(y - py) < 0.5) continue;
      d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
      px = x;
      py = y;
    }
    if (d.includes('L')) out.push(`${d}Z`);
  }
  return out.join('');
}

/** Sutherland–Hodgman: the part of a closed polygon inside an axis-aligned box (a polygon, possibly empty). */
function clipToBox(poly: [number, number][], b: { x0: number; x1: number; y0: number; y1: number }): [number, number][] {
  const edges: [(p: [number, number]) => boolean, (p: [number, number], q: [number, number]) => [number, number]][] = [
    [(p) => p[0] >= b.x0, (p, q) => [b.x0, p[1] + ((q[1] - p[1]) * (b.x0 - p[0])) / (q[0] - p[0])]],
    [(p) => p[0] <= b.x1, (p, q) => [b.x1, p[1] + ((q[1] - p[1]) * (b.x1 - p[0])) / (q[0] - p[0])]],
    [(p) => p[1] >= b.y0, (p, q) => [p[0] + ((q[0] - p[0]) * (b.y0 - p[1])) / (q[1] - p[1]), b.y0]],
    [(p) => p[1] <= b.y1, (p, q) => [p[0] + ((q[0] - p[0]) * (b.y1 - p[1])) / (q[1] - p[1]), b.y1]],
  ];
  let out = poly;
  for (const [inside, cross] of edges) {
    const input = out;
    out = [];
    for (let i = 0; i < input.length; i++) {
      const cur = input[i],
        prev = input[(i + input.length - 1) % input.length];
      if (inside(cur)) {
        if (!inside(prev)) out.push(cross(prev, cur));
        out.push(cur);
      } else if (inside(prev)) out.push(cross(prev, cur));
    }
    if (!out.length) break;
  }
  return out;
}

export const BASEMAP_CREDIT = 'Coastlines: Natural Earth (public domain)';
