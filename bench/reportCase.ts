// Synthetic case files for report tests and the report bench: any number of events of every kind,
// written straight into a CaseFile (no backup needed), optionally laced with hostile text.
import { deflateSync } from 'node:zlib';
import { CaseFile } from '../src/timeline/caseFile.js';
import { addThumbnail } from '../src/timeline/thumbnails.js';

/** Payloads that must stay inert text in every report. */
export const HOSTILE = [
  '<script>window.__pwned=1;fetch("http://evil.example/x")</script>',
  '<img src=http://evil.example/pixel.png onerror="window.__pwned=2">',
  '<a href="javascript:window.__pwned=3">click</a>',
  '</script><script>window.__pwned=4</script>',
  '<style>@import url(http://evil.example/a.css); body{background:url(http://evil.example/b.png)}</style>',
  '"><svg onload="window.__pwned=5"><image href="http://evil.example/c.png"/></svg>',
  "{{constructor.constructor('window.__pwned=6')()}}",
  '<!--data--><iframe src="http://evil.example/frame"></iframe>',
];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A tiny solid-colour PNG (a real image, so the thumbnail checks accept it). */
export function tinyPng(r: number, g: number, b: number, size = 24): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const o = y * (size * 3 + 1) + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export interface SyntheticOptions {
  events: number;
  tz?: string;
  caseNumber?: string;
  hostile?: boolean;
  seed?: number;
  /** First event time (UTC ms); events are spread over `days`. */
  startMs?: number;
  days?: number;
}

export interface SyntheticTruth {
  events: number;
  byKind: Record<string, number>;
  threads: number;
  firstMessage: { body: string; utcUs: number };
  thumbnails: number;
  files: number;
  warnings: number;
}

/** Build a case file at `path` with about `events` events (messages ~55 %, calls 20 %, locations 15 %, photos 10 %). */
export function buildSyntheticCase(path: string, o: SyntheticOptions): SyntheticTruth {
  let s = o.seed ?? 42;
  const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
  const bad = (i: number) => (o.hostile ? HOSTILE[i % HOSTILE.length] : '');
  const cf = CaseFile.create(path);
  const tz = o.tz ?? 'America/New_York';
  for (const [k, v] of Object.entries({
    tool_version: '0.1.0',
    case_number: o.caseNumber ?? 'CASE-2024-0042',
    examiner: o.hostile ? `Examiner ${bad(0)}` : 'A. Examiner',
    agency: o.hostile ? `Lab ${bad(1)}` : 'Example Forensics Lab',
    time_zone: tz,
    region: 'US',
    created_at: '2024-03-20T10:00:00.000Z',
  }))
    cf.setMeta(k, v);
  cf.db
    .prepare(`INSERT INTO evidence (backup_path, device_name, product_type, ios_version, build_version, serial, udid, imei, phone_number, encrypted, backup_date, is_full_backup, manifest_db_sha256, listing_sha256_before, listing_sha256_after, listing_unchanged)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
    .run(
      '/evidence/backup',
      o.hostile ? `Sam’s iPhone ${bad(2)}` : 'Sam’s iPhone',
      'iPhone15,2',
      '17.4.1',
      '21E236',
      'F2LXK0ABCDEF',
      '00008120001c35e01e88c01e',
      '356789012345678',
      '+1 (919) 555-0100',
      0,
      '2024-03-15T18:30:00.000Z',
      1,
      'a'.repeat(64),
      'b'.repeat(64),
      'b'.repeat(64),
      1,
    );
  const smsFile = cf.recordFile({
    domain: 'HomeDomain',
    relativePath: 'Library/SMS/sms.db',
    fileId: '3d0d7e5fb2ce288813306e4d4636395e047a3d28',
    size: 4_194_304,
    sha256: 'c'.repeat(64),
    status: 'ok',
    readBy: 'messages',
  });
  const callFile = cf.recordFile({
    domain: 'HomeDomain',
    relativePath: 'Library/CallHistoryDB/CallHistory.storedata',
    fileId: '5a4935c78a5255723f707230a451d79c540d2741',
    size: 1_048_576,
    sha256: 'd'.repeat(64),
    status: 'ok',
    readBy: 'calls',
  });
  const photoFile = cf.recordFile({
    domain: 'CameraRollDomain',
    relativePath: 'Media/PhotoData/Photos.sqlite',
    fileId: '12b144c0bd44f2b3dffd9186d3f9c05b917cee25',
    size: 8_388_608,
    sha256: 'e'.repeat(64),
    status: 'ok',
    readBy: 'photos',
  });
  const locFile = cf.recordFile({
    domain: 'RootDomain',
    relativePath: 'Library/Caches/locationd/consolidated.db',
    fileId: '4096c9ec676f2847dc283405900e284a7c815836',
    size: 2_097_152,
    sha256: 'f'.repeat(64),
    status: 'ok',
    readBy: 'locations',
  });
  cf.recordFile({
    domain: 'MediaDomain',
    relativePath: o.hostile ? `Library/SMS/Attachments/${bad(3)}.jpg` : 'Library/SMS/Attachments/ab/IMG_0001.jpg',
    fileId: null,
    size: null,
    status: 'missing',
    readBy: 'messages',
    note: 'listed in sms.db, absent from the backup',
  });

  const people = Array.from({ length: 30 }, (_, i) => ({
    handle: `+1919555${String(1000 + i).padStart(4, '0')}`,
    name:
      i % 7 === 3
        ? null
        : o.hostile && i < HOSTILE.length
          ? `Name ${bad(i)}`
          : `${pick(['Alex', 'Jordan', 'Taylor', 'Morgan', 'Casey', 'Riley', 'Jamie'])} ${pick(['Smith', 'Nguyen', 'García', 'Müller', 'O’Brien', 'Kowalski'])}`,
  }));
  const threads = people.slice(0, 20).map((p, i) => {
    const id = cf.addThread({
      extractor: 'messages',
      sourceFileId: smsFile,
      sourceTable: 'chat',
      sourceRowid: i + 1,
      identifier: p.handle,
      displayName: i === 0 && o.hostile ? `Group ${bad(5)}` : i % 5 === 4 ? 'Family group' : p.name,
      service: i % 3 ? 'iMessage' : 'SMS',
      isGroup: i % 5 === 4,
    });
    cf.addParticipant(id, p.handle, p.name);
    if (i % 5 === 4) cf.addParticipant(id, people[(i + 1) % people.length].handle, people[(i + 1) % people.length].name);
    return { id, p };
  });
  const start = o.startMs ?? Date.UTC(2024, 1, 1, 12, 0, 0);
  const span = (o.days ?? 45) * 86_400_000;
  const byKind: Record<string, number> = {};
  let thumbnails = 0;
  let firstMessage: SyntheticTruth['firstMessage'] | null = null;
  const phrases = ['On my way', 'See you at 6?', 'Did you get the documents', 'Call me when you can', 'OK 👍', 'Running late, sorry', 'Where are you?', 'Thanks!'];
  cf.begin();
  for (let i = 0; i < o.events; i++) {
    const ms = start + Math.floor((i / o.events) * span) + Math.floor(rnd() * 60_000);
    const ts = { utcUs: ms * 1000, raw: String((ms / 1000 - 978_307_200) * 1e9), epoch: 'mac-ns' as const };
    const r = rnd();
    let kind: string;
    if (r < 0.55) {
      kind = 'message';
      const t = pick(threads);
      const out = rnd() < 0.45;
      const body = o.hostile && i % 3 === 0 ? `msg ${bad(i)}` : `${pick(phrases)} #${i}`;
      const id = cf.addEvent(
        {
          ts,
          kind,
          action: out ? 'sent' : 'received',
          title: out ? `Message to ${t.p.name ?? t.p.handle}` : `Message from ${t.p.name ?? t.p.handle}`,
          body,
          direction: out ? 'outgoing' : 'incoming',
          counterpart: t.p.handle,
          counterpartName: t.p.name,
          threadId: t.id,
          service: 'iMessage',
          sourceFileId: smsFile,
          sourceTable: 'message',
          sourceRowid: i + 1,
        },
        'messages',
      );
      if (!firstMessage) firstMessage = { body, utcUs: ts.utcUs };
      if (i % 17 === 0) {
        const name = o.hostile ? `${bad(i)}.png` : `IMG_${1000 + i}.png`;
        const aid = cf.addAttachment({
          eventId: id,
          extractor: 'messages',
          sourceFileId: smsFile,
          sourceTable: 'attachment',
          sourceRowid: i,
          fileId: null,
          path: `~/Library/SMS/Attachments/00/${name}`,
          transferName: name,
          mimeType: o.hostile ? `image/png${bad(i + 1)}` : 'image/png',
          uti: 'public.png',
          totalBytes: 20_000 + i,
          status: i % 2 ? 'ok' : 'missing',
          sha256: i % 2 ? '1'.repeat(64) : null,
        });
        if (i % 2) {
          cf.commit();
          addThumbnail(cf, { attachmentId: aid, eventId: id, mime: 'image/png', data: tinyPng(40 + (i % 200), 120, 200) });
          cf.begin();
          thumbnails++;
        }
      }
      if (!out && i % 4 === 0)
        cf.addEvent(
          {
            ts: { ...ts, utcUs: ts.utcUs + 30_000_000 },
            kind,
            action: 'read',
            title: 'Message read',
            direction: 'incoming',
            counterpart: t.p.handle,
            counterpartName: t.p.name,
            threadId: t.id,
            service: 'iMessage',
            sourceFileId: smsFile,
            sourceTable: 'message',
            sourceRowid: i + 1,
          },
          'messages',
        );
    } else if (r < 0.75) {
      kind = 'call';
      const p = pick(people);
      const action = pick(['placed', 'received', 'missed']);
      const dur = action === 'missed' ? 0 : Math.floor(rnd() * 900);
      cf.addEvent(
        {
          ts,
          kind,
          action,
          title: `${action === 'placed' ? 'Outgoing phone call to' : action === 'missed' ? 'Missed phone call from' : 'Incoming phone call from'} ${p.name ?? p.handle}`,
          direction: action === 'placed' ? 'outgoing' : 'incoming',
          counterpart: p.handle,
          counterpartName: p.name,
          service: 'Phone',
          durationS: dur || null,
          sourceFileId: callFile,
          sourceTable: 'ZCALLRECORD',
          sourceRowid: i + 1,
        },
        'calls',
      );
    } else if (r < 0.9) {
      kind = 'location';
      cf.addEvent(
        {
          ts,
          kind,
          action: 'seen',
          title: 'Location recorded',
          latitude: 35.78 + rnd() * 0.2,
          longitude: -78.64 + rnd() * 0.3,
          accuracyM: 5 + Math.floor(rnd() * 60),
          sourceFileId: locFile,
          sourceTable: 'ZRTCLLOCATIONMO',
          sourceRowid: i + 1,
        },
        'locations',
      );
    } else {
      kind = rnd() < 0.85 ? 'photo' : 'video';
      const lat = 35.9 + rnd() * 0.1,
        lon = -78.9 + rnd() * 0.1;
      const filename = o.hostile ? `IMG_${i}${bad(i)}.HEIC` : `IMG_${i}.HEIC`;
      const id = cf.addEvent(
        {
          ts,
          kind,
          action: 'taken',
          title: `${kind === 'photo' ? 'Photo' : 'Video'} ${filename}`,
          latitude: lat,
          longitude: lon,
          accuracyM: 10,
          sourceFileId: photoFile,
          sourceTable: 'ZASSET',
          sourceRowid: i + 1,
          extra: {
            asset: {
              uuid: `UUID-${i}`,
              directory: 'DCIM/100APPLE',
              filename,
              kind: kind,
              width: 4032,
              height: 3024,
              camera_make: 'Apple',
              camera_model: 'iPhone 15 Pro',
              lens_model: o.hostile ? bad(i) : 'iPhone 15 Pro back camera 6.765mm f/1.78',
              favorite: i % 9 === 0,
            },
            location_source: 'photos-db',
            db_location: { lat, lon },
            file: { domain: 'CameraRollDomain', path: `Media/DCIM/100APPLE/${filename}`, status: 'ok', sha256: '2'.repeat(64), size: 2_400_000 },
            exif: { capture_local: '2024:02:03 10:11:12', offset: '-05:00', gps: { lat, lon, alt_m: 95.2 }, make: 'Apple', model: 'iPhone 15 Pro', problems: [] },
            time_zone: { basis: 'exif-offset', offset: '-05:00', note: null },
          },
        },
        'photos',
      );
      if (i % 3 === 0) {
        cf.commit();
        addThumbnail(cf, { eventId: id, mime: 'image/png', data: tinyPng(200, 120 + (i % 100), 60) });
        cf.begin();
        thumbnails++;
      }
    }
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  cf.commit();
  const warnings = 6;
  for (let i = 0; i < warnings; i++)
    cf.addWarning({
      extractor: 'messages',
      fileId: smsFile,
      severity: i === 0 ? 'error' : i % 2 ? 'warning' : 'info',
      message: o.hostile ? `attributedBody of message ${i} not decoded: ${bad(i)}` : `attributedBody of message ${i} could not be decoded; text left empty`,
      sourceTable: 'message',
      sourceRowid: i + 10,
    });
  for (const [id, title, n] of [
    ['messages', 'Messages (SMS, iMessage, RCS)', byKind.message ?? 0],
    ['calls', 'Call history', byKind.call ?? 0],
    ['photos', 'Photos and videos', (byKind.photo ?? 0) + (byKind.video ?? 0)],
    ['locations', 'Locations', byKind.location ?? 0],
  ] as const) {
    cf.recordExtractorRun({
      extractor: id,
      title,
      status: id === 'messages' ? 'partial' : 'ok',
      events: n,
      warnings: id === 'messages' ? warnings : 0,
      startedAt: '2024-03-20T10:00:00.000Z',
      finishedAt: '2024-03-20T10:00:05.000Z',
      message: null,
    });
  }
  cf.recordExtractorRun({
    extractor: 'contacts',
    title: 'Contacts',
    status: 'not-present',
    events: 0,
    warnings: 0,
    startedAt: '2024-03-20T10:00:05.000Z',
    finishedAt: '2024-03-20T10:00:05.000Z',
    message: 'AddressBook.sqlitedb not in this backup',
  });
  cf.finalizeIngest();
  const events = Number((cf.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
  cf.custody({ action: 'ingest', actor: 'A. Examiner', detail: { backup_path: '/evidence/backup', events, warnings } });
  cf.close();
  return { events, byKind, threads: threads.length, firstMessage: firstMessage!, thumbnails, files: 5, warnings };
}
