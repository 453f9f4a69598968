// Bounded reads of an evidence file for recovery: the file is read through a descriptor in fixed blocks kept in a
// small LRU cache, never loaded whole (sms.db of a large backup is over 2 GiB, more than one Buffer can hold).
import fs from 'node:fs';
import type { ByteReader } from '../formats/sqliteFile.js';

export interface ByteSource extends ByteReader {
  close(): void;
}

/** Bytes already in memory (tests, callers that hold the file). */
export function memorySource(b: Uint8Array): ByteSource {
  return { length: b.length, read: (off, len) => b.subarray(off, off + len), close() {} };
}

/**
 * A file read in blocks of `blockBytes`, at most `maxBlocks` of them cached (least recently used dropped first). A
 * returned view stays valid after its block leaves the cache (blocks are never reused), so a caller may hold it while
 * reading other pages; holding it pins one block.
 */
export class FileSource implements ByteSource {
  readonly length: number;
  private blocks = new Map<number, Buffer>();
  private lastIdx = -1;
  private lastBlock: Buffer | null = null;
  /** Blocks read from the file (for tests and the bench: re-reads show the cache is bounded). */
  reads = 0;

  private constructor(
    private fd: number,
    private blockBytes: number,
    private maxBlocks: number,
  ) {
    this.length = fs.fstatSync(fd).size;
  }

  /** Open a regular file for reading (a FIFO or a device would block or never end). */
  static open(file: string, blockBytes = 4096, maxBlocks = 8): FileSource {
    const fd = fs.openSync(file, 'r');
    try {
      if (!fs.fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`);
      return new FileSource(fd, blockBytes, maxBlocks);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Set the block size and count (once the page size is known); drops what is cached. */
  shape(blockBytes: number, maxBlocks: number): void {
    this.blockBytes = blockBytes;
    this.maxBlocks = Math.max(1, maxBlocks);
    this.blocks.clear();
    this.lastIdx = -1;
    this.lastBlock = null;
  }

  read(off: number, len: number): Uint8Array {
    if (off < 0 || len <= 0 || off >= this.length) return new Uint8Array(0);
    len = Math.min(len, this.length - off);
    const bi = Math.floor(off / this.blockBytes);
    const inBlock = off - bi * this.blockBytes;
    // A read across a block boundary (WAL frames are not block-aligned) is read on its own, not cached.
    if (inBlock + len > this.blockBytes) return this.readAt(off, len);
    return this.block(bi).subarray(inBlock, inBlock + len);
  }

  private block(bi: number): Buffer {
    if (bi === this.lastIdx && this.lastBlock) return this.lastBlock;
    let b = this.blocks.get(bi);
    if (b) {
      this.blocks.delete(bi); // re-insert: Map order is the LRU order
      this.blocks.set(bi, b);
    } else {
      const start = bi * this.blockBytes;
      b = this.readAt(start, Math.min(this.blockBytes, this.length - start));
      this.reads++;
      if (this.blocks.size >= this.maxBlocks) this.blocks.delete(this.blocks.keys().next().value as number);
      this.blocks.set(bi, b);
    }
    this.lastIdx = bi;
    this.lastBlock = b;
    return b;
  }

  private readAt(off: number, len: number): Buffer {
    const b = Buffer.allocUnsafeSlow(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, b, got, len - got, off + got);
      if (n === 0) break; // the file shrank under us: the rest stays zero
      got += n;
    }
    if (got < len) b.fill(0, got);
    return b;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.blocks.clear();
    this.lastBlock = null;
  }
}

/** Default cache: 4096 pages (16 MiB of 4 KiB pages) per file. */
export const DEFAULT_CACHE_PAGES = 4096;

/** Block size and block count for a cache of `cachePages` pages: up to 64 pages a block, at least 8 blocks when possible. */
export function cacheShape(pageSize: number, cachePages: number): { blockBytes: number; maxBlocks: number } {
  const pages = Math.max(1, Math.floor(cachePages));
  const perBlock = Math.max(1, Math.min(64, Math.floor(pages / 8)));
  return { blockBytes: perBlock * pageSize, maxBlocks: Math.max(1, Math.floor(pages / perBlock)) };
}
