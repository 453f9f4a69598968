// App permissions: TCC.db (`access`, and `expired` where present). Which app was allowed or denied which
// protected service (camera, microphone, photos, contacts…), and when that decision was last written.
//
// Schemas, decided by the columns present (sources in docs/artifacts.md, "Set A"):
//  - iOS 14+: auth_value (0 denied, 1 unknown, 2 allowed, 3 limited) and auth_reason (who decided: the user, the system,
//    a policy…), last_modified in Unix seconds;
//  - iOS ≤ 13: allowed (0 denied, 1 allowed) and prompt_count, last_modified in Unix seconds;
//  - oldest (iOS ≤ 8): allowed and prompt_count with no last_modified: the event has no time.
// `expired` (iOS 14+) holds grants that expired: one event each at expired_at. `admin` (schema version), `policies`,
// `active_policy` and `access_overrides` hold configuration, not user decisions: they are read for context only.
import { unixSeconds } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor, type ExtractorContext, type OpenedDatabase } from '../types.js';
import { num, plausible, text } from '../common/values.js';

export const TCC_PATH = 'Library/TCC/TCC.db';

/** kTCCService… → what Settings › Privacy calls it. Unknown services keep their name without the prefix. */
const SERVICES: Record<string, string> = {
  kTCCServiceAddressBook: 'Contacts',
  kTCCServiceCalendar: 'Calendars',
  kTCCServiceReminders: 'Reminders',
  kTCCServicePhotos: 'Photos',
  kTCCServicePhotosAdd: 'Photos (add only)',
  kTCCServiceCamera: 'Camera',
  kTCCServiceMicrophone: 'Microphone',
  kTCCServiceMediaLibrary: 'Media & Apple Music',
  kTCCServiceMotion: 'Motion & Fitness',
  kTCCServiceBluetoothAlways: 'Bluetooth',
  kTCCServiceBluetoothPeripheral: 'Bluetooth (peripheral)',
  kTCCServiceSiri: 'Siri & Dictation',
  kTCCServiceSpeechRecognition: 'Speech Recognition',
  kTCCServiceUbiquity: 'iCloud Drive (Ubiquity)',
  kTCCServiceLiverpool: 'iCloud/CloudKit (Liverpool)',
  kTCCServiceUserTracking: 'Tracking (App Tracking Transparency)',
  kTCCServiceWebKitIntelligentTrackingPrevention: 'Cross-site tracking (WebKit ITP)',
  kTCCServiceWillow: 'HomeKit',
  kTCCServiceFaceID: 'Face ID',
  kTCCServiceExposureNotification: 'Exposure Notifications',
  kTCCServiceFocusStatus: 'Focus status',
  kTCCServiceNearbyInteraction: 'Nearby Interactions',
  kTCCServiceSensorKit: 'Research Sensor & Usage Data',
  kTCCServiceFallDetection: 'Fall detection',
  kTCCServiceKeyboardNetwork: 'Keyboard network access',
  kTCCServiceTwitter: 'Twitter account',
  kTCCServiceFacebook: 'Facebook account',
  kTCCServiceSinaWeibo: 'Sina Weibo account',
  kTCCServiceTencentWeibo: 'Tencent Weibo account',
  kTCCServiceLinkedIn: 'LinkedIn account',
  kTCCServiceCalls: 'Calls',
  kTCCServiceContactsFull: 'Contacts (full)',
  kTCCServiceContactsLimited: 'Contacts (limited)',
};

export function serviceLabel(service: string | null): string {
  if (!service) return 'unknown service';
  return SERVICES[service] ?? service.replace(/^kTCCService/, '');
}

/** iOS 14+ auth_value (mvt AUTH_VALUES). */
const AUTH_VALUES: Record<number, { action: string; word: string }> = {
  0: { action: 'denied', word: 'denied' },
  1: { action: 'unknown', word: 'unknown decision' },
  2: { action: 'granted', word: 'allowed' },
  3: { action: 'limited', word: 'limited access' },
};
/** iOS 14+ auth_reason (mvt AUTH_REASONS). */
const AUTH_REASONS: Record<number, string> = {
  1: 'error',
  2: 'user consent',
  3: 'user set',
  4: 'system set',
  5: 'service policy',
  6: 'MDM policy',
  7: 'override policy',
  8: 'missing usage string',
  9: 'prompt timeout',
  10: 'preflight unknown',
  11: 'entitled',
  12: 'app type policy',
};

async function readAccess(ctx: ExtractorContext, src: OpenedDatabase): Promise<void> {
  const { db } = src;
  const c = columnsOf(db, 'access');
  const v3 = c.has('auth_value');
  if (!v3 && !c.has('allowed')) throw new ArtifactError(`${TCC_PATH}: access table has neither auth_value nor allowed (unknown schema)`);
  const cols = [
    'service',
    'client',
    'client_type',
    'auth_value',
    'auth_reason',
    'auth_version',
    'allowed',
    'prompt_count',
    'policy_id',
    'indirect_object_identifier_type',
    'indirect_object_identifier',
    'flags',
    'last_modified',
  ]
    .map((x) => colOrNull(c, x))
    .join(', ');
  const schema = v3 ? 'auth_value' : c.has('last_modified') ? 'allowed+last_modified' : 'allowed';
  if (!c.has('last_modified'))
    ctx.warn(`${TCC_PATH}: access has no last_modified column (iOS ≤ 8 schema): permission events have no time`, { fileRowId: src.fileRowId, table: 'access', severity: 'info' });
  for (const r of db.prepare(`SELECT rowid AS rid, ${cols} FROM access ORDER BY rowid`).iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'access', rowid: r.rid as bigint };
    const service = text(r.service);
    const client = text(r.client);
    let action: string;
    let word: string;
    let reason: string | null = null;
    if (v3) {
      const av = num(r.auth_value);
      const known = av === null ? undefined : AUTH_VALUES[av];
      action = known?.action ?? 'unknown';
      word = known?.word ?? `auth_value ${String(r.auth_value)}`;
      if (!known) ctx.warn(`access row ${String(r.rid)}: auth_value ${String(r.auth_value)} is not a known TCC value`, ref);
      const rv = num(r.auth_reason);
      reason = rv === null ? null : (AUTH_REASONS[rv] ?? `reason ${rv}`);
    } else {
      const al = num(r.allowed);
      action = al === 1 ? 'granted' : al === 0 ? 'denied' : 'unknown';
      word = al === 1 ? 'allowed' : al === 0 ? 'denied' : `allowed=${String(r.allowed)}`;
      if (al !== 0 && al !== 1) ctx.warn(`access row ${String(r.rid)}: allowed ${String(r.allowed)} is neither 0 nor 1`, ref);
    }
    const clientType = num(r.client_type);
    const label = serviceLabel(service);
    const ts = plausible(ctx, unixSeconds(r.last_modified), r.last_modified, 'last_modified', ref);
    ctx.emit({
      ts,
      kind: 'permission',
      action,
      title: `${label}: ${word} for ${client ?? 'unknown app'}${reason ? ` (${reason})` : ''}`,
      counterpart: client,
      service: label,
      sourceFileId: src.fileRowId,
      sourceTable: 'access',
      sourceRowid: r.rid as bigint,
      extra: {
        schema,
        tcc_service: service,
        client,
        client_type: clientType,
        client_type_label: clientType === 0 ? 'bundle id' : clientType === 1 ? 'absolute path' : null,
        auth_value: num(r.auth_value),
        auth_reason: num(r.auth_reason),
        auth_reason_label: reason,
        auth_version: num(r.auth_version),
        allowed: num(r.allowed),
        prompt_count: num(r.prompt_count),
        policy_id: num(r.policy_id),
        indirect_object_identifier: text(r.indirect_object_identifier),
        indirect_object_identifier_type: num(r.indirect_object_identifier_type),
        flags: num(r.flags),
        time_meaning: 'last_modified: when this decision was last written',
      },
    });
  }
}

function readExpired(ctx: ExtractorContext, src: OpenedDatabase): void {
  const { db } = src;
  if (!hasTable(db, 'expired')) return;
  const c = columnsOf(db, 'expired');
  const cols = ['service', 'client', 'client_type', 'last_modified', 'expired_at'].map((x) => colOrNull(c, x)).join(', ');
  for (const r of db.prepare(`SELECT rowid AS rid, ${cols} FROM expired ORDER BY rowid`).iterate() as Iterable<Record<string, unknown>>) {
    const ref = { fileRowId: src.fileRowId, table: 'expired', rowid: r.rid as bigint };
    const service = text(r.service);
    const client = text(r.client);
    const label = serviceLabel(service);
    const ts = plausible(ctx, unixSeconds(r.expired_at), r.expired_at, 'expired_at', ref);
    const lm = plausible(ctx, unixSeconds(r.last_modified), r.last_modified, 'last_modified', ref);
    ctx.emit({
      ts,
      kind: 'permission',
      action: 'expired',
      title: `${label}: permission for ${client ?? 'unknown app'} expired`,
      counterpart: client,
      service: label,
      sourceFileId: src.fileRowId,
      sourceTable: 'expired',
      sourceRowid: r.rid as bigint,
      extra: { tcc_service: service, client, client_type: num(r.client_type), last_modified_utc_us: lm?.utcUs ?? null, last_modified_raw: lm?.raw ?? null },
    });
  }
}

export const permissions: Extractor = {
  id: 'permissions',
  title: 'App permissions (TCC: camera, microphone, photos, contacts…)',
  sources: [{ domain: 'HomeDomain', path: TCC_PATH }],
  kinds: [
    {
      kind: 'permission',
      label: 'App permissions',
      color: '#8e5ab5',
      view: 'table',
      dataType: 'ios:tcc:access',
      actions: { granted: 'Permission Granted', denied: 'Permission Denied', limited: 'Permission Limited', unknown: 'Permission Modified', expired: 'Permission Expired' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase('HomeDomain', TCC_PATH);
    if (!src) return;
    if (!hasTable(src.db, 'access')) throw new ArtifactError(`${TCC_PATH} has no access table (unknown schema)`);
    await readAccess(ctx, src);
    readExpired(ctx, src);
  },
};
