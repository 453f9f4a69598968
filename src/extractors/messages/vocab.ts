// Names for the coded values of sms.db `message` rows (docs/ios-formats.md §3.2).

/** associated_message_type 2000–2007 (added) and 3000–3007 (removed): tapback kinds by the last digit. */
const TAPBACK_VERBS = ['loved', 'liked', 'disliked', 'laughed at', 'emphasized', 'questioned', 'reacted with', 'reacted with a sticker to'];
const TAPBACK_NAMES = ['love', 'like', 'dislike', 'laugh', 'emphasize', 'question', 'emoji', 'sticker'];

export interface Tapback {
  added: boolean;
  kind: number;
  name: string;
  verb: string;
}

/** The tapback an associated_message_type encodes, or null when it is not a tapback. */
export function tapbackOf(type: number): Tapback | null {
  if (type >= 2000 && type <= 2007) return { added: true, kind: type - 2000, name: TAPBACK_NAMES[type - 2000], verb: TAPBACK_VERBS[type - 2000] };
  if (type >= 3000 && type <= 3007) return { added: false, kind: type - 3000, name: TAPBACK_NAMES[type - 3000], verb: TAPBACK_VERBS[type - 3000] };
  return null;
}

/** `p:0/GUID`, `bp:GUID` or a bare GUID → { guid, part }. */
export function parseAssociatedGuid(raw: string): { guid: string; part: number | null } {
  const m = /^(?:p:(\d+)\/|bp:)(.*)$/.exec(raw);
  if (!m) return { guid: raw, part: null };
  return { guid: m[2], part: m[1] !== undefined ? Number(m[1]) : null };
}

/** item_type → event action for rows that are not ordinary messages. */
export function itemAction(itemType: number): string | null {
  switch (itemType) {
    case 0:
      return null;
    case 1:
    case 2:
    case 3:
      return 'group-event';
    case 4:
      return 'location-sharing';
    case 5:
      return 'audio-kept';
    case 6:
      return 'shareplay';
    default:
      return 'system-event';
  }
}

/** Chat style 43 = group, 45 = one-to-one (every sms.db seen so far). */
export const GROUP_STYLE = 43;

/** The MIME type from a file name's extension, for attachment rows whose mime_type is NULL. */
const MIME_BY_EXT: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  heic: 'image/heic',
  heif: 'image/heif',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mov: 'video/quicktime',
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  '3gp': 'video/3gpp',
  caf: 'audio/x-caf',
  m4a: 'audio/mp4',
  amr: 'audio/amr',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  aac: 'audio/aac',
  pdf: 'application/pdf',
  zip: 'application/zip',
  vcf: 'text/vcard',
  txt: 'text/plain',
  html: 'text/html',
  json: 'application/json',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pkpass: 'application/vnd.apple.pkpass',
  ics: 'text/calendar',
  gpx: 'application/gpx+xml',
};

export function mimeFromName(name: string | null): string | null {
  if (!name) return null;
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(name);
  return m ? (MIME_BY_EXT[m[1].toLowerCase()] ?? null) : null;
}
