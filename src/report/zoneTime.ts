// Fast, exact formatting of UTC instants in a named zone. Reports format every event time (100,000+),
// so the zone offset is looked up once per 15-minute bucket instead of once per event.
import { IANAZone, FixedOffsetZone, type Zone } from 'luxon';

export interface ZoneTime {
  day: string;
  time: string;
  offset: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

export function zoneOf(tz: string): Zone {
  return tz.toUpperCase() === 'UTC' ? FixedOffsetZone.utcInstance : IANAZone.create(tz);
}

/** Returns a formatter `us → {day, time, offset}`; `null` for an event without a time. */
export function zoneFormatter(tz: string): (us: number | null | undefined) => ZoneTime | null {
  const zone = zoneOf(tz);
  const BUCKET = 15 * 60_000;
  const cache = new Map<number, number>();
  const offsetAt = (ms: number): number => {
    const key = Math.floor(ms / BUCKET);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const a = zone.offset(key * BUCKET);
    const b = zone.offset(key * BUCKET + BUCKET - 1);
    // A transition inside the bucket (only historical odd offsets): no caching, exact per event.
    if (a !== b) return zone.offset(ms);
    if (cache.size > 100_000) cache.clear();
    cache.set(key, a);
    return a;
  };
  return (us) => {
    if (us === null || us === undefined || !Number.isFinite(us)) return null;
    const ms = Math.floor(us / 1000);
    const off = offsetAt(ms);
    const d = new Date(ms + off * 60_000);
    if (Number.isNaN(d.getTime())) return null;
    const y = d.getUTCFullYear();
    return {
      day: `${y < 0 ? '-' : ''}${pad(Math.abs(y), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
      time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
      offset: offsetText(off),
    };
  };
}

/** "2024-03-15 14:30:00 -04:00" (the zone itself is named on every page, not in every cell). */
export function zoneStamp(fmt: ReturnType<typeof zoneFormatter>, us: number | null | undefined): string {
  const t = fmt(us);
  return t ? `${t.day} ${t.time} ${t.offset}` : 'no time recorded';
}
