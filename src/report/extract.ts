// `ios-timeline extract`: the original media files written out of the evidence, verified against ingest.
//
// What is selected comes from the case file: message (and WhatsApp) attachments and voicemail / voice memo audio
// through the `attachments` table, photos and videos through the 'taken' events that name a file
// (extra_json.file: the photos extractor's and the orphan-media extractor's). The bytes come from the evidence,
// re-opened with the same Backup.open the ingest uses (decrypting where needed), and each payload's SHA-256 (of
// the evidence bytes: the ciphertext for an encrypted backup, as at ingest) must equal the one the case recorded.
// A mismatch is never written: it is listed in extract.json and manifest.json's not_written with both hashes,
// and the command exits 1. Missing payloads are listed the same way, with their reason.
//
// Layout (every name sanitised for Windows, macOS and Linux; never two files under one name, compared without case):
//   attachments/<conversation>/2020-03-22_104512_Alice_IMG_0008.JPG   (date in the case zone, counterpart, original name)
//   attachments/no message/…                                          (attachment rows or orphan files no message points to)
//   camera-roll/2020/03/2020-03-22_104512_IMG_0008.JPG
//   voice/voicemail/…, voice/voice-memos/…
//   extract.json   every selected item: written name, source, recorded and written SHA-256, or the reason it is absent
//   manifest.json, SHA256SUMS   as for reports and exports (src/custody/outputs.ts); `verify DIR` checks the folder
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import type { OpenOptions } from '../backup/backup.js';
import { openEvidence } from '../sources/open.js';
import { assertOutsideEvidence, writeOutputManifest, type NotWritten } from '../custody/outputs.js';
import { sha256File } from '../custody/hash.js';
import type { CaseFile } from '../timeline/caseFile.js';
import type { CustodyRow } from '../timeline/custodyLog.js';
import { whereClause, type EventFilter } from '../timeline/query.js';
import { convertHeic } from './heic.js';

export const EXTRACT_KINDS = ['attachments', 'photos', 'videos', 'voice'] as const;
export type ExtractKind = (typeof EXTRACT_KINDS)[number];
export const EXTRACT_INDEX = 'extract.json';

const VOICE_EXTRACTORS = new Set(['voicemail', 'voice-memos']);

export interface ExtractOptions {
  outDir: string;
  kinds: readonly ExtractKind[];
  /** Time, contact and keyword filters on the event a file belongs to (kinds are chosen by `kinds`). */
  filter: EventFilter;
  tz: string;
  open: OpenOptions;
  /** Evidence folder, when it is no longer where the case recorded it. */
  evidenceDir?: string;
  convertHeic?: boolean;
  examiner?: string;
  signKeyPath?: string;
  onItem?: (done: number, total: number) => void;
}

export interface ExtractEntry {
  /** Written file, relative to the output folder (null when not written). */
  name: string | null;
  kind: ExtractKind;
  source: string | null;
  event_id: number | null;
  attachment_id: number | null;
  /** SHA-256 of the evidence bytes recorded at ingest, and as read now. */
  evidence_sha256_ingest: string | null;
  evidence_sha256_now: string | null;
  /** SHA-256 of the file written (the plaintext; equal to the evidence hash for an unencrypted backup). */
  sha256: string | null;
  size: number | null;
  mtime_utc: string | null;
  status: 'written' | 'not-written' | 'hash-mismatch';
  reason: string | null;
  /** --convert-heic: the JPEG written beside the original, or why none was. */
  jpeg?: string | null;
  jpeg_error?: string;
}

export interface ExtractResult {
  entries: ExtractEntry[];
  written: number;
  notWritten: number;
  mismatches: number;
  bytes: number;
  jpegs: number;
  manifestPath: string;
  custody: CustodyRow;
}

interface Item {
  kind: ExtractKind;
  folder: string[];
  tsUs: number | null;
  who: string | null;
  original: string;
  domain: string | null;
  relativePath: string | null;
  recordedSha: string | null;
  recordedStatus: string | null;
  mtimeUs: number | null;
  eventId: number | null;
  attachmentId: number | null;
  /** Why there is nothing to read (no path, path refused…), known from the case alone. */
  absent: string | null;
}

// ---- names ----------------------------------------------------------------------------------------------

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
/** Control characters, characters Windows forbids, and bidirectional overrides (a name must read as it is). */
const UNSAFE = /[\u0000-\u001f\u007f<>:"/\\|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** One path segment safe on every OS: NFC, no forbidden or control characters, no reserved name, ≤ maxBytes UTF-8. */
export function safeSegment(s: string, maxBytes = 150): string {
  let n = s.normalize('NFC').replace(UNSAFE, '_').replace(/\s+/g, ' ').trim();
  n = n.replace(/^\.+/, (m) => '_'.repeat(m.length)).replace(/[. ]+$/, '');
  if (!n) n = '_';
  if (RESERVED.test(n)) n = `_${n}`;
  if (Buffer.byteLength(n) > maxBytes) {
    const ext = path.extname(n).length <= 12 ? path.extname(n) : '';
    let stem = n.slice(0, n.length - ext.length);
    while (Buffer.byteLength(stem + ext) > maxBytes) stem = [...stem].slice(0, -1).join('');
    n = stem + ext;
  }
  return n;
}

/** `2020-03-22_104512_Alice_IMG_0008.JPG`: local time in the case zone, the counterpart, the original name. */
export function readableName(tsUs: number | null, who: string | null, original: string, tz: string): string {
  const when = tsUs === null ? 'undated' : DateTime.fromMillis(Math.floor(tsUs / 1000), { zone: tz }).toFormat('yyyy-LL-dd_HHmmss');
  return safeSegment([when, who, original].filter((x) => x).join('_'));
}

/** Hands out names no other file in the same folder has (compared without case: macOS and Windows fold it). */
class Names {
  private readonly used = new Map<string, Set<string>>();
  release(dir: string, name: string): void {
    this.used.get(dir)?.delete(name.toLowerCase());
  }
  take(dir: string, name: string): string {
    const set = this.used.get(dir) ?? new Set<string>();
    this.used.set(dir, set);
    const ext = path.extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let i = 1; ; i++) {
      const candidate = i === 1 ? name : `${stem} (${i})${ext}`;
      if (!set.has(candidate.toLowerCase()) && !fs.existsSync(path.join(dir, candidate))) {
        set.add(candidate.toLowerCase());
        return candidate;
      }
    }
  }
}

// ---- selection ------------------------------------------------------------------------------------------

function andWhere(f: EventFilter): { sql: string; params: unknown[] } {
  const w = whereClause(f, 'e');
  return { sql: w.sql ? ` AND ${w.sql.replace(/^WHERE /, '')}` : '', params: w.params };
}

function selectItems(db: Database.Database, kinds: readonly ExtractKind[], filter: EventFilter, tz: string): Item[] {
  const items: Item[] = [];
  const w = andWhere(filter);
  const hasFilter = w.params.length > 0;
  if (kinds.includes('attachments') || kinds.includes('voice')) {
    // Conversation folders: one per thread, named by its title; two threads with one title get their ids.
    const folders = new Map<number, string>();
    const taken = new Map<string, number>();
    const folderOf = (threadId: number | null, title: string | null): string => {
      if (threadId === null) return 'no message';
      let f = folders.get(threadId);
      if (f) return f;
      f = safeSegment(title || `thread ${threadId}`, 100);
      const other = taken.get(f.toLowerCase());
      if (other !== undefined && other !== threadId) f = safeSegment(`${f} (thread ${threadId})`, 120);
      taken.set(f.toLowerCase(), threadId);
      folders.set(threadId, f);
      return f;
    };
    const rows = db
      .prepare(
        `SELECT a.id AS aid, a.extractor, a.event_id, a.transfer_name, a.path AS apath, a.status AS astatus,
                f.domain, f.relative_path, f.sha256, f.status AS fstatus, f.mtime_utc_us,
                e.ts_utc_us, e.counterpart, e.counterpart_name, e.thread_id, t.display_name, t.identifier
         FROM attachments a LEFT JOIN files f ON f.id = a.file_id LEFT JOIN events e ON e.id = a.event_id LEFT JOIN threads t ON t.id = e.thread_id
         WHERE 1${hasFilter ? w.sql : ''} ORDER BY e.ts_utc_us IS NULL, e.ts_utc_us, a.id`,
      )
      .safeIntegers(false)
      .all(...w.params) as Record<string, unknown>[];
    for (const r of rows) {
      const voice = VOICE_EXTRACTORS.has(String(r.extractor));
      const kind: ExtractKind = voice ? 'voice' : 'attachments';
      if (!kinds.includes(kind)) continue;
      const rel = (r.relative_path as string | null) ?? null;
      const original = (r.transfer_name as string | null) || path.posix.basename(rel ?? String(r.apath ?? '')) || `attachment-${r.aid}`;
      const who = (r.counterpart_name as string | null) || (r.counterpart as string | null);
      items.push({
        kind,
        folder: voice
          ? ['voice', String(r.extractor)]
          : ['attachments', folderOf((r.thread_id as number | null) ?? null, (r.display_name as string | null) || (r.identifier as string | null) || who)],
        tsUs: (r.ts_utc_us as number | null) ?? null,
        who,
        original,
        domain: (r.domain as string | null) ?? null,
        relativePath: rel,
        recordedSha: (r.sha256 as string | null) ?? null,
        recordedStatus: (r.fstatus as string | null) ?? null,
        mtimeUs: (r.mtime_utc_us as number | null) ?? null,
        eventId: (r.event_id as number | null) ?? null,
        attachmentId: Number(r.aid),
        absent: rel ? null : `the attachment row names no file inside the backup (status ${String(r.astatus ?? 'unknown')})`,
      });
    }
  }
  const mediaKinds = [kinds.includes('photos') && 'photo', kinds.includes('videos') && 'video'].filter(Boolean) as string[];
  if (mediaKinds.length) {
    const rows = db
      .prepare(
        `SELECT e.id, e.kind, e.ts_utc_us, x.domain, x.rel, x.fstat, f.sha256, f.status AS fstatus, f.mtime_utc_us
         FROM events e
         JOIN (SELECT id, json_extract(extra_json, '$.file.domain') AS domain, json_extract(extra_json, '$.file.path') AS rel,
                      json_extract(extra_json, '$.file.status') AS fstat
               FROM events WHERE action = 'taken' AND kind IN (SELECT value FROM json_each(?)) AND json_valid(extra_json)) x ON x.id = e.id
         LEFT JOIN files f ON f.domain = x.domain AND f.relative_path = x.rel
         WHERE x.rel IS NOT NULL${w.sql} ORDER BY e.ts_utc_us IS NULL, e.ts_utc_us, e.id`,
      )
      .safeIntegers(false)
      .all(JSON.stringify(mediaKinds), ...w.params) as Record<string, unknown>[];
    for (const r of rows) {
      const ts = (r.ts_utc_us as number | null) ?? null;
      const local = ts === null ? null : DateTime.fromMillis(Math.floor(ts / 1000), { zone: tz });
      const domain = String(r.domain ?? '');
      const rel = String(r.rel);
      items.push({
        kind: r.kind === 'video' ? 'videos' : 'photos',
        folder: domain === 'CameraRollDomain' ? ['camera-roll', ...(local ? [local.toFormat('yyyy'), local.toFormat('LL')] : ['undated'])] : ['attachments', 'no message'],
        tsUs: ts,
        who: null,
        original: path.posix.basename(rel),
        domain: domain || null,
        relativePath: rel,
        recordedSha: (r.sha256 as string | null) ?? null,
        recordedStatus: (r.fstatus as string | null) ?? (r.fstat as string | null) ?? null,
        mtimeUs: (r.mtime_utc_us as number | null) ?? null,
        eventId: Number(r.id),
        attachmentId: null,
        absent: null,
      });
    }
  }
  return items;
}

// ---- writing --------------------------------------------------------------------------------------------

/** Refuse an output folder inside the evidence, or one that holds anything unless `force`. */
/** A path as a find() glob that matches only itself (`*` and `?` in a file name are literal here). */
function globLiteral(p: string): string {
  return p.replace(/[*?]/g, '?');
}

export function checkOutDir(outDir: string, force: boolean): void {
  if (fs.existsSync(outDir)) {
    if (!fs.statSync(outDir).isDirectory()) throw new Error(`--out ${outDir} is not a folder`);
    if (fs.readdirSync(outDir).length && !force) throw new Error(`--out ${outDir} is not empty; choose an empty or new folder, or add --force to write into it`);
  }
}

export async function extractMedia(cf: CaseFile, o: ExtractOptions): Promise<ExtractResult> {
  // One backup is opened: with several devices in the case (ingest --add), the one --device names.
  const devices = cf.db.prepare('SELECT id, backup_path FROM evidence ORDER BY id').all() as { id: number; backup_path: string }[];
  if (devices.length > 1 && o.filter.devices?.length !== 1)
    throw new Error(`this case holds ${devices.length} devices (ids ${devices.map((d) => d.id).join(', ')}); extract one device at a time with --device`);
  const recorded = (devices.length > 1 ? devices.find((d) => d.id === o.filter.devices![0]) : devices[0])?.backup_path;
  const evidence = o.evidenceDir ?? recorded;
  if (!evidence) throw new Error('the case file records no evidence folder; give it with --evidence');
  if (!fs.existsSync(evidence)) throw new Error(`the evidence folder ${evidence} recorded in the case is not there; give its new place with --evidence`);
  const outDir = path.resolve(o.outDir);
  const items = selectItems(cf.db, o.kinds, o.filter, o.tz);
  // A backup, a file-system folder or an archive (docs/sources.md); an archive copies out just these files in its one pass.
  const want = items.filter((it) => it.domain && it.relativePath).map((it) => ({ domain: it.domain!, path: globLiteral(it.relativePath!) }));
  const backup = await openEvidence(evidence, { backup: o.open, want });
  try {
    assertOutsideEvidence(outDir, backup.root, 'the extract folder');
    fs.mkdirSync(outDir, { recursive: true });
    const names = new Names();
    const entries: ExtractEntry[] = [];
    const outputs: string[] = [];
    let bytes = 0;
    let jpegs = 0;
    for (const [i, it] of items.entries()) {
      o.onItem?.(i, items.length);
      const source = it.domain && it.relativePath ? `${it.domain}/${it.relativePath}` : null;
      const e: ExtractEntry = {
        name: null,
        kind: it.kind,
        source,
        event_id: it.eventId,
        attachment_id: it.attachmentId,
        evidence_sha256_ingest: it.recordedSha,
        evidence_sha256_now: null,
        sha256: null,
        size: null,
        mtime_utc: null,
        status: 'not-written',
        reason: null,
      };
      entries.push(e);
      if (it.absent || !it.domain || !it.relativePath) {
        e.reason = it.absent ?? 'no file path recorded';
        continue;
      }
      if (!it.recordedSha) {
        e.reason = `no SHA-256 was recorded at ingest (file status "${it.recordedStatus ?? 'not recorded'}"): ${it.recordedStatus === 'missing' ? 'the payload was missing from the evidence' : 'nothing to verify against'}`;
        continue;
      }
      const entry = backup.get(it.domain, it.relativePath);
      if (entry?.flags !== 1) {
        e.reason = entry ? 'not a regular file in Manifest.db' : 'not listed in the evidence Manifest.db now';
        continue;
      }
      // Read (decrypting) straight into its place, hashing the evidence bytes on the way: one copy, not two.
      const dir = path.join(outDir, ...it.folder.map((s) => safeSegment(s, 100)));
      fs.mkdirSync(dir, { recursive: true });
      const name = names.take(dir, readableName(it.tsUs, it.who, it.original, o.tz));
      const dest = path.join(dir, name);
      const r = await backup.read(entry, { dir, name });
      e.evidence_sha256_now = r.sha256;
      const problem =
        r.status !== 'ok' || !r.path
          ? `${r.status}${r.note ? ` (${r.note})` : ''}`
          : r.sha256 !== it.recordedSha
            ? `the evidence bytes now hash to ${r.sha256}, ingest recorded ${it.recordedSha}: not written`
            : null;
      if (problem) {
        // Nothing that failed its check stays in the folder (a partial or mismatching copy is removed).
        fs.rmSync(dest, { force: true });
        names.release(dir, name);
        if (r.status === 'ok' && r.path) e.status = 'hash-mismatch';
        e.reason = problem;
        continue;
      }
      const mtimeMs = r.mbfile?.lastModified != null ? r.mbfile.lastModified * 1000 : it.mtimeUs !== null ? it.mtimeUs / 1000 : null;
      if (mtimeMs !== null && Number.isFinite(mtimeMs)) {
        fs.utimesSync(dest, new Date(mtimeMs), new Date(mtimeMs));
        e.mtime_utc = new Date(mtimeMs).toISOString();
      }
      e.name = path.relative(outDir, dest).split(path.sep).join('/');
      e.size = fs.statSync(dest).size;
      e.sha256 = backup.encrypted ? await sha256File(dest) : r.sha256;
      e.status = 'written';
      e.reason = null;
      bytes += e.size;
      outputs.push(dest);
      if (o.convertHeic && /\.(heic|heif)$/i.test(name)) {
        try {
          const jpeg = await convertHeic(dest);
          const jname = names.take(dir, `${name.slice(0, name.length - path.extname(name).length)}.jpg`);
          const jdest = path.join(dir, jname);
          fs.writeFileSync(jdest, jpeg, { flag: 'wx' });
          if (mtimeMs !== null) fs.utimesSync(jdest, new Date(mtimeMs), new Date(mtimeMs));
          e.jpeg = path.relative(outDir, jdest).split(path.sep).join('/');
          outputs.push(jdest);
          jpegs++;
        } catch (err) {
          e.jpeg = null;
          e.jpeg_error = (err as Error).message;
        }
      }
    }
    o.onItem?.(items.length, items.length);
    const notWritten: NotWritten[] = entries
      .filter((x) => x.status !== 'written')
      .map((x) => ({ source: x.source, reason: x.reason ?? x.status, event_id: x.event_id, attachment_id: x.attachment_id }));
    const mismatches = entries.filter((x) => x.status === 'hash-mismatch').length;
    // A second extract into the same folder (--force) keeps the first one's index: extract (2).json.
    const index = path.join(outDir, names.take(outDir, EXTRACT_INDEX));
    fs.writeFileSync(
      index,
      `${JSON.stringify({ format: 'ios-timeline-extract/1', evidence: backup.root, encrypted: backup.encrypted, kinds: o.kinds, time_zone: o.tz, items: entries }, null, 2)}\n`,
    );
    const m = await writeOutputManifest(outDir, [...outputs, index], cf, {
      action: 'extract',
      signKeyPath: o.signKeyPath,
      examiner: o.examiner,
      notWritten,
      detail: {
        evidence: backup.root,
        kinds: o.kinds,
        filter: o.filter,
        selected: entries.length,
        written: entries.length - notWritten.length,
        not_written: notWritten.length,
        hash_mismatches: mismatches,
        bytes,
        heic_jpegs: jpegs,
      },
    });
    return { entries, written: entries.length - notWritten.length, notWritten: notWritten.length, mismatches, bytes, jpegs, manifestPath: m.manifestPath, custody: m.custody };
  } finally {
    backup.close();
  }
}
