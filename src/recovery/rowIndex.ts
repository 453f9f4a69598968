// A compact Map<number | string, number> for live rows (rowid → packed page reference): the same semantics as a Map
// (insertion order, setting an existing key keeps its place), in typed arrays: ~24–36 bytes a row instead of ~55,
// and nothing for the garbage collector to trace. Rowids beyond 2^53 come as strings (decimal bigints): they are rare
// and kept in a plain Map beside.

const EMPTY = 0;

export class RowIndex {
  private n = 0;
  /** Entry i: its numeric key (NaN for a string key) and its value, in insertion order. */
  private keyAt = new Float64Array(16);
  private valAt = new Float64Array(16);
  /** Open addressing over numeric keys: entry index + 1, 0 = empty. */
  private slots = new Int32Array(32);
  private strIdx = new Map<string, number>();
  private strAt = new Map<number, string>();

  get size(): number {
    return this.n;
  }

  private static hash(k: number): number {
    const lo = k | 0,
      hi = (k / 4294967296) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0;
  }

  /** Entry index of a key, or -1. */
  private find(key: number | string): number {
    if (typeof key === 'string') return this.strIdx.get(key) ?? -1;
    const mask = this.slots.length - 1;
    for (let s = RowIndex.hash(key) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s];
      if (e === EMPTY) return -1;
      if (this.keyAt[e - 1] === key) return e - 1;
    }
  }

  set(key: number | string, value: number): void {
    const i = this.find(key);
    if (i >= 0) {
      this.valAt[i] = value;
      return;
    }
    if (this.n === this.keyAt.length) {
      const k = new Float64Array(this.n * 2),
        v = new Float64Array(this.n * 2);
      k.set(this.keyAt);
      v.set(this.valAt);
      this.keyAt = k;
      this.valAt = v;
    }
    const e = this.n++;
    this.valAt[e] = value;
    if (typeof key === 'string') {
      this.keyAt[e] = Number.NaN;
      this.strIdx.set(key, e);
      this.strAt.set(e, key);
      return;
    }
    this.keyAt[e] = key;
    if (this.n * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(e);
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    let s = RowIndex.hash(this.keyAt[e]) & mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
    this.slots[s] = e + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let e = 0; e < this.n; e++) if (!Number.isNaN(this.keyAt[e])) this.place(e);
  }

  get(key: number | string): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.valAt[i];
  }

  has(key: number | string): boolean {
    return this.find(key) >= 0;
  }

  private keyOf(e: number): number | string {
    const k = this.keyAt[e];
    return Number.isNaN(k) ? this.strAt.get(e)! : k;
  }

  *keys(): IterableIterator<number | string> {
    for (let e = 0; e < this.n; e++) yield this.keyOf(e);
  }

  *values(): IterableIterator<number> {
    for (let e = 0; e < this.n; e++) yield this.valAt[e];
  }

  *entries(): IterableIterator<[number | string, number]> {
    for (let e = 0; e < this.n; e++) yield [this.keyOf(e), this.valAt[e]];
  }
}
