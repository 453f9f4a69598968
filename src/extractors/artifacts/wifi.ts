// Wi-Fi: the networks the phone knows, when they were added and joined, and the access points (BSSIDs) it used.
//  - iOS 14+: SystemPreferencesDomain SystemConfiguration/com.apple.wifi.known-networks.plist, a dictionary keyed
//    "wifi.network.ssid.<name>": SSID (data), AddedAt, JoinedByUserAt, JoinedBySystemAt, UpdatedAt, LastDiscoveredAt,
//    __OSSpecific__ (WiFiNetworkPasswordModificationDate, prevJoined, BSSID…), CaptiveProfile (CaptiveWebSheetLoginDate…),
//    BSSList (BSSID, Channel, LastAssociatedAt, Location*).
//  - older: SystemConfiguration/com.apple.wifi.plist, "List of known networks": SSID_STR, BSSID, lastJoined,
//    lastAutoJoined, lastUpdated, prevJoined, WiFiNetworkPasswordModificationDate, networkKnownBSSListKey (BSSID, lastRoamed).
// One event per recorded time of a network and per access point association; a network with no time at all is one
// undated event. source_table is the plist and key ("known-networks:wifi.network.ssid.Home", "List of known networks"),
// source_rowid the network's position (0-based) in the file. Apple keeps Wi-Fi settings only in encrypted backups.
import { plistDate, type Timestamp } from '../../formats/appleTime.js';
import { parsePlist, isDict, PlistError, type PlistValue } from '../../formats/plist.js';
import { ArtifactError, type Extractor, type ExtractorContext, type OpenedFile } from '../types.js';
import { fileProblem, plausible } from '../common/values.js';
import fs from 'node:fs';

const DOMAIN = 'SystemPreferencesDomain';
const KNOWN = 'SystemConfiguration/com.apple.wifi.known-networks.plist';
const LEGACY = 'SystemConfiguration/com.apple.wifi.plist';

type Dict = Record<string, PlistValue>;
const dict = (v: PlistValue | undefined): Dict => (isDict(v) ? v : {});
const str = (v: PlistValue | undefined): string | null => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : null);

function ssidText(v: PlistValue | undefined): { text: string | null; hex: string | null } {
  if (Buffer.isBuffer(v)) {
    try {
      return { text: new TextDecoder('utf-8', { fatal: true }).decode(v), hex: null };
    } catch {
      return { text: null, hex: v.toString('hex') };
    }
  }
  return { text: str(v), hex: null };
}

/** The network-level times we turn into events: key path → action. */
const KNOWN_TIMES: { path: string[]; action: string; label: string }[] = [
  { path: ['AddedAt'], action: 'added', label: 'added' },
  { path: ['JoinedByUserAt'], action: 'joined', label: 'joined by the user' },
  { path: ['JoinedBySystemAt'], action: 'auto-joined', label: 'joined automatically' },
  { path: ['UpdatedAt'], action: 'updated', label: 'settings updated' },
  { path: ['LastDiscoveredAt'], action: 'discovered', label: 'last seen in a scan' },
  { path: ['__OSSpecific__', 'WiFiNetworkPasswordModificationDate'], action: 'password-changed', label: 'password changed' },
  { path: ['__OSSpecific__', 'prevJoined'], action: 'joined', label: 'previously joined' },
  { path: ['CaptiveProfile', 'CaptiveWebSheetLoginDate'], action: 'captive-login', label: 'captive portal login' },
];
const LEGACY_TIMES: { path: string[]; action: string; label: string }[] = [
  { path: ['addedAt'], action: 'added', label: 'added' },
  { path: ['lastJoined'], action: 'joined', label: 'last joined' },
  { path: ['lastAutoJoined'], action: 'auto-joined', label: 'last joined automatically' },
  { path: ['lastUpdated'], action: 'updated', label: 'settings updated' },
  { path: ['prevJoined'], action: 'joined', label: 'previously joined' },
  { path: ['WiFiNetworkPasswordModificationDate'], action: 'password-changed', label: 'password changed' },
];

function at(d: Dict, path: string[]): PlistValue | undefined {
  let cur: PlistValue | undefined = d;
  for (const k of path) {
    if (!isDict(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function readPlist(src: OpenedFile, name: string): Dict {
  let root: PlistValue;
  try {
    root = parsePlist(fs.readFileSync(src.path), name);
  } catch (e) {
    throw new ArtifactError(e instanceof PlistError ? e.message : `${name}: ${(e as Error).message}`);
  }
  if (!isDict(root)) throw new ArtifactError(`${name} is not a dictionary plist`);
  return root;
}

interface Net {
  table: string;
  index: number;
  ssid: string | null;
  ssidHex: string | null;
  bssid: string | null;
  extra: Record<string, unknown>;
}

function emitNetwork(
  ctx: ExtractorContext,
  src: OpenedFile,
  net: Net,
  d: Dict,
  times: typeof KNOWN_TIMES,
  bss: { bssid: string | null; channel: unknown; time: PlistValue | undefined; timeKey: string; lat?: unknown; lon?: unknown; acc?: unknown }[],
): void {
  const ref = { fileRowId: src.fileRowId, table: net.table, rowid: net.index };
  const name = net.ssid ?? (net.ssidHex ? `SSID 0x${net.ssidHex}` : 'unknown network');
  let n = 0;
  const timeOf = (v: PlistValue | undefined, key: string): Timestamp | null => {
    const t = plistDate(v);
    return plausible(ctx, t, v instanceof Date ? (Number.isNaN(v.getTime()) ? 'an invalid date' : v.toISOString()) : v, key, ref, 'plist-date');
  };
  for (const t of times) {
    const v = at(d, t.path);
    if (v === undefined || v === null) continue;
    const ts = timeOf(v, t.path.join('.'));
    n++;
    ctx.emit({
      ts,
      kind: 'wifi',
      action: t.action,
      title: `Wi-Fi "${name}": ${t.label}`,
      counterpart: net.ssid ?? net.ssidHex,
      service: 'Wi-Fi',
      sourceFileId: src.fileRowId,
      sourceTable: net.table,
      sourceRowid: net.index,
      extra: { ssid: net.ssid, ssid_hex: net.ssidHex, bssid: net.bssid, plist_key: t.path.join('.'), ...net.extra },
    });
  }
  for (const b of bss) {
    if (b.time === undefined || b.time === null) continue;
    const ts = timeOf(b.time, b.timeKey);
    const lat = typeof b.lat === 'number' ? b.lat : null;
    const lon = typeof b.lon === 'number' ? b.lon : null;
    n++;
    ctx.emit({
      ts,
      kind: 'wifi',
      action: 'associated',
      title: `Wi-Fi "${name}": associated with access point ${b.bssid ?? '?'}${b.channel != null ? ` (channel ${String(b.channel)})` : ''}`,
      counterpart: net.ssid ?? net.ssidHex,
      service: 'Wi-Fi',
      latitude: lat,
      longitude: lon,
      accuracyM: typeof b.acc === 'number' && b.acc >= 0 ? b.acc : null,
      sourceFileId: src.fileRowId,
      sourceTable: net.table,
      sourceRowid: net.index,
      extra: { ssid: net.ssid, bssid: b.bssid, channel: b.channel ?? null, plist_key: b.timeKey, ...net.extra },
    });
  }
  if (n === 0) {
    ctx.emit({
      ts: null,
      kind: 'wifi',
      action: 'known',
      title: `Wi-Fi "${name}": known network (no time recorded)`,
      counterpart: net.ssid ?? net.ssidHex,
      service: 'Wi-Fi',
      sourceFileId: src.fileRowId,
      sourceTable: net.table,
      sourceRowid: net.index,
      extra: { ssid: net.ssid, ssid_hex: net.ssidHex, bssid: net.bssid, ...net.extra },
    });
  }
}

function knownNetworks(ctx: ExtractorContext, src: OpenedFile): void {
  const root = readPlist(src, 'com.apple.wifi.known-networks.plist');
  let index = 0;
  for (const [key, value] of Object.entries(root)) {
    const i = index++;
    const table = `known-networks:${key}`;
    if (!isDict(value)) {
      ctx.warn(`known-networks entry ${i} (${key}) is not a dictionary`, { fileRowId: src.fileRowId, table, rowid: i });
      ctx.emit({
        ts: null,
        kind: 'wifi',
        action: 'known',
        title: `Wi-Fi entry ${key} (unreadable)`,
        service: 'Wi-Fi',
        sourceFileId: src.fileRowId,
        sourceTable: table,
        sourceRowid: i,
        extra: { plist_key: key },
      });
      continue;
    }
    const s = ssidText(value.SSID);
    if (s.hex) ctx.warn(`${table}: SSID is not UTF-8; kept as hex`, { fileRowId: src.fileRowId, table, rowid: i, severity: 'info' });
    const os = dict(value.__OSSpecific__);
    const cap = dict(value.CaptiveProfile);
    const bssList = Array.isArray(value.BSSList) ? value.BSSList.filter(isDict) : [];
    emitNetwork(
      ctx,
      src,
      {
        table,
        index: i,
        ssid: s.text,
        ssidHex: s.hex,
        bssid: str(os.BSSID),
        extra: {
          network_key: key,
          add_reason: str(value.AddReason),
          bundle_id: str(value.BundleID),
          hidden: value.Hidden ?? null,
          security: Array.isArray(value.SupportedSecurityTypes) ? value.SupportedSecurityTypes : str(value.SupportedSecurityTypes),
          captive_network: cap.CaptiveNetwork ?? null,
          user_portal_url: str(cap.UserPortalURL),
          network_usage: os.networkUsage ?? null,
          carplay: os.CarPlayNetwork ?? null,
          bss_count: bssList.length,
        },
      },
      value,
      KNOWN_TIMES,
      bssList.map((b) => ({
        bssid: str(b.BSSID),
        channel: b.Channel,
        time: b.LastAssociatedAt,
        timeKey: 'BSSList.LastAssociatedAt',
        lat: b.LocationLatitude,
        lon: b.LocationLongitude,
        acc: b.LocationAccuracy,
      })),
    );
  }
}

function legacy(ctx: ExtractorContext, src: OpenedFile): void {
  const root = readPlist(src, 'com.apple.wifi.plist');
  const list = root['List of known networks'];
  if (list === undefined) return; // iOS 14+ keeps only settings here
  if (!Array.isArray(list)) throw new ArtifactError('com.apple.wifi.plist: "List of known networks" is not an array');
  const table = 'List of known networks';
  list.forEach((value, i) => {
    if (!isDict(value)) {
      ctx.warn(`${table} entry ${i} is not a dictionary`, { fileRowId: src.fileRowId, table, rowid: i });
      ctx.emit({
        ts: null,
        kind: 'wifi',
        action: 'known',
        title: `Wi-Fi entry ${i} (unreadable)`,
        service: 'Wi-Fi',
        sourceFileId: src.fileRowId,
        sourceTable: table,
        sourceRowid: i,
        extra: {},
      });
      return;
    }
    const s = value.SSID_STR !== undefined ? ssidText(value.SSID_STR) : ssidText(value.SSID);
    const wps = dict(value.WPS_PROB_RESP_IE);
    const cap = dict(value.CaptiveProfile);
    const bssList = Array.isArray(value.networkKnownBSSListKey) ? value.networkKnownBSSListKey.filter(isDict) : [];
    emitNetwork(
      ctx,
      src,
      {
        table,
        index: i,
        ssid: s.text,
        ssidHex: s.hex,
        bssid: str(value.BSSID),
        extra: {
          security: str(value.SecurityMode),
          enabled: value.enabled ?? null,
          hidden: value.Hidden ?? null,
          network_usage: value.networkUsage ?? null,
          country_code: str(dict(value['80211D_IE']).IE_KEY_80211D_COUNTRY_CODE),
          wps_device_name: str(wps.IE_KEY_WPS_DEV_NAME),
          wps_manufacturer: str(wps.IE_KEY_WPS_MANUFACTURER),
          wps_model_name: str(wps.IE_KEY_WPS_MODEL_NAME),
          captive_network: cap.CaptiveNetwork ?? null,
          user_portal_url: str(cap.UserPortalURL),
          bss_count: bssList.length,
        },
      },
      value,
      LEGACY_TIMES,
      bssList.map((b) => ({ bssid: str(b.BSSID), channel: b.CHANNEL, time: b.lastRoamed, timeKey: 'networkKnownBSSListKey.lastRoamed' })),
    );
  });
}

export const wifi: Extractor = {
  id: 'wifi',
  title: 'Wi-Fi known networks',
  encryptedOnly: true,
  sources: [
    { domain: DOMAIN, path: KNOWN },
    { domain: DOMAIN, path: LEGACY },
  ],
  kinds: [
    {
      kind: 'wifi',
      label: 'Wi-Fi networks',
      color: '#d98b1f',
      view: 'table',
      dataType: 'ios:wifi:known_network',
      actions: {
        added: 'Network Added',
        joined: 'Network Joined',
        'auto-joined': 'Network Auto-Joined',
        updated: 'Network Updated',
        discovered: 'Network Discovered',
        'password-changed': 'Network Password Modified',
        'captive-login': 'Captive Portal Login',
        associated: 'Access Point Associated',
        known: 'Network Known',
      },
    },
  ],
  async run(ctx) {
    for (const [p, read] of [
      [KNOWN, knownNetworks],
      [LEGACY, legacy],
    ] as const) {
      try {
        const src = await ctx.openFile(DOMAIN, p);
        if (src) read(ctx, src);
      } catch (e) {
        ctx.warn(fileProblem(DOMAIN, p, e), { severity: 'error' });
      }
    }
  },
};
