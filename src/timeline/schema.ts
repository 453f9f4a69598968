// The case file schema: the contract that reports, exports and other tools rely on (docs/design.md "The case file").
// Versioned migrations: each entry upgrades from the previous version; meta.schema_version records where a file is.
import type Database from 'better-sqlite3';

export const MIGRATIONS: string[] = [
  // v1
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
  CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    backup_path TEXT NOT NULL,
    device_name TEXT, product_type TEXT, ios_version TEXT, build_version TEXT,
    serial TEXT, udid TEXT, imei TEXT, phone_number TEXT,
    encrypted INTEGER NOT NULL DEFAULT 0,
    backup_date TEXT, snapshot_state TEXT, is_full_backup INTEGER,
    manifest_db_sha256 TEXT, manifest_plist_sha256 TEXT, info_plist_sha256 TEXT, status_plist_sha256 TEXT,
    listing_sha256_before TEXT, listing_sha256_after TEXT, listing_unchanged INTEGER,
    extra_json TEXT
  );
  CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    domain TEXT, relative_path TEXT, file_id TEXT,
    flags INTEGER, size INTEGER, manifest_size INTEGER, mtime_utc_us INTEGER,
    sha256 TEXT, md5 TEXT, sha1 TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok','missing','unreadable','decrypt-failed','not-sqlite','listed-only')),
    read_by TEXT, note TEXT,
    UNIQUE (domain, relative_path)
  );
  CREATE TABLE threads (
    id INTEGER PRIMARY KEY,
    extractor TEXT NOT NULL, source_file_id INTEGER REFERENCES files(id), source_table TEXT, source_rowid INTEGER,
    identifier TEXT, display_name TEXT, service TEXT, is_group INTEGER NOT NULL DEFAULT 0, extra_json TEXT
  );
  CREATE TABLE participants (
    thread_id INTEGER NOT NULL REFERENCES threads(id), handle TEXT NOT NULL, name TEXT,
    PRIMARY KEY (thread_id, handle)
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    ts_utc_us INTEGER, ts_raw TEXT, ts_epoch TEXT,
    kind TEXT NOT NULL, action TEXT NOT NULL,
    title TEXT, body TEXT,
    direction TEXT CHECK (direction IN ('incoming','outgoing') OR direction IS NULL),
    counterpart TEXT, counterpart_name TEXT,
    thread_id INTEGER REFERENCES threads(id),
    service TEXT, duration_s REAL,
    latitude REAL, longitude REAL, accuracy_m REAL,
    source_file_id INTEGER REFERENCES files(id), source_table TEXT, source_rowid INTEGER,
    extractor TEXT NOT NULL,
    extra_json TEXT
  );
  CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    event_id INTEGER REFERENCES events(id),
    extractor TEXT NOT NULL,
    source_file_id INTEGER REFERENCES files(id), source_table TEXT, source_rowid INTEGER,
    file_id INTEGER REFERENCES files(id),
    path TEXT, transfer_name TEXT, mime_type TEXT, uti TEXT, total_bytes INTEGER,
    status TEXT, sha256 TEXT, extra_json TEXT
  );
  CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    source_file_id INTEGER REFERENCES files(id), source_table TEXT, source_rowid INTEGER,
    display_name TEXT, first_name TEXT, last_name TEXT, organization TEXT, extra_json TEXT
  );
  CREATE TABLE contact_handles (
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    kind TEXT NOT NULL, label TEXT, value TEXT NOT NULL, normalized TEXT
  );
  CREATE INDEX contact_handles_normalized ON contact_handles(normalized);
  CREATE TABLE warnings (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL, extractor TEXT, file_id INTEGER REFERENCES files(id),
    severity TEXT NOT NULL CHECK (severity IN ('info','warning','error')),
    message TEXT NOT NULL, source_table TEXT, source_rowid INTEGER
  );
  CREATE TABLE extractor_runs (
    id INTEGER PRIMARY KEY, extractor TEXT NOT NULL, title TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok','not-present','partial','failed')),
    events INTEGER NOT NULL DEFAULT 0, warnings INTEGER NOT NULL DEFAULT 0,
    started_at TEXT, finished_at TEXT, message TEXT
  );
  CREATE TABLE custody (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    detail_json TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
  );
  `,
  // v2: small image thumbnails (≤ ~20 KB each) that extractors may add for attachments and photos;
  // reports embed them as data: images. Filled through addThumbnail() in src/timeline/thumbnails.ts.
  `
  CREATE TABLE thumbnails (
    id INTEGER PRIMARY KEY,
    attachment_id INTEGER REFERENCES attachments(id),
    event_id INTEGER REFERENCES events(id),
    mime TEXT NOT NULL, width INTEGER, height INTEGER,
    data BLOB NOT NULL
  );
  CREATE INDEX thumbnails_attachment ON thumbnails(attachment_id);
  CREATE INDEX thumbnails_event ON thumbnails(event_id);
  `,
  // v3 (custody, docs/custody.md): every file of the backup is hashed at ingest, not only those read.
  // origin: 'manifest' (a payload listed in Manifest.db), 'backup' (Info/Manifest/Status.plist, Manifest.db…),
  // 'unlisted' (on disk under the backup folder but not in the manifest). disk_path: where it sits, relative to
  // the backup root. block_prefixes: SHA-256 prefix checkpoints every 1 MiB (src/custody/hashWorker.ts) so
  // verify can name the first changed MiB. row_digests: per-row checksums that let verify name an edited row.
  `
  ALTER TABLE files ADD COLUMN origin TEXT;
  ALTER TABLE files ADD COLUMN disk_path TEXT;
  ALTER TABLE files ADD COLUMN block_prefixes TEXT;
  CREATE TABLE row_digests (
    tbl TEXT NOT NULL, first_rowid INTEGER NOT NULL, rows INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (tbl, first_rowid)
  );
  `,
  // v4 (recovery, docs/recovery.md): a recovered record is never mistaken for a live one. recovered = 1 on every
  // event read from deleted or superseded data; recovered_from: recently-deleted, deleted-guid, rowid-gap,
  // wal-frame, superseded-page, freeblock, freelist, unallocated; confidence: high / medium / low. Where the
  // bytes were (page, offset, WAL frame and salts) is in extra_json.recovery. recovery_runs: what was examined
  // in each database, so "nothing was recoverable" can be said with the counts of zero-filled free space.
  `
  ALTER TABLE events ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE events ADD COLUMN recovered_from TEXT;
  ALTER TABLE events ADD COLUMN confidence TEXT;
  CREATE TABLE recovery_runs (
    id INTEGER PRIMARY KEY, file_id INTEGER REFERENCES files(id), database TEXT NOT NULL,
    records INTEGER NOT NULL, events INTEGER NOT NULL, warnings INTEGER NOT NULL, seconds REAL, stats_json TEXT
  );
  `,
  // v5 (review, docs/custody.md "Tags and notes"): an examiner's tags and notes on events. Their own tables, so
  // events are never changed and the ingest content digest still verifies; they have their own digest, recorded
  // in the custody row of every change (src/timeline/tags.ts) and checked by verify.
  `
  CREATE TABLE event_tags (
    event_id INTEGER NOT NULL REFERENCES events(id), tag TEXT NOT NULL, note TEXT, examiner TEXT, at TEXT NOT NULL,
    PRIMARY KEY (event_id, tag)
  );
  CREATE INDEX event_tags_tag ON event_tags(tag, event_id);
  CREATE TABLE event_notes (
    event_id INTEGER PRIMARY KEY REFERENCES events(id), note TEXT NOT NULL, examiner TEXT, at TEXT NOT NULL
  );
  `,
  // v6 (several devices in one case, docs/design.md "Devices"): every source ingested into a case is one
  // `evidence` row, and its id is the device id every row read from it carries. Old cases are backfilled to
  // their single evidence row. `files` is unique per device (rebuilt: SQLite cannot drop a UNIQUE constraint;
  // ids are kept, so the content digest of an older case still verifies). events.duplicate_of: the same
  // iMessage (same guid) read from another device's backup points to the first copy; both rows stay.
  `
  ALTER TABLE events ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE events ADD COLUMN duplicate_of INTEGER REFERENCES events(id);
  ALTER TABLE threads ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE attachments ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE contacts ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE warnings ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE extractor_runs ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  ALTER TABLE recovery_runs ADD COLUMN device_id INTEGER REFERENCES evidence(id);
  CREATE TABLE files_v6 (
    id INTEGER PRIMARY KEY,
    domain TEXT, relative_path TEXT, file_id TEXT,
    flags INTEGER, size INTEGER, manifest_size INTEGER, mtime_utc_us INTEGER,
    sha256 TEXT, md5 TEXT, sha1 TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok','missing','unreadable','decrypt-failed','not-sqlite','listed-only')),
    read_by TEXT, note TEXT, origin TEXT, disk_path TEXT, block_prefixes TEXT,
    device_id INTEGER REFERENCES evidence(id),
    UNIQUE (device_id, domain, relative_path)
  );
  INSERT INTO files_v6 (id, domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, read_by, note, origin, disk_path, block_prefixes, device_id)
    SELECT id, domain, relative_path, file_id, flags, size, manifest_size, mtime_utc_us, sha256, md5, sha1, status, read_by, note, origin, disk_path, block_prefixes, (SELECT min(id) FROM evidence) FROM files;
  DROP TABLE files;
  ALTER TABLE files_v6 RENAME TO files;
  UPDATE events SET device_id = (SELECT min(id) FROM evidence);
  UPDATE threads SET device_id = (SELECT min(id) FROM evidence);
  UPDATE attachments SET device_id = (SELECT min(id) FROM evidence);
  UPDATE contacts SET device_id = (SELECT min(id) FROM evidence);
  UPDATE warnings SET device_id = (SELECT min(id) FROM evidence);
  UPDATE extractor_runs SET device_id = (SELECT min(id) FROM evidence);
  UPDATE recovery_runs SET device_id = (SELECT min(id) FROM evidence);
  `,
];

/** Tables whose rows each belong to one device (schema v6): ingest stamps any row written without one. */
export const DEVICE_TABLES = ['events', 'files', 'threads', 'attachments', 'contacts', 'warnings', 'extractor_runs', 'recovery_runs'] as const;

/**
 * Indexes and full-text search are built once after bulk loading: far faster than maintaining them per row.
 * The full-text index covers the user's own text (`body`), the thing --keyword searches; rows without text
 * (calls, read receipts) are left out of it, which halves its build time on message-heavy cases.
 */
export const POST_INGEST_SQL = `
  CREATE INDEX IF NOT EXISTS events_ts ON events(ts_utc_us);
  CREATE INDEX IF NOT EXISTS events_kind ON events(kind, ts_utc_us);
  CREATE INDEX IF NOT EXISTS events_thread ON events(thread_id, ts_utc_us);
  CREATE INDEX IF NOT EXISTS attachments_event ON attachments(event_id);
  CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(body, content='events', content_rowid='id');
  INSERT INTO events_fts(rowid, body) SELECT id, body FROM events WHERE body IS NOT NULL;
`;

/**
 * Indexes only a case of several devices needs (device filters, linked duplicates): each is another pass over the
 * events table, 17 % of the index time of a one-phone case, for queries that case never makes.
 */
export const MULTI_DEVICE_INDEX_SQL = `
  CREATE INDEX IF NOT EXISTS events_device ON events(device_id, ts_utc_us);
  CREATE INDEX IF NOT EXISTS events_duplicate ON events(duplicate_of) WHERE duplicate_of IS NOT NULL;
`;

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").get();
  let version = 0;
  if (hasMeta) {
    const row = db.prepare("SELECT value FROM meta WHERE key='schema_version'").get() as { value: string } | undefined;
    version = row ? Number(row.value) : 0;
  }
  if (version > SCHEMA_VERSION) {
    throw new Error(`case file schema version ${version} is newer than this tool understands (${SCHEMA_VERSION})`);
  }
  if (version >= SCHEMA_VERSION) return;
  // v6 rebuilds `files`, which other tables reference: checked references would refuse the DROP (ids are kept).
  const fk = db.pragma('foreign_keys', { simple: true });
  db.pragma('foreign_keys = OFF');
  try {
    for (let v = version; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]);
      db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)').run('schema_version', String(v + 1));
    }
  } finally {
    if (fk) db.pragma('foreign_keys = ON');
  }
}
