// Digests of the case file's content, so that a changed row is detected later and named by its id.
//
// At the end of ingest every content table (events, files, evidence, warnings… everything except the custody
// log itself, the row checksums and the full-text index) is read in rowid order and serialised canonically by SQLite (quote()),
// one line per row. Per table we keep:
//   - sha256 over all its lines (recorded in the ingest custody row, so it is protected by the hash chain);
//   - a CRC-32 per row, stored in `row_digests` (rowid + crc, 12 bytes a row) only to *locate* a change:
//     when a table's sha256 no longer matches, the rows whose CRC differs are named. The sha256 of the
//     row_digests content is in the custody row as well, so editing it is detected too.
// Everything is streamed (statement iterators, chunked blobs): memory stays flat on million-row cases.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';

/** Tables that may legitimately change after ingest (add yours here if a later command writes a table). */
export const DIGEST_EXCLUDED_TABLES = new Set(['custody', 'row_digests']);
/** meta rows that migrations or later commands rewrite. */
const META_MUTABLE_KEYS = ['schema_version'];

const ROWS_PER_CHUNK = 65536;
const DIGEST_FORMAT = 'ios-timeline-table-digest/2';

export interface TableDigest { rows: number; sha256: string; columns: string[] }
export interface CaseDigest {
  format: string;
  /** sha256 over the tables' digests in name order: one value that stands for the case content. */
  sha256: string;
  tables: Record<string, TableDigest>;
  row_digests_sha256: string;
}

export const ROW_DIGESTS_SQL = `CREATE TABLE IF NOT EXISTS row_digests (
  tbl TEXT NOT NULL, first_rowid INTEGER NOT NULL, rows INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (tbl, first_rowid))`;

/** Content tables of a case file: every ordinary table but the excluded ones, virtual tables and their shadows. */
export function contentTables(db: Database.Database): string[] {
  const all = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string; sql: string | null }[];
  const virtual = all.filter((t) => /^\s*CREATE\s+VIRTUAL/i.test(t.sql ?? '')).map((t) => t.name);
  return all.map((t) => t.name).filter((n) => !DIGEST_EXCLUDED_TABLES.has(n) && !virtual.includes(n) && !virtual.some((v) => n.startsWith(`${v}_`)));
}

function columnsOf(db: Database.Database, table: string): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((c) => c.name);
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Iterate (rowid, crc, line) over a table in rowid order. SQLite writes each canonical line itself with
 * quote() (integers exact, reals to 15 significant digits, text single-quoted, blobs X'hex'), which is
 * several times faster than serialising a million rows in JavaScript.
 */
function* rowsOf(db: Database.Database, table: string, columns: string[]): Generator<{ rowid: bigint; crc: number; line: string }> {
  const where = table === 'meta' ? ` WHERE key NOT IN (${META_MUTABLE_KEYS.map(() => '?').join(',')})` : '';
  const line = columns.length ? columns.map((c) => `quote(${q(c)})`).join(`||','||`) : "''";
  const stmt = db.prepare(`SELECT rowid, ${line} FROM ${q(table)}${where} ORDER BY rowid`).raw(true).safeIntegers(true);
  const params = table === 'meta' ? META_MUTABLE_KEYS : [];
  for (const [rowid, text] of stmt.iterate(...params) as Iterable<[bigint, string]>) {
    const l = `${text}\n`;
    yield { rowid, crc: crc32(l), line: l };
  }
}

/** SHA-256 fed in 64 KiB string batches: one native call per batch instead of one per row. */
class BatchedHash {
  private h = createHash('sha256');
  private buf = '';
  update(s: string): void {
    this.buf += s;
    if (this.buf.length >= 65536) { this.h.update(this.buf); this.buf = ''; }
  }
  digest(): string { this.h.update(this.buf); this.buf = ''; return this.h.digest('hex'); }
}

function combine(tables: Record<string, TableDigest>): string {
  const h = createHash('sha256').update(DIGEST_FORMAT + '\n');
  for (const name of Object.keys(tables).sort()) h.update(`${name}\t${tables[name].rows}\t${tables[name].sha256}\n`);
  return h.digest('hex');
}

function rowDigestsSha(db: Database.Database): string {
  const h = createHash('sha256');
  const stmt = db.prepare('SELECT tbl, first_rowid, rows, data FROM row_digests ORDER BY tbl, first_rowid').raw(true).safeIntegers(true);
  for (const [tbl, first, rows, data] of stmt.iterate() as Iterable<[string, bigint, bigint, Buffer]>) {
    h.update(`${tbl}\t${first}\t${rows}\t`).update(data).update('\n');
  }
  return h.digest('hex');
}

/** Compute every table's digest, (re)write row_digests, and return what the ingest custody row records. */
export function recordCaseDigest(db: Database.Database): CaseDigest {
  db.exec(ROW_DIGESTS_SQL);
  const tables: Record<string, TableDigest> = {};
  const write = db.transaction(() => {
    db.prepare('DELETE FROM row_digests').run();
    const ins = db.prepare('INSERT INTO row_digests (tbl, first_rowid, rows, data) VALUES (?,?,?,?)');
    for (const table of contentTables(db)) {
      const columns = columnsOf(db, table);
      const h = new BatchedHash();
      let rows = 0;
      // better-sqlite3 allows no other statement while an iterator is open: collect the checksums
      // (12 bytes a row) and write them once the table has been read.
      const chunks: Buffer[] = [];
      let chunk = Buffer.allocUnsafe(ROWS_PER_CHUNK * 12);
      let inChunk = 0;
      for (const r of rowsOf(db, table, columns)) {
        h.update(r.line);
        rows++;
        chunk.writeBigInt64BE(r.rowid, inChunk * 12);
        chunk.writeUInt32BE(r.crc, inChunk * 12 + 8);
        if (++inChunk === ROWS_PER_CHUNK) { chunks.push(chunk); chunk = Buffer.allocUnsafe(ROWS_PER_CHUNK * 12); inChunk = 0; }
      }
      if (inChunk) chunks.push(chunk.subarray(0, inChunk * 12));
      for (const c of chunks) ins.run(table, c.readBigInt64BE(0), c.length / 12, c);
      tables[table] = { rows, sha256: h.digest(), columns };
    }
  });
  write();
  return { format: DIGEST_FORMAT, sha256: combine(tables), tables, row_digests_sha256: rowDigestsSha(db) };
}

export interface TableProblem {
  table: string;
  problem: string;
  /** Row ids (rowid) that changed, appeared or disappeared (the first 50 of each). */
  changed: number[];
  added: number[];
  removed: number[];
  /** How many in all. */
  counts?: { changed: number; added: number; removed: number };
}

export interface CaseDigestCheck { ok: boolean; sha256: string; problems: TableProblem[] }

const CAP = 50;

/** Re-compute the digests recorded at ingest and name every table and row that differs. */
export function checkCaseDigest(db: Database.Database, recorded: CaseDigest): CaseDigestCheck {
  const problems: TableProblem[] = [];
  const fresh: Record<string, TableDigest> = {};
  const hasRowDigests = !!db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='row_digests'").get();
  const rowDigestsOk = hasRowDigests && rowDigestsSha(db) === recorded.row_digests_sha256;
  if (!rowDigestsOk) problems.push({ table: 'row_digests', problem: 'the per-row checksums were altered or removed: changed rows can be detected but not named', changed: [], added: [], removed: [] });

  const now = new Set(contentTables(db));
  for (const [table, rec] of Object.entries(recorded.tables)) {
    if (!now.has(table)) { problems.push({ table, problem: 'table was removed', changed: [], added: [], removed: [] }); continue; }
    const existing = new Set(columnsOf(db, table));
    const missing = rec.columns.filter((c) => !existing.has(c));
    if (missing.length) { problems.push({ table, problem: `column(s) removed: ${missing.join(', ')}`, changed: [], added: [], removed: [] }); continue; }
    const h = new BatchedHash();
    let rows = 0;
    for (const r of rowsOf(db, table, rec.columns)) { h.update(r.line); rows++; }
    fresh[table] = { rows, sha256: h.digest(), columns: rec.columns };
    if (fresh[table].sha256 === rec.sha256) continue;
    const p: TableProblem = { table, problem: `content differs from ingest (${rec.rows} rows then, ${rows} now)`, changed: [], added: [], removed: [] };
    if (rowDigestsOk) locateRows(db, table, rec.columns, p);
    problems.push(p);
  }
  for (const table of now) {
    if (table in recorded.tables) continue;
    // A later schema migration may create a table in an old case; only one with rows in it is a change.
    const n = Number((db.prepare(`SELECT count(*) AS n FROM ${q(table)}`).get() as { n: number }).n);
    if (n > 0) problems.push({ table, problem: `table was added after ingest (${n} rows)`, changed: [], added: [], removed: [] });
  }
  return { ok: problems.length === 0, sha256: combine({ ...recorded.tables, ...fresh }), problems };
}

/** Walk the stored checksums and the current rows together (both in rowid order) and name the differences. */
function locateRows(db: Database.Database, table: string, columns: string[], p: TableProblem): void {
  // Read the stored checksums first (better-sqlite3 allows one open iterator per connection): 12 bytes a row.
  const stored = Buffer.concat((db.prepare('SELECT data FROM row_digests WHERE tbl = ? ORDER BY first_rowid').raw(true).all(table) as [Buffer][]).map((r) => r[0]));
  const n = Math.floor(stored.length / 12);
  const rowidAt = (i: number) => stored.readBigInt64BE(i * 12);
  let i = 0;
  const counts = { changed: 0, added: 0, removed: 0 };
  p.counts = counts;
  const push = (kind: 'changed' | 'added' | 'removed', id: bigint) => {
    counts[kind]++;
    if (p[kind].length < CAP) p[kind].push(Number(id));
  };
  for (const r of rowsOf(db, table, columns)) {
    while (i < n && rowidAt(i) < r.rowid) push('removed', rowidAt(i++));
    if (i < n && rowidAt(i) === r.rowid) { if (stored.readUInt32BE(i * 12 + 8) !== r.crc) push('changed', r.rowid); i++; }
    else push('added', r.rowid);
  }
  while (i < n) push('removed', rowidAt(i++));
}
