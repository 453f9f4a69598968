// Matching phone numbers and e-mail addresses to contact names (docs/ios-formats.md §5.1).
// Numbers are compared in E.164 (libphonenumber-js, region from the case); when a number cannot be
// parsed, its last 10 digits are the fallback key. E-mail addresses compare trimmed and lower-cased.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

export interface HandleKey {
  kind: 'phone' | 'email' | 'other';
  normalized: string;
}

export function normalizeHandle(raw: string, region: string): HandleKey {
  let v = raw.trim();
  if (!v) return { kind: 'other', normalized: '' };
  v = v.replace(/^(tel|sms|mailto|imessage|facetime):/i, '');
  if (v.includes('@')) return { kind: 'email', normalized: v.toLowerCase() };
  const cleaned = v.replace(/[;,].*$/, '');
  if (/^[+\d(][\d\s().\-/]*$/.test(cleaned)) {
    const parsed = parsePhoneNumberFromString(cleaned, region.toUpperCase() as CountryCode);
    if (parsed?.isPossible()) return { kind: 'phone', normalized: parsed.number };
    const digits = cleaned.replace(/\D/g, '');
    return { kind: 'phone', normalized: cleaned.startsWith('+') ? `+${digits}` : digits };
  }
  return { kind: 'other', normalized: v.toLowerCase() };
}

function lastDigits(s: string): string | null {
  const d = s.replace(/\D/g, '');
  return d.length >= 7 ? d.slice(-10) : null;
}

export class ContactResolver {
  private exact = new Map<string, Set<string>>();
  private byTail = new Map<string, Set<string>>();
  private cache = new Map<string, string | null>();

  constructor(readonly region: string) {}

  get size(): number {
    return this.exact.size;
  }

  add(handle: string, name: string): void {
    const key = normalizeHandle(handle, this.region);
    if (!key.normalized || !name) return;
    const names = this.exact.get(key.normalized) ?? new Set<string>();
    names.add(name);
    this.exact.set(key.normalized, names);
    if (key.kind === 'phone') {
      const tail = lastDigits(key.normalized);
      if (tail) {
        const set = this.byTail.get(tail) ?? new Set<string>();
        set.add(name);
        this.byTail.set(tail, set);
      }
    }
    this.cache.clear();
  }

  /**
   * The contact's name for an address, or null. When several contacts share the number, all names are
   * shown ("A / B") rather than one picked silently; an ambiguous last-digits match returns null.
   */
  nameFor(address: string | null | undefined): string | null {
    if (!address) return null;
    const cached = this.cache.get(address);
    if (cached !== undefined) return cached;
    const key = normalizeHandle(address, this.region);
    const exact = this.exact.get(key.normalized);
    let name = exact ? [...exact].join(' / ') : null;
    if (!name && key.kind === 'phone') {
      const tail = lastDigits(key.normalized);
      const set = tail ? this.byTail.get(tail) : undefined;
      if (set && set.size === 1) name = [...set][0];
    }
    this.cache.set(address, name);
    return name;
  }
}
