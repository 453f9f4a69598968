// Deleted-record recovery for any SQLite evidence file, from raw bytes (see docs/recovery.md).
//
// 1. Versions: every page has its main-file version and then one version per WAL frame. The newest committed
//    version of each page is the live database; every other version is an older state of that page.
// 2. The schema and each table's live rows come from walking each b-tree from its root in the newest view.
// 3. Cells of older page versions that are not live (or differ from the live row) are deleted / older rows.
// 4. Free space of every version (freeblocks, unallocated gap, freelist pages) is carved in three modes.
// 5. Candidates identical to a live row are dropped; one record found in several places is one record.
import fs from 'node:fs';
import { FileSource, memorySource, defaultCachePages, type ByteSource } from './pageSource.js';
import { RowIndex } from './rowIndex.js';
import {
  parseDbHeader,
  parseWal,
  parsePageHeader,
  freeRegions,
  parseTableLeafCell,
  readVarint,
  vlen,
  vbig,
  serialSize,
  decodeValue,
  badText,
  resetBadText,
  tableLocalSize,
  u32,
  u16,
  isPtrmapPage,
  PAGE_TABLE_LEAF,
  PAGE_TABLE_INTERIOR,
  PAGE_INDEX_LEAF,
  PAGE_INDEX_INTERIOR,
  type DbHeader,
  type WalFrame,
  type WalInfo,
  type SqlValue,
} from '../formats/sqliteFile.js';
import { parseCreateTable, parseCreateIndex, type TableSchema, type IndexSchema, type Affinity } from './schema.js';
import type { RecoveredRecord, RecoveryOptions, RecoveryResult, RecoveryStats, RecoverySource, Confidence, CarveMode, RecoveryPlace } from './types.js';

const OWNER_NONE = -1,
  OWNER_INDEX = -2,
  OWNER_OVERFLOW = -3,
  OWNER_FREELIST = -4,
  OWNER_PTRMAP = -5;
const MAX_PAYLOAD = 1 << 30;
const MAX_DEPTH = 40;

/** One version of a page: the main file's (commit 0) or a WAL frame's. `data` reads the page (through the cache). */
class Version {
  constructor(
    readonly pgno: number,
    private src: ByteSource,
    private off: number,
    private size: number,
    readonly frame: WalFrame | null,
    /** 0 = main file, k = k-th committed transaction, Infinity = never committed. */
    readonly commit: number,
    readonly committed: boolean,
  ) {}
  get data(): Uint8Array {
    return this.src.read(this.off, this.size);
  }
}

interface Candidate {
  table: TableSchema;
  rowid: number | bigint | null;
  rowidFrom: RecoveredRecord['rowidFrom'];
  values: SqlValue[];
  present: number;
  place: RecoveryPlace;
  confidence: Confidence;
  truncated: boolean;
  /** Payload length (for comparing with live rows of the same length). */
  payloadLen: number;
  bracket?: { afterCommit?: number; beforeCommit?: number };
}

interface LiveRef {
  v: Version;
  off: number;
  payloadLen: number;
}

/**
 * A table's live rows: rowid → one packed number (version id × 65536 + cell offset) in a typed-array index, not an
 * object per row, so a large table costs the garbage collector nothing, and no page is held: LiveRef objects (and the
 * page read) are made on access. A version id is the page number for the main file, else past the main file's pages
 * by WAL frame number.
 */
class LiveTable {
  private rows = new RowIndex();
  constructor(
    private version: (vid: number) => Version,
    private usable: number,
  ) {}
  set(key: number | string, vid: number, off: number): void {
    this.rows.set(key, vid * 65536 + off);
  }
  ref(packed: number): LiveRef {
    const v = this.version(Math.floor(packed / 65536));
    const off = packed % 65536;
    const p = readVarint(v.data, off, this.usable);
    return { v, off, payloadLen: p };
  }
  packed(): IterableIterator<number> {
    return this.rows.values();
  }
  get(key: number | string): LiveRef | undefined {
    const x = this.rows.get(key);
    return x === undefined ? undefined : this.ref(x);
  }
  has(key: number | string): boolean {
    return this.rows.has(key);
  }
  get size(): number {
    return this.rows.size;
  }
  keys(): IterableIterator<number | string> {
    return this.rows.keys();
  }
  *values(): IterableIterator<LiveRef> {
    for (const x of this.rows.values()) yield this.ref(x);
  }
  *[Symbol.iterator](): IterableIterator<[number | string, LiveRef]> {
    for (const [k, x] of this.rows.entries()) yield [k, this.ref(x)];
  }
}

const SOURCE_RANK: Record<RecoverySource, number> = { 'wal-frame': 0, 'superseded-page': 1, freelist: 2, freeblock: 3, unallocated: 4 };
const CONF_RANK: Record<Confidence, number> = { high: 0, medium: 1, low: 2 };

export function recoverDatabase(opts: RecoveryOptions): RecoveryResult {
  return new Recovery(opts).run();
}

/** The engine behind recoverDatabase() (exported for instrumentation and benchmarks; use recoverDatabase). */
export class Recovery {
  private warnings: string[] = [];
  private warned = new Map<string, number>();
  private stats: RecoveryStats;
  private db!: ByteSource;
  private wal: ByteSource | null = null;
  private h!: DbHeader;
  private walInfo: WalInfo | null = null;
  private usable = 0;
  private mainPages = 0;
  private newestPages = 0;
  private walByPage = new Map<number, WalFrame[]>();
  private tables: TableSchema[] = [];
  private tableByName = new Map<string, TableSchema>();
  private indexes: IndexSchema[] = [];
  private ownerNew!: Int32Array;
  private ownerMain: Int32Array | null = null;
  private live = new Map<TableSchema, LiveTable>();
  private wanted: Set<string> | null;
  private candidates: Candidate[] = [];
  private started = Date.now();
  private maxMs: number;
  private maxBytes: number;
  private stopped = false;
  private maxCols = 0;
  private freelistPages = new Set<number>();
  private maxWalPage = 0;
  /** A payload cannot be longer than the whole file (a bound against hostile lengths). */
  private maxPayload = MAX_PAYLOAD;

  constructor(private opts: RecoveryOptions) {
    this.wanted = opts.tables ? new Set(opts.tables) : null;
    this.maxMs = opts.budget?.maxMs ?? Infinity;
    this.maxBytes = opts.budget?.maxBytes ?? Infinity;
    this.stats = {
      fileBytes: 0,
      walBytes: 0,
      pageSize: 0,
      pages: 0,
      pagesExamined: 0,
      bytesExamined: 0,
      tableLeafVersions: 0,
      freeblocks: 0,
      freeblocksZeroFilled: 0,
      freeblockBytes: 0,
      freelistPages: 0,
      freelistZeroFilled: 0,
      unallocatedBytes: 0,
      unallocatedZero: 0,
      walFrames: 0,
      walFramesValid: 0,
      walFramesCommitted: 0,
      walFramesUncommitted: 0,
      walFramesOldGeneration: 0,
      walCommits: 0,
      candidates: 0,
      droppedIdenticalToLive: 0,
      rejected: 0,
      bySource: {},
      byTable: {},
      ms: 0,
      budgetExceeded: false,
    };
  }

  private warn(m: string): void {
    const key = m.replace(/\d+/g, '#');
    const n = (this.warned.get(key) ?? 0) + 1;
    this.warned.set(key, n);
    if (n <= 5) this.warnings.push(m);
    else if (n === 6) this.warnings.push(`(further warnings like "${m}" are counted, not listed)`);
  }

  run(): RecoveryResult {
    const empty = (): RecoveryResult => {
      this.stats.ms = Date.now() - this.started;
      return { records: [], stats: this.stats, warnings: this.warnings, tables: {} };
    };
    // Files are read through descriptors and a page cache, never whole (see pageSource.ts).
    try {
      const o = this.opts;
      this.db = o.db ? memorySource(o.db) : o.dbPath ? FileSource.open(o.dbPath) : memorySource(new Uint8Array(0));
      if (o.wal !== undefined) this.wal = o.wal ? memorySource(o.wal) : null;
      else if (o.walPath) this.wal = fs.existsSync(o.walPath) ? FileSource.open(o.walPath) : null;
      else if (o.walPath === undefined && o.dbPath && fs.existsSync(o.dbPath + '-wal')) this.wal = FileSource.open(o.dbPath + '-wal');
    } catch (e) {
      this.db?.close();
      this.warn(`cannot read the evidence file: ${(e as Error).message}`);
      return empty();
    }
    try {
      return this.runOn(empty);
    } finally {
      this.db.close();
      this.wal?.close();
    }
  }

  private runOn(empty: () => RecoveryResult): RecoveryResult {
    this.stats.fileBytes = this.db.length;
    this.stats.walBytes = this.wal?.length ?? 0;
    const h = parseDbHeader(this.db.read(0, 100), this.db.length);
    if (typeof h === 'string') {
      this.warn(h);
      return empty();
    }
    const cachePages = this.opts.cachePages ?? defaultCachePages(h.pageSize);
    if (this.db instanceof FileSource) this.db.shape(h.pageSize, cachePages);
    if (this.wal instanceof FileSource) this.wal.shape(h.pageSize + 24, cachePages, 32); // WAL frames after the 32-byte header
    this.h = h;
    this.usable = h.usable;
    this.stats.pageSize = h.pageSize;
    this.mainPages = Math.floor(this.db.length / h.pageSize);
    if (this.db.length % h.pageSize) this.warn(`database is ${this.db.length % h.pageSize} bytes longer than ${this.mainPages} whole pages`);
    this.maxPayload = Math.min(MAX_PAYLOAD, this.db.length + (this.wal?.length ?? 0));
    this.loadWal();
    this.newestPages = this.walInfo && this.walInfo.dbSize > 0 ? this.walInfo.dbSize : this.mainPages;
    if (this.walInfo && this.newestPages > this.maxWalPage) {
      this.warn(`last WAL commit claims ${this.newestPages} pages, more than the file and the WAL can hold: using ${this.maxWalPage}`);
      this.newestPages = this.maxWalPage;
    }
    const maxPg = Math.max(this.mainPages, this.newestPages, ...[...this.walByPage.keys()]) + 1;
    this.stats.pages = this.newestPages;
    if (maxPg > 0x7fffffff) {
      this.warn('absurd page count');
      return empty();
    }
    this.ownerNew = new Int32Array(maxPg).fill(OWNER_NONE);
    this.readSchema();
    this.markAuxPages(this.ownerNew, (p) => this.newest(p));
    this.walkAll(this.ownerNew, (p) => this.newest(p), true);
    if (this.walByPage.size > 0) {
      this.ownerMain = new Int32Array(maxPg).fill(OWNER_NONE);
      this.markAuxPages(this.ownerMain, (p) => this.mainVersion(p));
      this.walkAll(this.ownerMain, (p) => this.mainVersion(p), false);
    }
    this.examineVersions();
    this.carveAll();
    const records = this.resolve();
    this.stats.ms = Date.now() - this.started;
    const tables: Record<string, string[]> = {};
    for (const t of this.tables) tables[t.name] = t.columns;
    return { records, stats: this.stats, warnings: this.warnings, tables };
  }

  // ------------------------------------------------------------------------------------------------ pages

  private loadWal(): void {
    if (!this.wal || this.wal.length === 0) return;
    const info = parseWal(this.wal, this.h.pageSize);
    for (const w of info.warnings) this.warn(w);
    if (info.pageSize !== this.h.pageSize) {
      if (info.pageSize) this.warn('WAL page size differs from the database: WAL ignored');
      return;
    }
    this.walInfo = info;
    // A frame cannot name a page beyond the largest database size any commit frame records (or the main file), plus
    // the pages the WAL itself could have added: a bound against junk page numbers.
    let maxSize = this.mainPages;
    for (const f of info.frames) if (f.commitSize > maxSize && f.commitSize <= this.mainPages + info.frames.length) maxSize = f.commitSize;
    this.maxWalPage = maxSize + info.frames.length;
    this.stats.walFrames = info.frames.length;
    this.stats.walCommits = info.commits;
    for (const f of info.frames) {
      if (f.valid) this.stats.walFramesValid++;
      if (f.committed) this.stats.walFramesCommitted++;
      else this.stats.walFramesUncommitted++;
      if (f.oldGeneration) this.stats.walFramesOldGeneration++;
      if (f.pgno === 0 || f.pgno > this.maxWalPage) {
        if (f.pgno !== 0) this.warn(`WAL frame ${f.index} names page ${f.pgno}, beyond any database size the WAL records: skipped`);
        continue;
      }
      let l = this.walByPage.get(f.pgno);
      if (!l) this.walByPage.set(f.pgno, (l = []));
      l.push(f);
    }
    if (this.stats.walFramesUncommitted)
      this.warn(
        `${this.stats.walFramesUncommitted} WAL frame(s) after the last valid commit, with bad checksums or of an older WAL generation: examined, never treated as committed`,
      );
  }

  /** A main-file page version (made on each call: nothing per page is kept). */
  private mainVersion(pgno: number): Version | null {
    if (pgno < 1 || pgno > this.mainPages) return null;
    const ps = this.h.pageSize;
    return new Version(pgno, this.db, (pgno - 1) * ps, ps, null, 0, true);
  }

  private frameCache = new Map<WalFrame, Version>();
  private frameVersion(f: WalFrame): Version {
    let v = this.frameCache.get(f);
    if (!v) {
      v = new Version(f.pgno, this.wal!, f.offset + 24, this.h.pageSize, f, f.committed ? f.commit : Infinity, f.committed);
      this.frameCache.set(f, v);
    }
    return v;
  }

  /** The id a live row stores for its page version (see LiveTable). */
  private vid(v: Version): number {
    return v.frame ? this.mainPages + v.frame.index : v.pgno;
  }
  private byVid = (vid: number): Version => (vid > this.mainPages ? this.frameVersion(this.walInfo!.frames[vid - this.mainPages - 1]) : this.mainVersion(vid)!);

  /** The newest committed version of a page (the live database). */
  private newest(pgno: number): Version | null {
    if (pgno < 1 || pgno > this.newestPages) return null;
    const frames = this.walByPage.get(pgno);
    if (frames) for (let i = frames.length - 1; i >= 0; i--) if (frames[i].committed) return this.frameVersion(frames[i]);
    return this.mainVersion(pgno);
  }

  /** The version of a page as of commit `c` (committed versions only). */
  private versionAt(pgno: number, c: number): Version | null {
    const frames = this.walByPage.get(pgno);
    if (frames) for (let i = frames.length - 1; i >= 0; i--) if (frames[i].committed && frames[i].commit <= c) return this.frameVersion(frames[i]);
    return this.mainVersion(pgno);
  }

  /** No page view read before is held any longer: the cache may reuse dropped buffers (see ByteSource.safePoint). */
  private safePoint(): void {
    this.db.safePoint();
    this.wal?.safePoint();
  }

  private overBudget(): boolean {
    if (this.stopped) return true;
    if (Date.now() - this.started > this.maxMs || this.stats.bytesExamined > this.maxBytes) {
      this.stopped = true;
      this.stats.budgetExceeded = true;
      this.warn(
        `budget exceeded after ${this.stats.pagesExamined} page versions (${this.stats.bytesExamined} bytes, ${Date.now() - this.started} ms): carving stopped, results are partial`,
      );
    }
    return this.stopped;
  }

  // ------------------------------------------------------------------------------------------------ schema & trees

  private readSchema(): void {
    const rows: SqlValue[][] = [];
    this.walkTree(
      1,
      (p) => this.newest(p),
      null,
      0,
      (v, cell) => {
        const r = this.readRecord(v, cell.payloadOff, cell.localLen, cell.payloadLen, cell.overflow, (p) => this.newest(p));
        if (r) rows.push(r.values);
      },
    );
    for (const r of rows) {
      const [type, name, tblName, root, sql] = r;
      if (typeof name !== 'string' || typeof root !== 'number') continue;
      if (type === 'table' && typeof sql === 'string' && root > 0) {
        // virtual tables have root page 0
        const t = parseCreateTable(name, root, sql);
        if (!t) {
          this.warn(`cannot parse the CREATE statement of ${name}`);
          continue;
        }
        if (t.withoutRowid) {
          this.indexes.push({ name, table: name, rootPage: root, columns: [], unique: true, sql });
          continue;
        }
        this.tables.push(t);
        this.tableByName.set(name, t);
        this.maxCols = Math.max(this.maxCols, t.columns.length);
      } else if (type === 'index' && root > 0) {
        this.indexes.push(parseCreateIndex(name, String(tblName), root, typeof sql === 'string' ? sql : null));
      }
    }
    // Single-column unique indexes make a column unique too (Core Data's Z_..._UNIQUE_... indexes).
    for (const ix of this.indexes) {
      const t = this.tableByName.get(ix.table);
      if (!t || !ix.unique || ix.columns.length !== 1) continue;
      const i = t.columns.findIndex((c) => c.toLowerCase() === ix.columns[0].toLowerCase());
      if (i >= 0 && i !== t.rowidAlias && !t.uniqueColumns.includes(i)) t.uniqueColumns.push(i);
    }
    if (this.tables.length === 0) this.warn('no table found in sqlite_master');
  }

  /** Freelist and pointer-map pages of one view. */
  private markAuxPages(owner: Int32Array, get: (p: number) => Version | null): void {
    if (this.h.autoVacuumRoot > 0) for (let p = 2; p < owner.length; p++) if (isPtrmapPage(p, this.usable)) owner[p] = OWNER_PTRMAP;
    const p1 = get(1);
    if (!p1) return;
    const d1 = p1.data;
    let trunk = u32(d1, 32);
    const total = u32(d1, 36);
    let seen = 0,
      guard = 0;
    while (trunk > 0 && trunk < owner.length && guard++ < owner.length) {
      if (owner[trunk] === OWNER_FREELIST) {
        this.warn('freelist trunk chain loops: cut');
        break;
      }
      owner[trunk] = OWNER_FREELIST;
      this.freelistPages.add(trunk);
      const v = get(trunk);
      if (!v) break;
      const d = v.data;
      const n = u32(d, 4);
      if (n > (this.usable - 8) / 4) {
        this.warn(`freelist trunk ${trunk} claims ${n} leaves: cut`);
        break;
      }
      for (let i = 0; i < n; i++) {
        const leaf = u32(d, 8 + 4 * i);
        if (leaf > 0 && leaf < owner.length) {
          owner[leaf] = OWNER_FREELIST;
          this.freelistPages.add(leaf);
        }
      }
      seen += n + 1;
      trunk = u32(d, 0);
    }
    if (seen !== total && total < owner.length) this.warn(`freelist holds ${seen} pages, header says ${total}`);
  }

  private walkAll(owner: Int32Array, get: (p: number) => Version | null, collectLive: boolean): void {
    owner[1] = owner[1] === OWNER_NONE ? OWNER_INDEX : owner[1]; // sqlite_master is not a user table
    this.walkTree(1, get, owner, OWNER_INDEX, null, true);
    this.tables.forEach((t, ti) => {
      let live: LiveTable | null = null;
      if (collectLive) this.live.set(t, (live = new LiveTable(this.byVid, this.usable)));
      this.walkTree(
        t.rootPage,
        get,
        owner,
        ti,
        (v, cell) => {
          if (live) live.set(typeof cell.rowid === 'bigint' ? cell.rowid.toString() : cell.rowid, this.vid(v), cell.off);
          if (cell.overflow) this.markOverflow(cell.overflow, cell.payloadLen - cell.localLen, owner);
        },
        true,
      );
    });
    for (const ix of this.indexes) this.walkTree(ix.rootPage, get, owner, OWNER_INDEX, null, true);
  }

  private markOverflow(first: number, remaining: number, owner: Int32Array): void {
    let p = first,
      n = 0;
    const max = Math.ceil(remaining / (this.usable - 4)) + 1;
    const get = (pg: number) => this.newest(pg);
    while (p > 0 && p < owner.length && n++ < max) {
      if (owner[p] === OWNER_OVERFLOW) {
        this.warn(`overflow chain from page ${first} reaches page ${p} a second time: cut`);
        break;
      }
      owner[p] = OWNER_OVERFLOW;
      const v = get(p);
      if (!v) break;
      p = u32(v.data, 0);
    }
  }

  /** Walk a table or index b-tree; calls `leaf` for each table-leaf cell. Bounded against loops and depth. */
  private walkTree(
    root: number,
    get: (p: number) => Version | null,
    owner: Int32Array | null,
    mark: number,
    leaf: ((v: Version, cell: NonNullable<ReturnType<typeof parseTableLeafCell>>) => void) | null,
    /** `leaf` keeps nothing read from a page (numbers only): each page starts at a safe point. */
    safe = false,
  ): void {
    const seen = new Set<number>();
    const stack: [number, number][] = [[root, 0]];
    while (stack.length) {
      if (safe) this.safePoint();
      const [pg, depth] = stack.pop()!;
      if (pg < 1 || seen.has(pg)) {
        if (seen.has(pg)) this.warn(`b-tree from root ${root} reaches page ${pg} twice: cycle cut`);
        continue;
      }
      if (depth > MAX_DEPTH) {
        this.warn(`b-tree from root ${root} deeper than ${MAX_DEPTH}: cut`);
        continue;
      }
      seen.add(pg);
      const v = get(pg);
      if (!v) {
        this.warn(`b-tree from root ${root} points to missing page ${pg}`);
        continue;
      }
      const d = v.data;
      const h = parsePageHeader(d, pg);
      if (!h) {
        this.warn(`page ${pg} (b-tree root ${root}) is not a b-tree page`);
        continue;
      }
      if (owner && pg < owner.length) owner[pg] = mark;
      const nCells = Math.min(h.cellCount, (this.usable - h.ptrStart) >> 1);
      if (h.type === PAGE_TABLE_INTERIOR || h.type === PAGE_INDEX_INTERIOR) {
        for (let i = 0; i < nCells; i++) {
          const off = u16(d, h.ptrStart + 2 * i);
          if (off + 4 <= this.usable) stack.push([u32(d, off), depth + 1]);
        }
        stack.push([h.rightChild, depth + 1]);
      } else if (h.type === PAGE_INDEX_LEAF) {
        // Overflow pages of index entries: mark them so they are not carved as table data.
        if (owner)
          for (let i = 0; i < nCells; i++) {
            const off = u16(d, h.ptrStart + 2 * i);
            const p = readVarint(d, off, this.usable);
            if (vlen === 0) continue;
            const x = Math.floor(((this.usable - 12) * 64) / 255) - 23;
            if (p > x) {
              const m = Math.floor(((this.usable - 12) * 32) / 255) - 23;
              const k = m + ((p - m) % (this.usable - 4));
              const local = k <= x ? k : m;
              const o = off + vlen + local;
              if (o + 4 <= this.usable) this.markOverflow(u32(d, o), p - local, owner);
            }
          }
      } else if (h.type === PAGE_TABLE_LEAF && leaf) {
        for (let i = 0; i < nCells; i++) {
          const off = u16(d, h.ptrStart + 2 * i);
          const c = parseTableLeafCell(d, off, this.usable, this.usable);
          if (!c) {
            this.warn(`page ${pg}: cell ${i} runs off the page`);
            continue;
          }
          leaf(v, c);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ records

  /** Assemble a payload (following overflow pages through `get`) and decode it. */
  private readRecord(
    v: Version,
    payloadOff: number,
    localLen: number,
    payloadLen: number,
    overflow: number,
    get: (p: number) => Version | null,
  ): { values: SqlValue[]; types: number[]; truncated: boolean } | null {
    let buf: Uint8Array;
    let truncated = false;
    const d = v.data;
    if (payloadLen <= localLen) buf = d.subarray(payloadOff, payloadOff + payloadLen);
    else {
      if (payloadLen > this.maxPayload) {
        this.warn(`payload of ${payloadLen} bytes is longer than the evidence: skipped`);
        return null;
      }
      const out = Buffer.allocUnsafe(payloadLen);
      out.set(d.subarray(payloadOff, payloadOff + localLen), 0);
      let have = localLen,
        p = overflow,
        n = 0;
      const max = Math.ceil((payloadLen - localLen) / (this.usable - 4)) + 1;
      const seen = new Set<number>();
      while (have < payloadLen) {
        if (p < 1 || seen.has(p) || n++ > max) {
          truncated = true;
          break;
        }
        seen.add(p);
        const ov = get(p);
        if (!ov) {
          truncated = true;
          break;
        }
        const take = Math.min(this.usable - 4, payloadLen - have);
        const od = ov.data;
        out.set(od.subarray(4, 4 + take), have);
        have += take;
        p = u32(od, 0);
      }
      buf = truncated ? out.subarray(0, have) : out;
      if (truncated) this.warn(`overflow chain from page ${overflow} broken after ${have} of ${payloadLen} bytes`);
    }
    return this.decodeRecord(buf, 0, buf.length, truncated);
  }

  private decodeRecord(b: Uint8Array, off: number, len: number, truncated: boolean): { values: SqlValue[]; types: number[]; truncated: boolean } | null {
    const end = off + len;
    const hl = readVarint(b, off, end);
    if (vlen === 0 || hl < 1 || hl > len) return null;
    const types: number[] = [];
    let q = off + vlen;
    const hEnd = off + hl;
    while (q < hEnd) {
      const t = readVarint(b, q, hEnd);
      if (vlen === 0 || t === 10 || t === 11 || t > MAX_PAYLOAD * 2) return null;
      types.push(t);
      q += vlen;
      if (types.length > 32767) return null;
    }
    const values: SqlValue[] = [];
    let d = hEnd;
    for (const t of types) {
      const s = serialSize(t);
      if (d + s > end) {
        if (!truncated) return null;
        // Truncated overflow: keep the readable part of a text/blob, then stop.
        if (t >= 12 && d < end) values.push(decodeValue(b.subarray(0, end), d, (t & 1 ? 13 : 12) + 2 * (end - d), this.h.textEncoding));
        break;
      }
      values.push(decodeValue(b, d, t, this.h.textEncoding));
      d += s;
    }
    return { values, types, truncated };
  }

  // ------------------------------------------------------------------------------------------------ validation

  private typeOk(a: Affinity, t: number, strict: boolean): boolean {
    if (t === 10 || t === 11) return false;
    if (!strict || a === 'blob') return true;
    if (t === 0) return true;
    if (a === 'text') return t >= 12;
    if (a === 'numeric') return t < 12 || (t & 1) === 1;
    return t < 12; // integer, real
  }

  /** Can these serial types be a row of table t? */
  private fits(t: TableSchema, types: number[], strict: boolean): boolean {
    if (types.length === 0 || types.length > t.columns.length) return false;
    if (t.rowidAlias >= 0 && t.rowidAlias < types.length && types[t.rowidAlias] !== 0) return false;
    for (let i = 0; i < types.length; i++) if (!this.typeOk(t.affinities[i], types[i], strict)) return false;
    return true;
  }

  /** fits() over scratch serial types st[from .. from+n), column 0 = st[from] (or an implied NULL when lostFirst). */
  private fitsScratch(t: TableSchema, st: Float64Array, from: number, n: number, strict: boolean, lostFirst = false): boolean {
    const total = n + (lostFirst ? 1 : 0);
    if (total === 0 || total > t.columns.length) return false;
    for (let c = 0; c < total; c++) {
      const ty = lostFirst ? (c === 0 ? 0 : st[from + c - 1]) : st[from + c];
      if (c === t.rowidAlias && ty !== 0) return false;
      if (!this.typeOk(t.affinities[c], ty, strict)) return false;
    }
    return true;
  }

  /** The first table the serial types fit; by shape (strict) also at least as many columns as its narrowest live row. */
  private pickTable(pgOwner: TableSchema[], types: number[], strict: boolean): TableSchema | null {
    for (const t of pgOwner) {
      if (!this.fits(t, types, strict)) continue;
      if (strict && types.length < ((this.live.get(t)?.size ?? 0) > 0 ? this.minCols(t) : t.columns.length)) continue;
      return t;
    }
    return null;
  }

  /** Shape-only candidates for pages no tree claims: widest tables first (fewer accidental fits). */
  private shapeTables: TableSchema[] | null = null;
  private byShape(): TableSchema[] {
    if (!this.shapeTables) this.shapeTables = [...this.tables].sort((x, y) => y.columns.length - x.columns.length);
    return this.shapeTables;
  }

  // ------------------------------------------------------------------------------------------------ versions

  /** Cells of every non-newest version of every page that has WAL frames. */
  private examineVersions(): void {
    for (const [pgno, frames] of this.walByPage) {
      if (this.overBudget()) return;
      const versions: Version[] = [];
      const main = this.mainVersion(pgno);
      if (main) versions.push(main);
      for (const f of frames) versions.push(this.frameVersion(f));
      const newest = this.newest(pgno);
      const committedOrder = versions.filter((v) => v.committed);
      for (let vi = 0; vi < versions.length; vi++) {
        const v = versions[vi];
        if (newest && v.frame === newest.frame && v.commit === newest.commit) continue;
        const d = v.data;
        const h = parsePageHeader(d, pgno);
        if (!h || h.type !== PAGE_TABLE_LEAF) continue;
        this.stats.tableLeafVersions++;
        const next = v.committed ? committedOrder[committedOrder.indexOf(v) + 1] : undefined;
        const source: RecoverySource = v.frame ? 'wal-frame' : 'superseded-page';
        const cl = this.claim(v);
        if (cl.skip) continue;
        const owners = cl.owners;
        const nCells = Math.min(h.cellCount, (this.usable - h.ptrStart) >> 1);
        for (let i = 0; i < nCells; i++) {
          const off = u16(d, h.ptrStart + 2 * i);
          const c = parseTableLeafCell(d, off, this.usable, this.usable);
          if (!c) continue;
          const getter = (p: number) => (v.committed ? this.versionAt(p, v.commit) : this.newest(p));
          const o0 = owners[0];
          if (o0 && this.sameAsLive(o0, c.rowid, d, c.payloadOff, c.payloadLen, c.localLen)) {
            this.stats.droppedIdenticalToLive++;
            continue;
          }
          const r = this.readRecord(v, c.payloadOff, c.localLen, c.payloadLen, c.overflow, getter);
          if (!r) continue;
          // The page's own table (types allowed by its columns first), else by shape only when no tree claims the page.
          let t = this.pickTable(owners, r.types, true) ?? this.pickTable(owners, r.types, false);
          if (!t && cl.unowned) t = this.pickTable(this.byShape(), r.types, true);
          if (!t) {
            this.stats.rejected++;
            continue;
          }
          this.push({
            table: t,
            rowid: c.rowid,
            rowidFrom: 'cell',
            values: r.values,
            present: r.types.length,
            payloadLen: c.payloadLen,
            place: this.place(source, v, off, 'cell'),
            confidence: v.committed ? 'high' : 'medium',
            truncated: r.truncated,
            bracket: v.committed ? { afterCommit: v.commit, beforeCommit: next?.commit } : undefined,
          });
        }
      }
    }
  }

  private place(source: RecoverySource, v: Version, offset: number, mode: CarveMode): RecoveryPlace {
    const p: RecoveryPlace = { source, page: v.pgno, offset, mode };
    if (v.frame) {
      p.walFrame = v.frame.index;
      p.walSalt = [v.frame.salt1, v.frame.salt2];
      p.committed = v.committed;
    }
    if (v.committed) p.commit = v.commit;
    return p;
  }

  private push(c: Candidate): void {
    if (this.wanted && !this.wanted.has(c.table.name)) return;
    // A blob is a view into a cached file block: copy it, so a candidate never pins a block.
    for (let i = 0; i < c.values.length; i++) {
      const x = c.values[i];
      if (Buffer.isBuffer(x)) c.values[i] = Buffer.from(x);
    }
    this.stats.candidates++;
    this.candidates.push(c);
  }

  // ------------------------------------------------------------------------------------------------ free space

  private carveAll(): void {
    const one = (v: Version): boolean => {
      this.safePoint(); // nothing read for the page before is held (candidates copy their blobs)
      if (this.stats.pagesExamined % 64 === 0 && this.overBudget()) return false;
      this.stats.pagesExamined++;
      this.stats.bytesExamined += this.h.pageSize;
      this.carvePage(v);
      return true;
    };
    for (let p = 1; p <= this.mainPages; p++) if (!one(this.mainVersion(p)!)) return;
    for (const frames of this.walByPage.values()) for (const f of frames) if (!one(this.frameVersion(f))) return;
  }

  /**
   * Who a page version belongs to. The main file's version is judged by the main-file view first, a WAL frame by the
   * newest view first. A page that is sqlite_master, an index, an overflow page or a pointer map there is not carved
   * as rows; a free or unclaimed page is attributed to the table that held it in the other view, else by shape.
   */
  private claim(v: Version): { skip: boolean; owners: TableSchema[]; isFree: boolean; unowned: boolean } {
    const pg = v.pgno;
    const ownN = pg < this.ownerNew.length ? this.ownerNew[pg] : OWNER_NONE;
    const ownM = this.ownerMain && pg < this.ownerMain.length ? this.ownerMain[pg] : null;
    const primary = v.frame || ownM === null ? ownN : ownM;
    const secondary = v.frame || ownM === null ? (ownM ?? OWNER_NONE) : ownN;
    const isFree = primary === OWNER_FREELIST || (primary === OWNER_NONE && secondary === OWNER_FREELIST) || this.freelistPages.has(pg);
    const notRows = (o: number) => o === OWNER_INDEX || o === OWNER_OVERFLOW || o === OWNER_PTRMAP;
    if (notRows(primary) || (primary === OWNER_NONE && notRows(secondary))) return { skip: true, owners: [], isFree, unowned: false };
    const owners: TableSchema[] = [];
    if (primary >= 0) owners.push(this.tables[primary]);
    if (secondary >= 0 && secondary !== primary) owners.push(this.tables[secondary]);
    return { skip: false, owners, isFree, unowned: owners.length === 0 };
  }

  private carvePage(v: Version): void {
    const pg = v.pgno;
    const cl = this.claim(v);
    const isFree = cl.isFree;
    if (isFree) this.stats.freelistPages++;
    if (cl.skip && !isFree) return;
    const d = v.data;
    const h = parsePageHeader(d, pg);
    if (h && (h.type === PAGE_INDEX_LEAF || h.type === PAGE_INDEX_INTERIOR)) return;
    if (!h) {
      if (!isFree && !cl.unowned) return;
      // A free (or unclaimed) page without a b-tree header: trunk pages keep old bytes after their leaf list.
      let start = 0;
      if (isFree && this.isTrunk(pg)) start = Math.min(this.usable, 8 + 4 * Math.min(u32(d, 4), (this.usable - 8) >> 2));
      if (this.allZero(d, start, this.usable)) {
        if (isFree) this.stats.freelistZeroFilled++;
        return;
      }
      const tables = cl.owners.length ? cl.owners : this.byShape();
      this.carveRegion(v, d, start, this.usable, 'raw', isFree ? 'freelist' : 'unallocated', tables, cl.owners.length === 0);
      return;
    }
    if (cl.skip) return;
    // A table page (an interior page keeps old leaf content in its unallocated gap after a root split).
    const owners = cl.owners;
    const unowned = cl.unowned;
    const shape = unowned ? this.byShape() : owners;
    if ((isFree || unowned) && h.type === PAGE_TABLE_LEAF) {
      // Every cell of a free / unclaimed table leaf is a candidate, read through the cell pointers.
      const nCells = Math.min(h.cellCount, (this.usable - h.ptrStart) >> 1);
      for (let i = 0; i < nCells; i++) {
        const off = u16(d, h.ptrStart + 2 * i);
        const c = parseTableLeafCell(d, off, this.usable, this.usable);
        if (!c || c.payloadLen > this.maxPayload) continue;
        const r = this.readRecord(v, c.payloadOff, c.localLen, c.payloadLen, c.overflow, (p) => (v.committed ? this.versionAt(p, v.commit) : this.newest(p)));
        if (!r) continue;
        const t = this.pickTable(shape, r.types, unowned);
        if (!t) {
          this.stats.rejected++;
          continue;
        }
        this.push({
          table: t,
          rowid: c.rowid,
          rowidFrom: 'cell',
          values: r.values,
          present: r.types.length,
          payloadLen: c.payloadLen,
          place: this.place(isFree ? 'freelist' : 'unallocated', v, off, 'cell'),
          confidence: 'medium',
          truncated: r.truncated,
        });
      }
    }
    for (const reg of freeRegions(d, h, this.usable, (m) => this.warn(`page ${pg}: ${m}`))) {
      if (reg.kind === 'freeblock') {
        this.stats.freeblocks++;
        this.stats.freeblockBytes += reg.end - reg.start;
        if (this.allZero(d, reg.start + 4, reg.end)) {
          this.stats.freeblocksZeroFilled++;
          continue;
        }
        this.carveRegion(v, d, reg.start, reg.end, 'freeblock', isFree ? 'freelist' : 'freeblock', shape, unowned);
      } else {
        this.stats.unallocatedBytes += reg.end - reg.start;
        if (this.allZero(d, reg.start, reg.end)) {
          this.stats.unallocatedZero += reg.end - reg.start;
          continue;
        }
        this.carveRegion(v, d, reg.start, reg.end, 'raw', isFree ? 'freelist' : 'unallocated', shape, unowned);
      }
    }
  }

  private trunks: Set<number> | null = null;
  private isTrunk(pg: number): boolean {
    if (!this.trunks) {
      this.trunks = new Set();
      for (const get of [(p: number) => this.newest(p), (p: number) => this.mainVersion(p)]) {
        const p1 = get(1);
        if (!p1) continue;
        let t = u32(p1.data, 32),
          n = 0;
        while (t > 0 && n++ < 1_000_000 && !this.trunks.has(t)) {
          this.trunks.add(t);
          const v = get(t);
          if (!v) break;
          t = u32(v.data, 0);
        }
      }
    }
    return this.trunks.has(pg);
  }

  /** Native comparison against a zero page (memcmp), not a JS byte loop. */
  private allZero(b: Uint8Array, s: number, e: number): boolean {
    if (e <= s) return true;
    return Buffer.compare(Buffer.from(b.buffer, b.byteOffset + s, e - s), ZERO.subarray(0, e - s)) === 0;
  }

  /**
   * Carve one free region. A freeblock's first 4 bytes are its header (they overwrote the start of the deleted cell):
   * the record there is rebuilt from the schema; every later offset is tried as an intact cell.
   */
  private carveRegion(v: Version, b: Uint8Array, start: number, end: number, kind: 'freeblock' | 'raw', source: RecoverySource, tables: TableSchema[], shapeOnly: boolean): void {
    let p = start;
    // At a freeblock's start, and wherever a record just ended inside a merged freeblock, there may be a 4-byte
    // freeblock header (next, size) over the first bytes of a deleted cell: rebuild that cell from the schema.
    let header = kind === 'freeblock';
    let first = true;
    while (p < end - 2) {
      if (header && !shapeOnly && p + 8 < end) {
        const next = u16(b, p),
          size = u16(b, p + 2);
        const plausible = first || ((next === 0 || (next > p && next < this.usable)) && size >= 4 && p + size <= end);
        if (plausible) {
          const q = this.tryRebuild(v, b, p + 4, first ? end : Math.min(end, p + size), tables, source);
          if (q > 0) {
            p = q;
            first = false;
            continue;
          }
          if (first) p += 4;
        }
      }
      header = false;
      first = false;
      if (b[p] === 0) {
        p++;
        continue;
      }
      let r = this.tryIntact(v, b, p, end, tables, source, shapeOnly);
      if (r === 0 && !shapeOnly) r = this.tryHeaderAt(v, b, p, end, tables, source);
      if (r > 0) {
        p = r;
        header = true;
        continue;
      }
      p++;
    }
  }

  /**
   * A record header at p whose cell prefix (payload length, rowid) was overwritten, e.g. by the tail of a record
   * written over it: only for the page's own tables, with at least the fewest columns a live row has.
   */
  private tryHeaderAt(v: Version, b: Uint8Array, p: number, end: number, tables: TableSchema[], source: RecoverySource): number {
    const hl = b[p];
    if (hl < 2 || (hl >= 0x80 && (p + 1 >= end || b[p + 1] >= 0x80))) return 0;
    const hlen = readVarint(b, p, end);
    if (vlen === 0 || p + hlen > end) return 0;
    const t0 = b[p + vlen];
    for (const t of tables) {
      if (t.rowidAlias === 0 ? t0 !== 0 : !this.typeOk(t.affinities[0], t0, true)) continue;
      const min = this.minCols(t);
      if (hlen < min + 1 || hlen > t.columns.length * 9 + 9) continue;
      const n = scanTypes(b, p + vlen, p + hlen, t.columns.length);
      if (n < min || !this.fitsScratch(t, ST, 0, n, true)) continue;
      const P = hlen + scanBody,
        local = tableLocalSize(P, this.usable);
      const recEnd = p + local + (local < P ? 4 : 0);
      if (recEnd > end || P > this.maxPayload) continue;
      const types = Array.from(ST.subarray(0, n));
      const overflow = local < P ? u32(b, p + local) : 0;
      resetBadText();
      const r = this.readRecord(v, p, local, P, overflow, (pg) => (v.committed ? this.versionAt(pg, v.commit) : this.newest(pg)));
      if (!r || badText || !this.plausible(t, r.values, types)) {
        this.stats.rejected++;
        continue;
      }
      this.push({
        table: t,
        rowid: null,
        rowidFrom: null,
        values: r.values,
        present: n,
        payloadLen: P,
        place: this.place(source, v, p, 'header'),
        confidence: 'low',
        truncated: r.truncated,
      });
      return recEnd;
    }
    return 0;
  }

  /** An intact cell at p: payload length, rowid, record header; the sizes must add up exactly. Returns the end or 0. */
  private tryIntact(v: Version, b: Uint8Array, p: number, end: number, tables: TableSchema[], source: RecoverySource, shapeOnly: boolean): number {
    const P = readVarint(b, p, end);
    if (vlen === 0 || P < 2 || P > this.maxPayload) return 0;
    let q = p + vlen;
    let rowid: number | bigint = readVarint(b, q, end);
    if (vlen === 0) return 0;
    if (vbig !== null) rowid = vbig;
    if (typeof rowid === 'number' ? rowid < 1 : rowid < 1n) return 0;
    q += vlen;
    const local = tableLocalSize(P, this.usable);
    const cellEnd = q + local + (local < P ? 4 : 0);
    // A cell whose tail runs past the region was partly overwritten (by a live cell, usually): keep its head.
    const partial = cellEnd > end;
    const hl = readVarint(b, q, end);
    if (vlen === 0 || hl < 2 || hl > local || hl > P) return 0;
    // Fail fast: the first serial type must suit column 0 of some candidate table.
    const t0 = b[q + vlen];
    let maxN = 0,
      firstOk = false;
    for (const x of tables) {
      if (x.columns.length > maxN) maxN = x.columns.length;
      if (!firstOk && (x.rowidAlias === 0 ? t0 === 0 : t0 < 0x80 && this.typeOk(x.affinities[0], t0, shapeOnly))) firstOk = true;
    }
    if (!firstOk || hl > maxN * 9 + 9 || (partial && q + hl > end)) return 0;
    const n = scanTypes(b, q + vlen, q + hl, maxN);
    if (n <= 0 || hl + scanBody !== P) return 0;
    let t: TableSchema | null = null;
    for (const x of tables)
      if (this.fitsScratch(x, ST, 0, n, shapeOnly)) {
        t = x;
        break;
      }
    if (!t) return 0;
    if (!partial && this.sameAsLive(t, rowid, b, q, P, local)) {
      this.stats.droppedIdenticalToLive++;
      return cellEnd;
    }
    const types = Array.from(ST.subarray(0, n));
    if (partial) {
      const values: SqlValue[] = [];
      resetBadText();
      let d = q + hl;
      for (const ty of types) {
        const sz = serialSize(ty);
        if (d + sz > end) break;
        values.push(decodeValue(b, d, ty, this.h.textEncoding));
        d += sz;
      }
      // At least the first two stored values must have survived, with valid text.
      const kept = values.filter((x, i) => i !== t!.rowidAlias && x !== null).length;
      if (badText || kept < 2 || !this.plausible(t, values, types)) {
        this.stats.rejected++;
        return 0;
      }
      this.push({
        table: t,
        rowid,
        rowidFrom: 'cell',
        values,
        present: types.length,
        payloadLen: P,
        place: this.place(source, v, p, 'intact'),
        confidence: 'low',
        truncated: true,
      });
      return end;
    }
    const overflow = local < P ? u32(b, q + local) : 0;
    const r = this.readRecord(v, q, local, P, overflow, (pg) => (v.committed ? this.versionAt(pg, v.commit) : this.newest(pg)));
    if (!r || !this.plausible(t, r.values, r.types)) {
      this.stats.rejected++;
      return 0;
    }
    this.push({
      table: t,
      rowid,
      rowidFrom: 'cell',
      values: r.values,
      present: types.length,
      payloadLen: P,
      place: this.place(source, v, p, 'intact'),
      confidence: 'medium',
      truncated: r.truncated,
    });
    return cellEnd;
  }

  /**
   * A record at the start of a freeblock (s = first byte after the 4-byte freeblock header). The deleted cell's
   * payload length and rowid are gone; try: (header) the record-header length survived at s+o; (rebuilt) it did not,
   * serial types start at s+o; (rebuilt) neither it nor the first serial type survived (a rowid-alias first column is
   * always serial type 0). The record must end inside the region; an exact end wins. Returns the end or 0.
   */
  private tryRebuild(v: Version, b: Uint8Array, s: number, end: number, tables: TableSchema[], source: RecoverySource): number {
    type Try = { t: TableSchema; types: number[]; payloadStart: number; hdrLen: number; mode: CarveMode; recEnd: number; P: number };
    let best: Try | null = null;
    const consider = (x: Try) => {
      if (x.recEnd > end || x.P > this.maxPayload) return;
      const exact = x.recEnd === end;
      const bestExact = best ? best.recEnd === end : false;
      if (!best || (exact && !bestExact)) best = x;
    };
    for (const t of tables) {
      const N = t.columns.length;
      for (let o = 0; o <= 8 && s + o < end; o++) {
        const q = s + o;
        // (header) the record-header length is at q.
        const hl = readVarint(b, q, end);
        if (vlen > 0 && hl >= 2 && q + hl <= end && hl <= N * 9 + 9) {
          const n = scanTypes(b, q + vlen, q + hl, N);
          if (n > 0 && this.fitsScratch(t, ST, 0, n, true)) {
            const P = hl + scanBody,
              local = tableLocalSize(P, this.usable);
            consider({ t, types: Array.from(ST.subarray(0, n)), payloadStart: q, hdrLen: hl, mode: 'header', P, recEnd: q + local + (local < P ? 4 : 0) });
          }
        }
        // (rebuilt) serial types start at q; n columns (fewer than N when written before an ALTER TABLE ADD COLUMN).
        for (const lostFirst of t.rowidAlias === 0 ? BOTH : ONLY_FALSE) {
          const want = lostFirst ? N - 1 : N;
          const got = scanTypesN(b, q, end, want);
          // Longest prefix whose types fit the columns.
          let ok = 0;
          for (let c = 0; c < got; c++) {
            const col = lostFirst ? c + 1 : c;
            if (col === t.rowidAlias ? ST[c] !== 0 : !this.typeOk(t.affinities[col], ST[c], true)) break;
            ok++;
          }
          if (!lostFirst && t.rowidAlias === 0 && ok === 0) continue;
          let stBytes = lostFirst ? 1 : 0,
            body = 0;
          for (let c = 0; c < ok; c++) {
            stBytes += STLEN[c];
            body += serialSize(ST[c]);
            PRE_SB[c] = stBytes;
            PRE_BODY[c] = body;
          }
          for (let k = ok; k >= 1; k--) {
            const cols = k + (lostFirst ? 1 : 0);
            if (cols < Math.max(1, N - 12)) break;
            const sb = PRE_SB[k - 1],
              bd = PRE_BODY[k - 1];
            let hl2 = sb + 1;
            if (hl2 > 127) hl2 = sb + 2;
            const P = hl2 + bd,
              local = tableLocalSize(P, this.usable);
            const stStart = lostFirst ? q - 1 : q;
            const payloadStart = stStart - (hl2 - sb) + (lostFirst ? 0 : 0);
            const hdrStart = lostFirst ? q - 1 - (hl2 - sb) : q - (hl2 - sb);
            const recEnd = hdrStart + local + (local < P ? 4 : 0);
            if (cols < N && recEnd !== end) continue; // fewer columns only when the sizes add up exactly
            if (recEnd > end) continue;
            void payloadStart;
            const types = Array.from(ST.subarray(0, k));
            consider({ t, types: lostFirst ? [0, ...types] : types, payloadStart: hdrStart, hdrLen: hl2, mode: 'rebuilt', P, recEnd });
            break;
          }
        }
        if (best && (best as Try).recEnd === end) break;
      }
      if (best && (best as Try).recEnd === end) break;
    }
    if (!best) return 0;
    const x = best as Try;
    // Decode the body with the serial types we trust (the header bytes themselves may be damaged).
    const bodyStart = x.payloadStart + x.hdrLen;
    const local = tableLocalSize(x.P, this.usable);
    let buf: Uint8Array;
    let truncated = false;
    if (local < x.P) {
      const ovf = u32(b, x.payloadStart + local);
      const tmp = Buffer.allocUnsafe(x.P);
      // header bytes are synthesised; only the body matters
      tmp.fill(0, 0, x.hdrLen);
      tmp.set(b.subarray(bodyStart, x.payloadStart + local), x.hdrLen);
      let have = local,
        p = ovf,
        n = 0;
      const max = Math.ceil((x.P - local) / (this.usable - 4)) + 1;
      const seen = new Set<number>();
      const get = (pg: number) => (v.committed ? this.versionAt(pg, v.commit) : this.newest(pg));
      while (have < x.P) {
        if (p < 1 || seen.has(p) || n++ > max) {
          truncated = true;
          break;
        }
        seen.add(p);
        const ov = get(p);
        if (!ov) {
          truncated = true;
          break;
        }
        const take = Math.min(this.usable - 4, x.P - have);
        const od = ov.data;
        tmp.set(od.subarray(4, 4 + take), have);
        have += take;
        p = u32(od, 0);
      }
      buf = tmp.subarray(x.hdrLen, truncated ? have : x.P);
    } else buf = b.subarray(bodyStart, x.payloadStart + x.P);
    const values: SqlValue[] = [];
    resetBadText();
    let d = 0;
    for (const t of x.types) {
      const sz = serialSize(t);
      if (d + sz > buf.length) {
        if (truncated && t >= 12 && d < buf.length) values.push(decodeValue(buf, d, (t & 1 ? 13 : 12) + 2 * (buf.length - d), this.h.textEncoding));
        break;
      }
      values.push(decodeValue(buf, d, t, this.h.textEncoding));
      d += sz;
    }
    if (badText || !this.plausible(x.t, values, x.types)) {
      this.stats.rejected++;
      return 0;
    }
    this.push({
      table: x.t,
      rowid: null,
      rowidFrom: null,
      values,
      present: x.types.length,
      payloadLen: x.P,
      place: this.place(source, v, x.payloadStart, x.mode),
      confidence: 'low',
      truncated,
    });
    return x.recEnd;
  }

  /** Fewest columns a stored row of t has (rows written before an ALTER TABLE ADD COLUMN have fewer than the schema). */
  private minColsCache = new Map<TableSchema, number>();
  private minCols(t: TableSchema): number {
    let m = this.minColsCache.get(t);
    if (m !== undefined) return m;
    m = Infinity;
    // The oldest rows (b-tree order = rowid order) are the ones written before an ALTER TABLE ADD COLUMN: read the
    // first 4096 rows, then every 16th (a sampled lower bound keeps this cheap on large tables).
    let i = 0;
    const lt = this.live.get(t);
    for (const x of lt?.packed() ?? []) {
      if (i++ > 4096 && (i & 15) !== 0) continue;
      const ref = lt!.ref(x);
      const d = ref.v.data;
      const c = parseTableLeafCell(d, ref.off, this.usable, this.usable);
      if (!c) continue;
      const e = c.payloadOff + c.localLen;
      const hl = readVarint(d, c.payloadOff, e);
      if (vlen === 0) continue;
      const n = scanTypes(d, c.payloadOff + vlen, Math.min(e, c.payloadOff + hl), 65535);
      if (n > 0 && n < m) m = n;
      if (m <= 1) break;
    }
    if (m === Infinity) m = Math.ceil(t.columns.length / 2);
    this.minColsCache.set(t, m);
    return m;
  }

  /** The live row with this rowid has byte-identical payload (local bytes and overflow pointer): no need to decode. */
  private sameAsLive(t: TableSchema, rowid: number | bigint, b: Uint8Array, payloadOff: number, P: number, local: number): boolean {
    const ref = this.live.get(t)?.get(typeof rowid === 'bigint' ? rowid.toString() : rowid);
    if (!ref || ref.payloadLen !== P) return false;
    const lb = ref.v.data;
    const c = parseTableLeafCell(lb, ref.off, this.usable, this.usable);
    if (!c) return false;
    const n = local + (local < P ? 4 : 0);
    return Buffer.compare(Buffer.from(b.buffer, b.byteOffset + payloadOff, n), Buffer.from(lb.buffer, lb.byteOffset + c.payloadOff, n)) === 0;
  }

  /** Values that look like a row: enough columns, not all empty, texts decoded. */
  private plausible(t: TableSchema, values: SqlValue[], types: number[]): boolean {
    if (types.length < this.minCols(t)) return false;
    let nonNull = 0;
    for (let i = 0; i < values.length; i++) {
      if (i === t.rowidAlias) continue;
      const v = values[i];
      if (v !== null && v !== 0) nonNull++;
      if ((types[i] & 1) === 1 && types[i] >= 13 && Buffer.isBuffer(v)) return false; // invalid UTF-8 text
    }
    return nonNull >= Math.min(2, t.columns.length - (t.rowidAlias >= 0 ? 1 : 0));
  }

  // ------------------------------------------------------------------------------------------------ resolution

  private liveValues(_t: TableSchema, ref: LiveRef): SqlValue[] | null {
    const c = parseTableLeafCell(ref.v.data, ref.off, this.usable, this.usable);
    if (!c) return null;
    return this.readRecord(ref.v, c.payloadOff, c.localLen, c.payloadLen, c.overflow, (p) => this.newest(p))?.values ?? null;
  }

  /** The first columns (0..maxCol) of a live row, decoded from its local payload only. */
  private liveColumns(ref: LiveRef, maxCol: number): SqlValue[] | null {
    const b = ref.v.data;
    const c = parseTableLeafCell(b, ref.off, this.usable, this.usable);
    if (!c) return null;
    const end = c.payloadOff + c.localLen;
    const hl = readVarint(b, c.payloadOff, end);
    if (vlen === 0) return null;
    let q = c.payloadOff + vlen,
      d = c.payloadOff + hl;
    const out: SqlValue[] = [];
    for (let i = 0; i <= maxCol && q < c.payloadOff + hl; i++) {
      const t = readVarint(b, q, end);
      if (vlen === 0) return null;
      q += vlen;
      const sz = serialSize(t);
      if (sz < 0 || d + sz > end) return out;
      out.push(decodeValue(b, d, t, this.h.textEncoding));
      d += sz;
    }
    return out;
  }

  /** valueKey() of one column of a live row, read straight from the page (no record decode); null for NULL/unreadable. */
  private liveKeyOf(ref: LiveRef, col: number): string | null {
    const b = ref.v.data as Buffer;
    let q = ref.off;
    readVarint(b, q, this.usable);
    if (vlen === 0) return null;
    q += vlen;
    readVarint(b, q, this.usable);
    if (vlen === 0) return null;
    q += vlen;
    const local = tableLocalSize(ref.payloadLen, this.usable);
    const end = Math.min(this.usable, q + local);
    const hl = readVarint(b, q, end);
    if (vlen === 0) return null;
    let h = q + vlen,
      d = q + hl;
    for (let i = 0; i <= col; i++) {
      if (h >= q + hl) return null;
      const t = readVarint(b, h, end);
      if (vlen === 0) return null;
      h += vlen;
      const sz = t < 12 ? SIZES[t] : (t - (t & 1 ? 13 : 12)) / 2;
      if (sz < 0) return null;
      if (i === col) {
        if (t === 0 || d + sz > end) return null;
        if (t >= 13 && t & 1 && this.h.textEncoding === 1) return 's' + b.toString('utf8', d, d + sz);
        return valueKey(decodeValue(b, d, t, this.h.textEncoding));
      }
      d += sz;
    }
    return null;
  }

  private uniqueMaps = new Map<TableSchema, Map<number, Map<string, number | bigint>>>();
  /** Live rows by payload length, and by value key within one length: packed refs (see LiveTable), not pages. */
  private lenBuckets = new Map<TableSchema, Map<number, number[]>>();
  private bucketKeys = new Map<string, Map<string, number>>();

  /** Live rows of a table keyed by each unique column's value. */
  private uniqueMap(t: TableSchema): Map<number, Map<string, number | bigint>> {
    let m = this.uniqueMaps.get(t);
    if (m) return m;
    m = new Map();
    for (const c of t.uniqueColumns) m.set(c, new Map());
    if (t.uniqueColumns.length) {
      const cols = t.uniqueColumns;
      const maps = cols.map((c) => m!.get(c)!);
      for (const [k, ref] of this.live.get(t) ?? []) {
        const rowid = typeof k === 'string' ? BigInt(k) : k;
        for (let i = 0; i < cols.length; i++) {
          const key = this.liveKeyOf(ref, cols[i]);
          if (key !== null) maps[i].set(key, rowid);
        }
      }
    }
    this.uniqueMaps.set(t, m);
    return m;
  }

  /** A live row with exactly these values (rowid alias ignored), looked up among live rows of the same payload length. */
  private liveIdentical(t: TableSchema, c: Candidate): number | bigint | null {
    const lt = this.live.get(t);
    if (!lt) return null;
    let buckets = this.lenBuckets.get(t);
    if (!buckets) {
      buckets = new Map();
      for (const x of lt.packed()) {
        const len = lt.ref(x).payloadLen;
        let l = buckets.get(len);
        if (!l) buckets.set(len, (l = []));
        l.push(x);
      }
      this.lenBuckets.set(t, buckets);
    }
    const key = `${t.name}\u0000${c.payloadLen}`;
    let keys = this.bucketKeys.get(key);
    if (!keys) {
      keys = new Map();
      for (const x of buckets.get(c.payloadLen) ?? []) {
        const ref = lt.ref(x);
        const vals = this.liveValues(t, ref);
        const cell = parseTableLeafCell(ref.v.data, ref.off, this.usable, this.usable);
        if (vals && cell) keys.set(rowKey(t, vals), x);
      }
      this.bucketKeys.set(key, keys);
    }
    const x = keys.get(rowKey(t, c.values));
    if (x === undefined) return null;
    const ref = lt.ref(x);
    const lv = this.liveValues(t, ref);
    const cell = parseTableLeafCell(ref.v.data, ref.off, this.usable, this.usable);
    return lv && cell && sameValues(t, lv, c.values) ? cell.rowid : null;
  }

  /**
   * Equal values always encode to payloads of nearly equal length (at most one byte per column apart, when one writer
   * used serial types 8/9 for 0/1 and another did not): a larger difference proves the contents differ, without decoding.
   */
  private surelyDiffers(t: TableSchema, ref: LiveRef, c: Candidate): boolean {
    return !c.truncated && Math.abs(ref.payloadLen - c.payloadLen) > t.columns.length;
  }

  /** A non-null unique value that no live row has: the record cannot be identical to a live row. */
  private uniqueRulesOut(t: TableSchema, values: SqlValue[]): boolean {
    for (const c of t.uniqueColumns) if (values[c] !== null && values[c] !== undefined) return true; // looked up already: no live match
    return false;
  }

  /** Highest rowid the table can have had: sqlite_sequence (AUTOINCREMENT) or the highest live rowid, or null. */
  private maxRowids = new Map<TableSchema, number | null>();
  private maxRowid(t: TableSchema): number | null {
    if (this.maxRowids.has(t)) return this.maxRowids.get(t)!;
    let max: number | null = null;
    for (const k of this.live.get(t)?.keys() ?? []) {
      const n = Number(k);
      if (max === null || n > max) max = n;
    }
    const seq = this.tableByName.get('sqlite_sequence');
    if (seq)
      for (const ref of this.live.get(seq)?.values() ?? []) {
        const v = this.liveColumns(ref, 1);
        if (v && v[0] === t.name && v[1] !== null && v[1] !== undefined) {
          const n = Number(v[1]);
          if (max === null || n > max) max = n;
        }
      }
    this.maxRowids.set(t, max);
    return max;
  }

  private resolve(): RecoveredRecord[] {
    const out: RecoveredRecord[] = [];
    const byKey = new Map<string, RecoveredRecord[]>();
    const recKeys = new Map<RecoveredRecord, string>();
    const rowidless: { c: Candidate; rec: RecoveredRecord }[] = [];
    for (const c of this.candidates) {
      const t = c.table;
      const N = t.columns.length;
      const values = c.values.slice(0, N);
      while (values.length < N) values.push(null);
      if (t.rowidAlias >= 0) values[t.rowidAlias] = c.rowid as SqlValue;
      c.values = values;
      const ck = rowKey(t, values);
      let olderVersionOf: number | bigint | undefined;
      let rowid = c.rowid;
      let rowidFrom = c.rowidFrom;
      const liveMap = this.live.get(t);
      if (rowid !== null) {
        const ref = liveMap?.get(typeof rowid === 'bigint' ? rowid.toString() : rowid);
        if (ref) {
          const lv = this.surelyDiffers(t, ref, c) ? null : this.liveValues(t, ref);
          if (lv && sameValues(t, lv, values)) {
            this.stats.droppedIdenticalToLive++;
            continue;
          }
          // A cut-off copy whose surviving values all equal the live row's tells nothing new.
          if (c.truncated && lv && values.every((x, i) => x === null || i === t.rowidAlias || valueKey(x) === valueKey(lv[i]))) {
            this.stats.droppedIdenticalToLive++;
            continue;
          }
          olderVersionOf = rowid;
        } else if (t.uniqueColumns.length) {
          // Not live under this rowid, but a live row holds the same unique value: the row was replaced
          // (INSERT OR REPLACE gives it a new rowid). Its earlier content is an older version of that live row.
          const um = this.uniqueMap(t);
          for (const col of t.uniqueColumns) {
            const v = values[col];
            if (v === null || v === undefined) continue;
            const hit = um.get(col)!.get(valueKey(v));
            if (hit === undefined) continue;
            // Kept even when the values are the same: its rowid differs from the live row's, so it is not that row.
            olderVersionOf = hit;
            break;
          }
        }
      } else {
        // Same entity as a live row (a unique column matches): an older version of it, or identical.
        const um = this.uniqueMap(t);
        for (const col of t.uniqueColumns) {
          const v = values[col];
          if (v === null || v === undefined) continue;
          const hit = um.get(col)!.get(valueKey(v));
          if (hit !== undefined) {
            rowid = hit;
            rowidFrom = 'unique-column';
            break;
          }
        }
        if (rowid !== null) {
          if (t.rowidAlias >= 0) values[t.rowidAlias] = rowid as SqlValue;
          const ref = liveMap?.get(typeof rowid === 'bigint' ? rowid.toString() : rowid);
          const lv = ref && !this.surelyDiffers(t, ref, c) ? this.liveValues(t, ref) : null;
          if (lv && sameValues(t, lv, values)) {
            this.stats.droppedIdenticalToLive++;
            continue;
          }
          olderVersionOf = rowid;
        } else if (!this.uniqueRulesOut(t, values) && this.liveIdentical(t, c) !== null) {
          this.stats.droppedIdenticalToLive++;
          continue;
        }
      }
      // One record, every place it was found.
      const key = `${t.name}\u0000${ck}`;
      const same = byKey.get(key);
      const match = same?.find((r) => (r.rowid === null || rowid === null || String(r.rowid) === String(rowid)) && sameValues(t, r.values, values));
      if (match) {
        match.where.push(c.place);
        if (match.rowid === null && rowid !== null) {
          match.rowid = rowid;
          match.rowidFrom = rowidFrom;
          if (t.rowidAlias >= 0) match.values[t.rowidAlias] = rowid as SqlValue;
        }
        if (CONF_RANK[c.confidence] < CONF_RANK[match.confidence]) match.confidence = c.confidence;
        if (SOURCE_RANK[c.place.source] < SOURCE_RANK[match.source]) match.source = c.place.source;
        if (olderVersionOf !== undefined) match.olderVersionOf = olderVersionOf;
        if (c.bracket) match.bracket = mergeBracket(match.bracket, c.bracket);
        if (!c.truncated) match.truncated = undefined;
        continue;
      }
      const rec: RecoveredRecord = {
        table: t.name,
        rowid,
        rowidFrom,
        columns: t.columns,
        values,
        columnsPresent: c.present,
        source: c.place.source,
        confidence: c.confidence,
        where: [c.place],
      };
      if (olderVersionOf !== undefined) rec.olderVersionOf = olderVersionOf;
      if (c.bracket) rec.bracket = c.bracket;
      if (c.truncated) rec.truncated = true;
      recKeys.set(rec, key);
      if (same) same.push(rec);
      else byKey.set(key, [rec]);
      out.push(rec);
      if (rowid === null) rowidless.push({ c, rec });
    }
    this.rowidsFromIndexes(rowidless.map((x) => x.rec).filter((r) => r.rowid === null));
    // Rowid-less copies of a record that also came back with its rowid.
    const withRowid = new Map<string, RecoveredRecord>();
    for (const r of out) if (r.rowid !== null) withRowid.set(recKeys.get(r)!, r);
    const byRowid = new Map<string, RecoveredRecord>();
    for (const r of out) if (r.rowid !== null && !r.truncated) byRowid.set(`${r.table}\u0000${r.rowid}`, r);
    const final: RecoveredRecord[] = [];
    for (const r of out) {
      if (r.truncated && r.rowid !== null) {
        const whole = byRowid.get(`${r.table}\u0000${r.rowid}`);
        if (whole && r.values.every((x, i) => x === null || valueKey(x) === valueKey(whole.values[i]))) {
          whole.where.push(...r.where);
          continue;
        }
      }
      if (r.rowid === null) {
        const twin = withRowid.get(recKeys.get(r)!);
        if (twin && twin !== r && sameValues(this.tableByName.get(r.table)!, twin.values, r.values)) {
          twin.where.push(...r.where);
          continue;
        }
      }
      final.push(r);
    }
    // Blobs are views into the evidence buffers: copy them into one arena so the records do not pin the whole file.
    let total = 0;
    for (const r of final) for (const x of r.values) if (Buffer.isBuffer(x)) total += x.length;
    const arena = Buffer.allocUnsafe(total);
    let at = 0;
    for (const r of final) {
      for (let i = 0; i < r.values.length; i++) {
        const x = r.values[i];
        if (!Buffer.isBuffer(x)) continue;
        x.copy(arena, at);
        r.values[i] = arena.subarray(at, at + x.length);
        at += x.length;
      }
    }
    for (const r of final) {
      this.stats.bySource[r.source] = (this.stats.bySource[r.source] ?? 0) + 1;
      this.stats.byTable[r.table] = (this.stats.byTable[r.table] ?? 0) + 1;
    }
    return final;
  }

  /**
   * A deleted row's rowid from its deleted index entry: a single-column unique text index stores (value, rowid); when
   * the entry was freed, its 4-byte header was overwritten but the value and the rowid after it survive.
   */
  private rowidsFromIndexes(recs: RecoveredRecord[]): void {
    if (recs.length === 0 || this.overBudget()) return;
    const want = new Map<string, RecoveredRecord[]>();
    const lens = new Set<number>();
    for (const r of recs) {
      const t = this.tableByName.get(r.table)!;
      for (const c of t.uniqueColumns) {
        const v = r.values[c];
        if (typeof v !== 'string' || Buffer.byteLength(v) < 8) continue;
        const k = v;
        let l = want.get(k);
        if (!l) want.set(k, (l = []));
        l.push(r);
        lens.add(Buffer.byteLength(v));
      }
    }
    if (want.size === 0) return;
    const prefixes = new Set<number>();
    const firstBytes = new Uint8Array(256);
    const bloom = new Uint8Array(1 << 20);
    for (const k of want.keys()) {
      const kb = Buffer.from(k, 'utf8');
      const w = u32(kb, 0);
      prefixes.add(w);
      firstBytes[kb[0]] = 1;
      bloom[Math.imul(w, 0x9e3779b1) >>> 12] = 1;
    }
    const visit = (v: Version) => {
      this.safePoint(); // records get numbers; nothing read from a page is kept
      const b = v.data;
      const h = parsePageHeader(b, v.pgno);
      if (!h || h.type !== PAGE_INDEX_LEAF) return;
      for (const reg of freeRegions(b, h, this.usable)) {
        const tryAt = (pos: number, rowidLen: number | null, regEnd: number) => {
          if (pos + 4 > regEnd || !prefixes.has(u32(b, pos))) return;
          for (const L of lens) {
            if (pos + L > regEnd) continue;
            const s = Buffer.from(b.buffer, b.byteOffset + pos, L).toString('utf8');
            const rs = want.get(s);
            if (!rs) continue;
            // The rowid's width: known from an intact header, else the one that ends the region or lands on the next
            // entry (an intact index cell or an absorbed freeblock header) and is SQLite's minimal width for the value.
            let rowid: number | bigint | null = null;
            let weak: number | bigint | null = null,
              weakCount = 0;
            for (const rl of rowidLen !== null ? [rowidLen] : [1, 2, 3, 4, 6, 8]) {
              const x = pos + L + rl;
              if (x > regEnd) break;
              const st = rl === 8 ? 6 : rl === 6 ? 5 : rl;
              const val = decodeValue(b, pos + L, st) as number | bigint;
              if (typeof val === 'number' ? val < 1 : val < 1n) continue;
              if (intWidth(val) !== rl) continue;
              // Strong: the region ends here, or an intact (text, rowid) index entry starts here.
              if (x === regEnd || indexEntryAt(b, x, regEnd)) {
                rowid = val;
                break;
              }
              // Weak: an absorbed freeblock header (next pointer forward or 0, a size that fits) starts here.
              const next = x + 4 <= regEnd ? u16(b, x) : -1,
                size = x + 4 <= regEnd ? u16(b, x + 2) : 0;
              if ((next === 0 || next > x) && size >= 4 + L + 1 && x + size <= regEnd) {
                weak = val;
                weakCount++;
              }
              // Even with an intact entry header the width is known, but the last bytes may have been overwritten by a
              // later entry: the entry must still end on a boundary.
              if (rowidLen !== null) break;
            }
            if (rowid === null && weakCount === 1) rowid = weak; // only when exactly one width is plausible
            if (rowid === null) continue;
            const maxId = this.maxRowid(this.tableByName.get(rs[0].table)!);
            if (maxId !== null && Number(rowid) > maxId) continue;
            let open = 0;
            for (const r of rs) {
              if (r.rowid !== null) continue;
              open++;
              const t = this.tableByName.get(r.table)!;
              if (this.live.get(t)?.has(typeof rowid === 'bigint' ? rowid.toString() : rowid)) continue;
              r.rowid = rowid;
              r.rowidFrom = 'index';
              if (t.rowidAlias >= 0) r.values[t.rowidAlias] = rowid;
              if (r.confidence === 'low') r.confidence = 'medium';
              open--;
            }
            if (open === 0) want.delete(s); // every record with this value has its rowid: stop looking for it
          }
        };
        // Every offset whose first 4 bytes start a wanted value: the entry's header may be intact ([payload len][3]
        // [text type][int type]), overwritten by a freeblock header, or absorbed into a merged freeblock.
        for (let p = reg.start; p + 4 <= reg.end; p++) {
          if (want.size === 0) return;
          if (firstBytes[b[p]] === 0) continue;
          const w = u32(b, p);
          if (bloom[Math.imul(w, 0x9e3779b1) >>> 12] === 0 || !prefixes.has(w)) continue;
          const intact = p >= 4 && b[p - 3] === 3 && b[p - 2] >= 13 && b[p - 1] >= 1 && b[p - 1] <= 6 && p - 4 >= reg.start;
          tryAt(p, intact ? serialSize(b[p - 1]) : null, reg.end);
        }
      }
    };
    for (let p = 1; p <= this.mainPages && want.size > 0; p++) {
      const o = this.ownerNew[p];
      if (o === OWNER_INDEX || o === OWNER_FREELIST || (this.ownerMain && this.ownerMain[p] === OWNER_INDEX)) visit(this.mainVersion(p)!);
    }
    for (const frames of this.walByPage.values()) for (const f of frames) visit(this.frameVersion(f));
  }
}

/** Scratch serial types (no allocation while probing every byte of free space). */
const ZERO = Buffer.alloc(65536);
const BOTH = [false, true];
const ONLY_FALSE = [false];
const ST = new Float64Array(65536);
const STLEN = new Uint8Array(65536);
const PRE_SB = new Float64Array(65536);
const PRE_BODY = new Float64Array(65536);
let scanBody = 0;

/** Serial types of a header region [s, e) into ST; returns the count (-1 when invalid or more than max). */
function scanTypes(b: Uint8Array, s: number, e: number, max: number): number {
  let q = s,
    n = 0,
    body = 0;
  while (q < e) {
    const t = readVarint(b, q, e);
    if (vlen === 0 || t === 10 || t === 11 || t > MAX_PAYLOAD * 2 || n >= max) return -1;
    ST[n] = t;
    STLEN[n] = vlen;
    n++;
    body += t < 12 ? SIZES[t] : (t - (t & 1 ? 13 : 12)) / 2;
    q += vlen;
  }
  scanBody = body;
  return n;
}

/** Up to max serial types from s (stops at the first invalid one); returns the count. */
function scanTypesN(b: Uint8Array, s: number, e: number, max: number): number {
  let q = s,
    n = 0;
  while (n < max && q < e) {
    const t = readVarint(b, q, e);
    if (vlen === 0 || t === 10 || t === 11 || t > MAX_PAYLOAD * 2) break;
    ST[n] = t;
    STLEN[n] = vlen;
    n++;
    q += vlen;
  }
  return n;
}
const SIZES = [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1];

/** An intact index entry [payload len][3][text type][int type] whose sizes agree, at x. */
function indexEntryAt(b: Uint8Array, x: number, end: number): boolean {
  if (x + 4 > end) return false;
  const st = b[x + 2],
    rt = b[x + 3];
  if (b[x + 1] !== 3 || st < 13 || (st & 1) === 0 || st >= 0x80 || rt < 1 || rt > 6) return false;
  return b[x] === 3 + (st - 13) / 2 + SIZES[rt];
}

/** Bytes SQLite uses to store an integer (serial types 1-6). */
function intWidth(v: number | bigint): number {
  const n = typeof v === 'bigint' ? v : BigInt(v);
  if (n >= -128n && n <= 127n) return 1;
  if (n >= -32768n && n <= 32767n) return 2;
  if (n >= -8388608n && n <= 8388607n) return 3;
  if (n >= -2147483648n && n <= 2147483647n) return 4;
  if (n >= -140737488355328n && n <= 140737488355327n) return 6;
  return 8;
}

function mergeBracket(a: RecoveredRecord['bracket'], b: NonNullable<RecoveredRecord['bracket']>): RecoveredRecord['bracket'] {
  if (!a) return b;
  return {
    afterCommit: Math.max(a.afterCommit ?? 0, b.afterCommit ?? 0),
    beforeCommit: a.beforeCommit === undefined ? b.beforeCommit : b.beforeCommit === undefined ? a.beforeCommit : Math.max(a.beforeCommit, b.beforeCommit),
  };
}

/** A value as a comparable string (integers and floats that are equal compare equal). */
export function valueKey(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return 'n';
  if (typeof v === 'number') return Number.isInteger(v) ? `i${v}` : `f${v}`;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (v.length <= 64) return `b${v.toString('hex')}`;
  // Long blobs: length and two 32-bit FNV-1a hashes (forward and backward) instead of the whole hex.
  let h1 = 0x811c9dc5,
    h2 = 0x01000193;
  for (let i = 0; i < v.length; i++) {
    h1 = Math.imul(h1 ^ v[i], 16777619);
    h2 = Math.imul(h2 ^ v[v.length - 1 - i], 16777619);
  }
  return `b${v.length}:${(h1 >>> 0).toString(36)}:${(h2 >>> 0).toString(36)}`;
}

/** The row's values as one string, the rowid-alias column left out (padded with nulls to the table's width). */
/** Same values in every column but the rowid alias (padded with nulls to the table's width); stops at the first difference. */
function sameValues(t: TableSchema, a: SqlValue[], b: SqlValue[]): boolean {
  for (let i = 0; i < t.columns.length; i++) {
    if (i === t.rowidAlias) continue;
    const x = a[i] ?? null,
      y = b[i] ?? null;
    if (x === y) continue;
    if (x === null || y === null) return false;
    if (Buffer.isBuffer(x) || Buffer.isBuffer(y)) {
      if (!(Buffer.isBuffer(x) && Buffer.isBuffer(y) && x.equals(y))) return false;
      continue;
    }
    if (typeof x === 'string' || typeof y === 'string') return false;
    // number vs bigint, or integer vs integral float: compare as keys
    if (valueKey(x) !== valueKey(y)) return false;
  }
  return true;
}

/**
 * A row's values (rowid alias left out, padded with nulls) hashed to a short key: two independent 32-bit FNV-1a
 * hashes and the value count. Long concatenated keys made Map lookups the slowest part of resolution on large files.
 * Callers confirm a hit with sameValues() before merging.
 */
function rowKey(t: TableSchema, values: SqlValue[]): string {
  // Two hashes updated inline (a closure over h1/h2 would keep them in a heap context: several times slower).
  let h1 = 0x811c9dc5 | 0,
    h2 = 0x3c6ef372 | 0;
  const n = t.columns.length;
  for (let i = 0; i < n; i++) {
    if (i === t.rowidAlias) continue;
    const v = values[i] ?? null;
    let tag: number,
      len = 0;
    if (v === null) tag = 1;
    else if (typeof v === 'string') {
      tag = 2;
      len = v.length;
    } else if (Buffer.isBuffer(v)) {
      tag = 3;
      len = v.length;
    } else tag = 4;
    h1 = Math.imul(h1 ^ tag, 16777619);
    h2 = Math.imul(h2 ^ tag, 0x01000193) ^ (h2 >>> 13);
    if (tag === 1) continue;
    if (tag === 4) {
      const str = typeof v === 'number' && !Number.isInteger(v) ? `f${v}` : `i${v as number | bigint}`;
      for (let k = 0; k < str.length; k++) {
        const c = str.charCodeAt(k);
        h1 = Math.imul(h1 ^ c, 16777619);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
      }
      continue;
    }
    // Long values: length plus their first and last 48 units (a hit is always confirmed with sameValues()).
    h1 = Math.imul(h1 ^ len, 16777619);
    h2 = Math.imul(h2 ^ len, 0x01000193) ^ (h2 >>> 13);
    const head = len <= 96 ? len : 48;
    const tailFrom = len <= 96 ? len : len - 48;
    if (tag === 2) {
      const sv = v as string;
      for (let k = 0; k < head; k++) {
        const c = sv.charCodeAt(k);
        h1 = Math.imul(h1 ^ c, 16777619);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
      }
      for (let k = tailFrom; k < len; k++) {
        const c = sv.charCodeAt(k);
        h1 = Math.imul(h1 ^ c, 16777619);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
      }
    } else {
      const bv = v as Buffer;
      for (let k = 0; k < head; k++) {
        const c = bv[k];
        h1 = Math.imul(h1 ^ c, 16777619);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
      }
      for (let k = tailFrom; k < len; k++) {
        const c = bv[k];
        h1 = Math.imul(h1 ^ c, 16777619);
        h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 13);
      }
    }
  }
  return `${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}`;
}
