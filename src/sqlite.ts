// Small schema probes shared by every reader of SQLite files (evidence databases and case files alike).
import fs from 'node:fs';
import type Database from 'better-sqlite3';

/** Which columns a table has, in table order: decide schema variants by what exists, not by iOS version. */
export function columnsOf(db: Database.Database, table: string): Set<string> {
  const rows = db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[];
  return new Set(rows.map((r) => r.name));
}

/** The 16 bytes every SQLite database starts with. */
export const SQLITE_HEADER = 'SQLite format 3\0';

/** Whether a file is a regular file starting with the SQLite header. Opened non-blocking and checked with fstat:
 *  a FIFO given where a database should be must never block. Never throws. */
export function isSqliteFile(file: string): boolean {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return false;
      const head = Buffer.alloc(16);
      fs.readSync(fd, head, 0, 16, 0);
      return head.toString('latin1') === SQLITE_HEADER;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

export function hasTable(db: Database.Database, table: string): boolean {
  return !!db.prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?").get(table);
}

/** An SQLite value as text (a blob as UTF-8), or null. */
export function sqlText(v: unknown): string | null {
  return v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A table or column name quoted for SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `col` when the table has it, else `NULL AS col`: one query serves every schema variant. */
export function colOrNull(cols: Set<string>, col: string, alias = col, prefix = ''): string {
  return cols.has(col) ? `${prefix}${col} AS ${alias}` : `NULL AS ${alias}`;
}
