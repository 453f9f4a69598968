// Where an sms.db attachment lives in the backup (docs/ios-formats.md §3.4): `attachment.filename` is a device
// path such as `~/Library/SMS/Attachments/ab/12/<GUID>/IMG_1234.HEIC` (`~` = /var/mobile); the backup keeps
// it in MediaDomain under the same path without the `~/`. Anything that does not stay inside
// Library/SMS/Attachments (a `..` segment, another folder, /var/tmp staging copies) is not looked up.

export const ATTACHMENTS_DOMAIN = 'MediaDomain';
const ATTACHMENTS_ROOT = 'Library/SMS/Attachments/';
const HOME_PREFIXES = ['~/', '/var/mobile/', '/private/var/mobile/'];

export type AttachmentLocation = { ok: true; domain: string; relativePath: string } | { ok: false; reason: string; hostile: boolean };

export function locateAttachment(filename: string | null): AttachmentLocation {
  if (filename === null || filename === '') return { ok: false, reason: 'the attachment row has no file name (never downloaded, or purged)', hostile: false };
  if (filename.includes('\0')) return { ok: false, reason: 'the file name contains a NUL byte', hostile: true };
  let rel: string | null = null;
  for (const p of HOME_PREFIXES)
    if (filename.startsWith(p)) {
      rel = filename.slice(p.length);
      break;
    }
  if (rel === null) {
    return { ok: false, reason: `the path is not under the device home folder (${ATTACHMENTS_ROOT} expected)`, hostile: !filename.startsWith('/') };
  }
  const segments = rel.split('/');
  if (segments.some((s) => s === '..' || s === '.')) {
    return { ok: false, reason: `the path has "." or ".." segments and would leave ${ATTACHMENTS_ROOT}; refused`, hostile: true };
  }
  if (segments.some((s) => s === '') || !rel.startsWith(ATTACHMENTS_ROOT) || rel.length === ATTACHMENTS_ROOT.length) {
    return { ok: false, reason: `the path is outside ${ATTACHMENTS_ROOT}`, hostile: segments.some((s) => s === '') };
  }
  return { ok: true, domain: ATTACHMENTS_DOMAIN, relativePath: rel };
}
