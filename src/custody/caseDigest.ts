// Digests of the case file's content, so that a changed row is detected later and named by its id.
//
// At the end of ingest every content table (events, files, evidence, warnings… everything except the custody
// log itself, the row checksums and the full-text index) is read in rowid order and serialised canonically by
// SQLite (json_array() of the columns), one line per row. Rows are grouped in blocks by rowid (rowid >> 16), so both cores can digest a large table.
// Per table we keep:
//   - sha256 over the list of its blocks' sha256 (each over the block's lines), recorded in the ingest custody
//     row, so it is protected by the hash chain;
//   - a CRC-32 per row, stored in `row_digests` (rowid + crc, 12 bytes a row) only to *locate* a change:
//     when a table's sha256 no longer matches, the rows whose CRC differs are named. The sha256 of the
//     row_digests content is in the custody row as well, so editing it is detected too.
// Everything is streamed (1,024-row chunks, one blob each): memory stays flat on million-row cases.
import { columnsOf, hasTable, quoteIdent as q } from '../sqlite.js';
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import os from 'node:os';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { TAG_TABLES } from '../timeline/tags.js';

/** Tables that may legitimately change after ingest (add yours here if a later command writes a table).
 *  Tags and notes have their own digest, recorded by every tag change (src/timeline/tags.ts). */
export const DIGEST_EXCLUDED_TABLES = new Set<string>(['custody', 'row_digests', ...TAG_TABLES]);
/** meta rows that migrations or later commands rewrite. */
const META_MUTABLE_KEYS = ['schema_version'];

const BLOCK = 65536n;
const DIGEST_FORMAT = 'ios-timeline-table-digest/4';
/** Tables smaller than this are digested in this thread: starting workers would cost more. */
const PARALLEL_MIN_ROWS = 200_000;

export interface TableDigest {
  rows: number;
  sha256: string;
  columns: string[];
}
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

/** Column names in table order (the order is part of the digest). */
const columnList = (db: Database.Database, table: string): string[] => [...columnsOf(db, table)];

/** Rows per SQL round trip: SQLite hands back one blob of this many lines, and JavaScript never builds a string per row. */
const CHUNK_ROWS = 1024;
/** SQLite's message when json_array() meets a blob in a column not declared BLOB (only a tampered case has one). */
const JSON_BLOB_ERROR = /JSON cannot hold BLOB values/;

/**
 * One row's canonical line: SQLite's json_array() of its columns in table order (integers exact, reals to
 * 15 significant digits, text as JSON strings, NULL as null). Blobs, which JSON cannot hold, become
 * {"blob":"HEX"}; the typeof() test costs a little per column, so it is written only for BLOB columns unless
 * `wrapAll`. Either way the line of a row is the same. JSON escapes every control character, so a line never
 * holds a raw newline and the lines of a chunk are split safely at "\n".
 */
function lineExpr(db: Database.Database, table: string, columns: string[], wrapAll: boolean): string {
  if (!columns.length) return "'[]'";
  const types = new Map((db.prepare(`SELECT name, upper(type) AS type FROM pragma_table_info(?)`).all(table) as { name: string; type: string }[]).map((c) => [c.name, c.type]));
  const cell = (c: string) => (wrapAll || !/^(INTEGER|TEXT|REAL)$/.test(types.get(c) ?? '') ? `iif(typeof(${q(c)}) = 'blob', json_object('blob', hex(${q(c)})), ${q(c)})` : q(c));
  return `json_array(${columns.map(cell).join(', ')})`;
}

interface Chunk {
  rowids: bigint[] /** The rows' lines, each ending in "\n" (UTF-8). */;
  lines: Buffer;
}

/**
 * The rows of a table in rowid order, CHUNK_ROWS at a time, never across a block boundary: SQLite writes the
 * lines and concatenates them (several times faster than a JavaScript string per row).
 */
function* chunksOf(db: Database.Database, table: string, columns: string[], range?: { from: bigint; to: bigint }): Generator<Chunk> {
  const cond = table === 'meta' ? ` AND key NOT IN (${META_MUTABLE_KEYS.map(() => '?').join(',')})` : '';
  const condParams = table === 'meta' ? META_MUTABLE_KEYS : [];
  const stmtFor = (wrapAll: boolean) =>
    db
      .prepare(`SELECT count(*), max(r), group_concat(r), CAST(group_concat(l, char(10)) || char(10) AS BLOB)
    FROM (SELECT rowid AS r, ${lineExpr(db, table, columns, wrapAll)} AS l FROM ${q(table)} WHERE rowid >= ? AND rowid < ?${cond} ORDER BY rowid LIMIT ${CHUNK_ROWS})`)
      .raw(true)
      .safeIntegers(true);
  const fast = stmtFor(false);
  let safe: Database.Statement | null = null;
  const firstFrom = db
    .prepare(`SELECT min(rowid) FROM ${q(table)} WHERE rowid >= ?${cond}`)
    .pluck()
    .safeIntegers(true);
  const stop = range ? (range.to + 1n) * BLOCK : null;
  let next = firstFrom.get(range ? range.from * BLOCK : -(1n << 63n), ...condParams) as bigint | null;
  while (next !== null && (stop === null || next < stop)) {
    const blockEnd = (blockOf(next) + 1n) * BLOCK;
    let row: [bigint, bigint | null, string | null, Buffer | null];
    try {
      row = fast.get(next, blockEnd, ...condParams) as typeof row;
    } catch (e) {
      if (!JSON_BLOB_ERROR.test((e as Error).message)) throw e;
      row = (safe ??= stmtFor(true)).get(next, blockEnd, ...condParams) as typeof row;
    }
    const [n, last, ids, lines] = row;
    if (n === 0n || last === null || ids === null || lines === null) {
      next = firstFrom.get(blockEnd, ...condParams) as bigint | null;
      continue;
    }
    yield { rowids: ids.split(',').map(BigInt), lines };
    next = last + 1n;
  }
}

/** Each line of a chunk with its rowid and CRC-32 (the line's bytes, "\n" included). */
function* linesOf(chunk: Chunk): Generator<{ rowid: bigint; crc: number; line: Buffer }> {
  let at = 0;
  for (const rowid of chunk.rowids) {
    const end = chunk.lines.indexOf(10, at) + 1;
    const line = chunk.lines.subarray(at, end);
    yield { rowid, crc: crc32(line), line };
    at = end;
  }
}

const blockOf = (rowid: bigint): bigint => (rowid < 0n ? (rowid - BLOCK + 1n) / BLOCK : rowid / BLOCK);

export interface BlockDigest {
  block: bigint;
  rows: number;
  sha256: string /** rowid (8 bytes BE) + CRC-32 (4 bytes BE) per row. */;
  crcs: Buffer;
}

/** Digest the rows of one table, block by block (all blocks, or those from `range.from` to `range.to`). */
export function digestBlocks(db: Database.Database, table: string, columns: string[], range?: { from: bigint; to: bigint }): BlockDigest[] {
  const out: BlockDigest[] = [];
  let cur: { block: bigint; h: Hash; crcs: Buffer; n: number } | null = null;
  const close = () => {
    if (cur) out.push({ block: cur.block, rows: cur.n, sha256: cur.h.digest('hex'), crcs: cur.crcs.subarray(0, cur.n * 12) });
  };
  for (const chunk of chunksOf(db, table, columns, range)) {
    const b = blockOf(chunk.rowids[0]);
    if (!cur || cur.block !== b) {
      close();
      cur = { block: b, h: createHash('sha256'), crcs: Buffer.allocUnsafe(Number(BLOCK) * 12), n: 0 };
    }
    cur.h.update(chunk.lines);
    for (const r of linesOf(chunk)) {
      cur.crcs.writeBigInt64BE(r.rowid, cur.n * 12);
      cur.crcs.writeUInt32BE(r.crc, cur.n * 12 + 8);
      cur.n++;
    }
  }
  close();
  return out;
}

function tableDigest(blocks: BlockDigest[], columns: string[]): TableDigest {
  const h = createHash('sha256');
  let rows = 0;
  for (const b of blocks) {
    h.update(`${b.block}\t${b.rows}\t${b.sha256}\n`);
    rows += b.rows;
  }
  return { rows, sha256: h.digest('hex'), columns };
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

/** Write row_digests from the blocks and return what the ingest custody row records. */
function storeDigest(db: Database.Database, perTable: Map<string, { columns: string[]; blocks: BlockDigest[] }>): CaseDigest {
  db.exec(ROW_DIGESTS_SQL);
  const tables: Record<string, TableDigest> = {};
  db.transaction(() => {
    db.prepare('DELETE FROM row_digests').run();
    const ins = db.prepare('INSERT INTO row_digests (tbl, first_rowid, rows, data) VALUES (?,?,?,?)');
    for (const [table, { columns, blocks }] of perTable) {
      for (const b of blocks) if (b.rows) ins.run(table, b.crcs.readBigInt64BE(0), b.rows, b.crcs);
      tables[table] = tableDigest(blocks, columns);
    }
  })();
  return { format: DIGEST_FORMAT, sha256: combine(tables), tables, row_digests_sha256: rowDigestsSha(db) };
}

/** Compute every table's digest in this thread, (re)write row_digests, and return the record. */
export function recordCaseDigest(db: Database.Database): CaseDigest {
  const perTable = new Map<string, { columns: string[]; blocks: BlockDigest[] }>();
  for (const table of contentTables(db)) {
    const columns = columnList(db, table);
    perTable.set(table, { columns, blocks: digestBlocks(db, table, columns) });
  }
  return storeDigest(db, perTable);
}

function digestWorkerScript(): string | null {
  const here = fileURLToPath(new URL('./digestWorker.js', import.meta.url));
  return fs.existsSync(here) ? here : null; // absent when running from the TypeScript sources (tests)
}

/** A block as it crosses threads (bigint is not cloneable as a key we want; the crcs buffer is transferred). */
export interface WireBlock {
  block: string;
  rows: number;
  sha256: string;
  crcs: Uint8Array;
}
export const toWire = (b: BlockDigest): WireBlock => ({ ...b, block: b.block.toString() });
const fromWire = (b: WireBlock): BlockDigest => ({ ...b, block: BigInt(b.block), crcs: Buffer.from(b.crcs.buffer, b.crcs.byteOffset, b.crcs.byteLength) });

/** Digest the given blocks of one table on a worker thread (its own read-only connection). */
function digestOnWorker(script: string, path: string, table: string, columns: string[], blocks: bigint[]): Promise<BlockDigest[]> {
  return new Promise<BlockDigest[]>((resolve, reject) => {
    const w = new Worker(script, {
      workerData: { path, table, columns, blocks: blocks.map(String) },
      // A small young generation: the rows it reads are garbage at once (less memory beside the index build).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    w.once('message', (m: WireBlock[]) => resolve(m.map(fromWire)));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`digest worker exited with code ${code}`));
    });
  });
}

/**
 * The same digest, with large tables split across one worker per core (each reads its own rowid blocks from
 * the case file through its own read-only connection). `path` is the case file, with everything committed.
 */
export async function recordCaseDigestParallel(db: Database.Database, path: string, workers = os.cpus().length): Promise<CaseDigest> {
  const script = digestWorkerScript();
  const perTable = new Map<string, { columns: string[]; blocks: BlockDigest[] }>();
  for (const table of contentTables(db)) {
    const columns = columnList(db, table);
    const { lo, hi } = db
      .prepare(`SELECT min(rowid) AS lo, max(rowid) AS hi FROM ${q(table)}`)
      .safeIntegers(true)
      .get() as { lo: bigint | null; hi: bigint | null };
    if (lo === null || hi === null) {
      perTable.set(table, { columns, blocks: [] });
      continue;
    }
    const todo: bigint[] = [];
    for (let b = blockOf(lo); b <= blockOf(hi); b++) todo.push(b);
    // Only blocks that hold rows: a doctored rowid far away would otherwise mean billions of empty blocks.
    const wanted =
      todo.length > 4096
        ? new Set(
            db
              .prepare(`SELECT DISTINCT rowid >> 16 FROM ${q(table)}`)
              .pluck()
              .safeIntegers(true)
              .all() as bigint[],
          )
        : null;
    const blocks = wanted ? todo.filter((b) => wanted.has(b)) : todo;
    const rows = blocks.length * Number(BLOCK);
    let fresh: BlockDigest[];
    if (!script || workers < 2 || blocks.length < 2 || rows < PARALLEL_MIN_ROWS) {
      fresh = blocks.flatMap((b) => digestBlocks(db, table, columns, { from: b, to: b }));
    } else {
      const parts = Math.min(workers, blocks.length);
      const shares = Array.from({ length: parts }, (_, i) => blocks.slice(Math.floor((blocks.length * i) / parts), Math.floor((blocks.length * (i + 1)) / parts)));
      fresh = (await Promise.all(shares.map((share) => digestOnWorker(script, path, table, columns, share)))).flat();
    }
    perTable.set(table, { columns, blocks: fresh.sort((a, b) => (a.block < b.block ? -1 : a.block > b.block ? 1 : 0)) });
  }
  return storeDigest(db, perTable);
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

export interface CaseDigestCheck {
  ok: boolean;
  sha256: string;
  problems: TableProblem[];
}

const CAP = 50;

/** Re-compute the digests recorded at ingest and name every table and row that differs. */
export function checkCaseDigest(db: Database.Database, recorded: CaseDigest): CaseDigestCheck {
  const problems: TableProblem[] = [];
  if (recorded.format !== DIGEST_FORMAT) {
    // A digest written by another version serialises rows differently: comparing would flag every row.
    problems.push({
      table: '(case)',
      problem: `the content digest was recorded in format "${recorded.format}", this tool computes "${DIGEST_FORMAT}": verify the case with the tool version that ingested it (see its custody row)`,
      changed: [],
      added: [],
      removed: [],
    });
    return { ok: false, sha256: recorded.sha256, problems };
  }
  const fresh: Record<string, TableDigest> = {};
  const hasRowDigests = hasTable(db, 'row_digests');
  const rowDigestsOk = hasRowDigests && rowDigestsSha(db) === recorded.row_digests_sha256;
  if (!rowDigestsOk)
    problems.push({
      table: 'row_digests',
      problem: 'the per-row checksums were altered or removed: changed rows can be detected but not named',
      changed: [],
      added: [],
      removed: [],
    });

  const now = new Set(contentTables(db));
  for (const [table, rec] of Object.entries(recorded.tables)) {
    if (!now.has(table)) {
      problems.push({ table, problem: 'table was removed', changed: [], added: [], removed: [] });
      continue;
    }
    const existing = columnsOf(db, table);
    const missing = rec.columns.filter((c) => !existing.has(c));
    if (missing.length) {
      problems.push({ table, problem: `column(s) removed: ${missing.join(', ')}`, changed: [], added: [], removed: [] });
      continue;
    }
    fresh[table] = tableDigest(digestBlocks(db, table, rec.columns), rec.columns);
    const rows = fresh[table].rows;
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
  for (const chunk of chunksOf(db, table, columns))
    for (const r of linesOf(chunk)) {
      while (i < n && rowidAt(i) < r.rowid) push('removed', rowidAt(i++));
      if (i < n && rowidAt(i) === r.rowid) {
        if (stored.readUInt32BE(i * 12 + 8) !== r.crc) push('changed', r.rowid);
        i++;
      } else push('added', r.rowid);
    }
  while (i < n) push('removed', rowidAt(i++));
}
