// Pictures for the overview, drawn in code as plain SVG (no scripts, no external references).
// Every piece of text that can come from evidence goes through esc().
import { kindColor } from './describe.js';
import { landPath, BASEMAP_CREDIT } from './basemap.js';

/** SVG markup built here (never evidence-supplied markup); the report template only inlines these. */
export class TrustedSvg {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (n: number) => (Math.round(n * 10) / 10).toString();
export const fmtInt = (n: number) => n.toLocaleString('en-US');

export interface DayBucket {
  day: string;
  kinds: Map<string, number>;
}

/** A "nice" axis maximum and step for counts. */
function niceScale(max: number, ticks = 4): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const st = Math.max(1, step);
  return { top: Math.ceil(max / st) * st, step: st };
}

function dayNumber(day: string): number {
  const [y, m, d] = day.split('-').map(Number);
  return Math.floor(Date.UTC(y, m - 1, d) / 86_400_000);
}
function dayFromNumber(n: number): string {
  return new Date(n * 86_400_000).toISOString().slice(0, 10);
}

/** Events per day (per week or month for long spans), stacked by kind. Days are calendar days in the report zone. */
export function dayChartSvg(buckets: DayBucket[], kinds: string[]): { svg: string; unit: string; note: string } {
  if (!buckets.length) return { svg: '', unit: 'day', note: '' };
  const range = chartRange(buckets);
  const inRange = buckets.filter((b) => b.day >= range.from && b.day <= range.to);
  const chart = drawDayChart(inRange, kinds);
  return { ...chart, note: range.note };
}

/**
 * The days the chart covers. A few stray events years away from the rest (a contact card from 2011, a photo
 * with a wrong clock) would squeeze everything else into the last bars: when 90 % of the dated events fall in
 * less than a quarter of the span, the chart covers the shortest stretch of days holding them, and the caption
 * counts the events left out on each side.
 */
export function chartRange(buckets: DayBucket[]): { from: string; to: string; note: string } {
  const days = buckets.map((b) => ({ day: dayNumber(b.day), n: [...b.kinds.values()].reduce((a, c) => a + c, 0) })).sort((a, b) => a.day - b.day);
  const total = days.reduce((a, d) => a + d.n, 0);
  const first = days[0].day,
    last = days[days.length - 1].day;
  const whole = { from: dayFromNumber(first), to: dayFromNumber(last), note: '' };
  const span = last - first + 1;
  if (span <= 60 || total < 20) return whole;
  // Shortest window [i, j] of days holding at least 90 % of the events (two pointers over the sorted days).
  let best: [number, number] = [0, days.length - 1];
  let inWindow = 0;
  for (let i = 0, j = 0; j < days.length; j++) {
    inWindow += days[j].n;
    while (inWindow - days[i].n >= 0.9 * total) inWindow -= days[i++].n;
    if (inWindow >= 0.9 * total && days[j].day - days[i].day < days[best[1]].day - days[best[0]].day) best = [i, j];
  }
  const from = days[best[0]].day,
    to = days[best[1]].day;
  if (to - from + 1 >= span / 4) return whole;
  const count = (pred: (day: number) => boolean) => days.filter((d) => pred(d.day)).reduce((a, d) => a + d.n, 0);
  const before = count((d) => d < from),
    after = count((d) => d > to);
  const parts = [
    before ? `${fmtInt(before)} earlier event${before === 1 ? '' : 's'} (from ${whole.from})` : '',
    after ? `${fmtInt(after)} later event${after === 1 ? '' : 's'} (to ${whole.to})` : '',
  ].filter(Boolean);
  const share = Math.floor((100 * (total - before - after)) / total);
  return {
    from: dayFromNumber(from),
    to: dayFromNumber(to),
    note: `The chart covers ${dayFromNumber(from)} to ${dayFromNumber(to)}, which hold ${share}% of the dated events; ${parts.join(' and ')} lie outside it and are listed in the timeline.`,
  };
}

function drawDayChart(buckets: DayBucket[], kinds: string[]): { svg: string; unit: string } {
  const nums = buckets.map((b) => dayNumber(b.day));
  const first = Math.min(...nums),
    last = Math.max(...nums);
  const span = last - first + 1;
  const unit = span <= 120 ? 'day' : span <= 3 * 365 ? 'week' : 'month';
  // Bucket key: the first calendar day of the day/week (Monday)/month.
  const keyOf = (n: number): number => {
    if (unit === 'day') return n;
    if (unit === 'week') return n - ((new Date(n * 86_400_000).getUTCDay() + 6) % 7);
    const d = new Date(n * 86_400_000);
    return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 86_400_000);
  };
  const next = (k: number): number => {
    if (unit === 'day') return k + 1;
    if (unit === 'week') return k + 7;
    const d = new Date(k * 86_400_000);
    return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 86_400_000);
  };
  const agg = new Map<number, Map<string, number>>();
  buckets.forEach((b, i) => {
    const k = keyOf(nums[i]);
    let m = agg.get(k);
    if (!m) agg.set(k, (m = new Map()));
    for (const [kind, c] of b.kinds) m.set(kind, (m.get(kind) ?? 0) + c);
  });
  const keys: number[] = [];
  for (let k = keyOf(first); k <= last; k = next(k)) keys.push(k);
  const totals = keys.map((k) => [...(agg.get(k)?.values() ?? [])].reduce((a, b) => a + b, 0));
  const { top, step } = niceScale(Math.max(...totals));
  const W = 900,
    H = 260,
    L = 56,
    R = 12,
    T = 14,
    B = 48;
  const pw = W - L - R,
    ph = H - T - B;
  const bw = pw / keys.length;
  const y = (v: number) => T + ph - (v / top) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="Events per ${unit} by kind">`);
  for (let v = 0; v <= top; v += step) {
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${num(y(v))}" y2="${num(y(v))}" class="grid"/><text x="${L - 6}" y="${num(y(v) + 4)}" text-anchor="end" class="tick">${fmtInt(v)}</text>`,
    );
  }
  keys.forEach((k, i) => {
    let acc = 0;
    const m = agg.get(k);
    const x = L + i * bw;
    kinds.forEach((kind, ki) => {
      const c = m?.get(kind) ?? 0;
      if (!c) return;
      const y0 = y(acc),
        y1 = y(acc + c);
      acc += c;
      parts.push(
        `<rect x="${num(x + bw * 0.1)}" y="${num(y1)}" width="${num(Math.max(0.6, bw * 0.8))}" height="${num(Math.max(0.5, y0 - y1))}" fill="${kindColor(kind, ki)}"><title>${esc(dayFromNumber(k))}: ${fmtInt(c)} ${esc(kind)}</title></rect>`,
      );
    });
  });
  // About eight date labels along the axis.
  const every = Math.max(1, Math.ceil(keys.length / 8));
  keys.forEach((k, i) => {
    if (i % every) return;
    const label = unit === 'month' ? dayFromNumber(k).slice(0, 7) : dayFromNumber(k);
    parts.push(`<text x="${num(L + i * bw + bw / 2)}" y="${H - B + 16}" text-anchor="middle" class="tick">${label}</text>`);
  });
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}" class="axis"/>`);
  let lx = L;
  kinds.forEach((kind, ki) => {
    parts.push(`<rect x="${lx}" y="${H - 16}" width="10" height="10" fill="${kindColor(kind, ki)}"/><text x="${lx + 14}" y="${H - 7}" class="legend">${esc(kind)}</text>`);
    lx += 24 + kind.length * 7;
  });
  parts.push('</svg>');
  return { svg: parts.join(''), unit };
}

/** Horizontal bars: the counterparts with the most events. */
export function counterpartChartSvg(top: { name: string; count: number }[]): string {
  if (!top.length) return '';
  const W = 900,
    row = 22,
    L = 330,
    R = 70,
    T = 6;
  const H = T + top.length * row + 6;
  const max = Math.max(...top.map((t) => t.count));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="Top counterparts">`];
  top.forEach((t, i) => {
    const yy = T + i * row;
    const w = ((W - L - R) * t.count) / max;
    const label = t.name.length > 46 ? `${t.name.slice(0, 45)}…` : t.name;
    parts.push(`<text x="${L - 8}" y="${yy + 15}" text-anchor="end" class="label">${esc(label)}</text>`);
    parts.push(`<rect x="${L}" y="${yy + 3}" width="${num(Math.max(1, w))}" height="${row - 7}" class="bar"><title>${esc(t.name)}: ${fmtInt(t.count)}</title></rect>`);
    parts.push(`<text x="${num(L + w + 6)}" y="${yy + 15}" class="tick">${fmtInt(t.count)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface MapPoint {
  lat: number;
  lon: number;
  kind: string;
  count: number;
}

/**
 * When points spread over a large area, the busiest place deserves its own map: the points within ±0.5°
 * of the 0.5° cell holding the most events. Null when one map already shows everything at a useful scale.
 */
export function densestArea(all: MapPoint[]): { points: MapPoint[]; lat: number; lon: number } | null {
  if (all.length < 2) return null;
  let minLat = Infinity,
    maxLat = -Infinity,
    minLon = Infinity,
    maxLon = -Infinity;
  for (const p of all) {
    minLat = Math.min(minLat, p.lat);
    maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon);
    maxLon = Math.max(maxLon, p.lon);
  }
  if (maxLat - minLat < 2 && maxLon - minLon < 2) return null;
  const cells = new Map<string, number>();
  for (const p of all) {
    const k = `${Math.floor(p.lat * 2)},${Math.floor(p.lon * 2)}`;
    cells.set(k, (cells.get(k) ?? 0) + p.count);
  }
  const [best] = [...cells.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  const [cy, cx] = best.split(',').map(Number);
  const lat = cy / 2 + 0.25,
    lon = cx / 2 + 0.25;
  const points = all.filter((p) => Math.abs(p.lat - lat) <= 0.75 && Math.abs(p.lon - lon) <= 0.75);
  return points.length >= 2 && points.length < all.length ? { points, lat, lon } : null;
}

function niceDegreeStep(span: number): number {
  const steps = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 45, 60];
  return steps.find((s) => span / s <= 7) ?? 60;
}

function degText(v: number, pos: string, neg: string, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(4, Math.ceil(-Math.log10(step)));
  return `${Math.abs(v).toFixed(decimals)}°${v >= 0 ? pos : neg}`;
}

/**
 * An offline map: located events on an equirectangular plot (longitude scaled by cos(latitude), so small
 * areas keep their shape) with a labelled latitude/longitude grid and a scale bar. No tiles, no network.
 */
export function mapSvg(all: MapPoint[], maxPoints = 20_000): { svg: string; drawn: number } {
  if (!all.length) return { svg: '', drawn: 0 };
  const pts = all.length > maxPoints ? [...all].sort((a, b) => b.count - a.count).slice(0, maxPoints) : all;
  let minLat = Infinity,
    maxLat = -Infinity,
    minLon = Infinity,
    maxLon = -Infinity;
  for (const p of pts) {
    minLat = Math.min(minLat, p.lat);
    maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon);
    maxLon = Math.max(maxLon, p.lon);
  }
  const midLat = (minLat + maxLat) / 2;
  const k = Math.max(0.05, Math.cos((midLat * Math.PI) / 180));
  // Pad 8 % on each side; never zoom in closer than ~200 m.
  let latSpan = Math.max(maxLat - minLat, 0.002),
    lonSpan = Math.max(maxLon - minLon, 0.002 / k);
  const cLat = (minLat + maxLat) / 2,
    cLon = (minLon + maxLon) / 2;
  latSpan *= 1.16;
  lonSpan *= 1.16;
  const W = 900,
    H = 460,
    M = 44;
  const pw = W - 2 * M,
    ph = H - 2 * M;
  // Same scale on both axes (in "km-like" units: lon × cos(lat)).
  const scale = Math.min(pw / (lonSpan * k), ph / latSpan);
  const x = (lon: number) => W / 2 + (lon - cLon) * k * scale;
  const y = (lat: number) => H / 2 - (lat - cLat) * scale;
  const lon0 = cLon - pw / 2 / (k * scale),
    lon1 = cLon + pw / 2 / (k * scale);
  const lat0 = cLat - ph / 2 / scale,
    lat1 = cLat + ph / 2 / scale;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" class="chart map" role="img" aria-label="Map of located events">`,
    `<rect x="${M}" y="${M}" width="${pw}" height="${ph}" class="sea"/>`,
  ];
  // The land outline, clipped to the plot by a nested viewport.
  const land = landPath({ lon0, lon1, lat0, lat1, x, y });
  if (land) parts.push(`<svg x="${M}" y="${M}" width="${pw}" height="${ph}" viewBox="${M} ${M} ${pw} ${ph}"><path d="${land}" class="land"/></svg>`);
  const lonStep = niceDegreeStep(lon1 - lon0),
    latStep = niceDegreeStep(lat1 - lat0);
  for (let v = Math.ceil(lon0 / lonStep) * lonStep; v <= lon1; v += lonStep) {
    parts.push(
      `<line x1="${num(x(v))}" x2="${num(x(v))}" y1="${M}" y2="${H - M}" class="grid"/><text x="${num(x(v))}" y="${H - M + 16}" text-anchor="middle" class="tick">${degText(v, 'E', 'W', lonStep)}</text>`,
    );
  }
  for (let v = Math.ceil(lat0 / latStep) * latStep; v <= lat1; v += latStep) {
    parts.push(
      `<line x1="${M}" x2="${W - M}" y1="${num(y(v))}" y2="${num(y(v))}" class="grid"/><text x="${M - 4}" y="${num(y(v) + 4)}" text-anchor="end" class="tick">${degText(v, 'N', 'S', latStep)}</text>`,
    );
  }
  const kinds = [...new Set(pts.map((p) => p.kind))];
  for (const p of pts) {
    const r = Math.min(9, 3 + Math.log2(p.count));
    parts.push(
      `<circle cx="${num(x(p.lon))}" cy="${num(y(p.lat))}" r="${num(r)}" fill="${kindColor(p.kind, kinds.indexOf(p.kind))}" class="pt"><title>${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}: ${fmtInt(p.count)} ${esc(p.kind)}</title></circle>`,
    );
  }
  // Legend: one swatch per kind.
  let lx = M;
  kinds.forEach((kind, ki) => {
    parts.push(`<circle cx="${lx + 5}" cy="${M - 12}" r="4" fill="${kindColor(kind, ki)}"/><text x="${lx + 13}" y="${M - 8}" class="legend">${esc(kind)}</text>`);
    lx += 30 + kind.length * 7;
  });
  // Scale bar (1° latitude ≈ 111.32 km); only where the area is small enough for one scale to hold.
  if (lat1 - lat0 > 20) {
    parts.push(`<text x="${W - M}" y="${M - 8}" text-anchor="end" class="tick">Equirectangular plot, WGS 84; ${BASEMAP_CREDIT}; offline</text>`);
    parts.push(`<rect x="${M}" y="${M}" width="${pw}" height="${ph}" class="frame"/>`, '</svg>');
    return { svg: parts.join(''), drawn: pts.length };
  }
  const kmPerPx = 111.32 / scale;
  const target = (pw / 5) * kmPerPx;
  const mag = 10 ** Math.floor(Math.log10(target));
  const km =
    [1, 2, 5, 10]
      .map((m) => m * mag)
      .filter((v) => v <= target)
      .pop() ?? mag;
  const px = km / kmPerPx;
  const kmLabel = km >= 1 ? `${fmtInt(km)} km` : `${fmtInt(Math.round(km * 1000))} m`;
  parts.push(
    `<rect x="${M + 10}" y="${H - M - 26}" width="${num(px + 16)}" height="22" class="scalebg"/><line x1="${M + 18}" x2="${num(M + 18 + px)}" y1="${H - M - 10}" y2="${H - M - 10}" class="scale"/><text x="${num(M + 18 + px / 2)}" y="${H - M - 14}" text-anchor="middle" class="tick">${kmLabel}</text>`,
  );
  parts.push(`<text x="${W - M}" y="${M - 8}" text-anchor="end" class="tick">Equirectangular plot, WGS 84; ${BASEMAP_CREDIT}; offline</text>`);
  parts.push(`<rect x="${M}" y="${M}" width="${pw}" height="${ph}" class="frame"/>`);
  parts.push('</svg>');
  return { svg: parts.join(''), drawn: pts.length };
}
