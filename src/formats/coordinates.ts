// The one test of a usable coordinate, shared by extractors (what to store) and renderers (what to draw).

/** A usable coordinate pair: finite, in range, and not the (0, 0) "no fix" placeholder. */
export function validCoordinate(lat: unknown, lon: unknown): { lat: number; lon: number } | null {
  const a = typeof lat === 'number' ? lat : Number(lat);
  const o = typeof lon === 'number' ? lon : Number(lon);
  if (lat == null || lon == null || !Number.isFinite(a) || !Number.isFinite(o)) return null;
  if (Math.abs(a) > 90 || Math.abs(o) > 180 || (a === 0 && o === 0)) return null;
  return { lat: a, lon: o };
}
