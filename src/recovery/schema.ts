// Column lists from CREATE TABLE / CREATE INDEX statements, enough to validate and label carved records.

export type Affinity = 'integer' | 'text' | 'blob' | 'real' | 'numeric';

export interface TableSchema {
  name: string;
  rootPage: number;
  columns: string[];
  affinities: Affinity[];
  /** Index of the INTEGER PRIMARY KEY column (stored as NULL in the record, its value is the rowid), or -1. */
  rowidAlias: number;
  /** Columns that are unique on their own (UNIQUE / PRIMARY KEY / single-column unique index). */
  uniqueColumns: number[];
  withoutRowid: boolean;
  sql: string;
}

export interface IndexSchema {
  name: string;
  table: string;
  rootPage: number;
  columns: string[];
  unique: boolean;
  sql: string | null;
}

/** SQLite's affinity rules (https://www.sqlite.org/datatype3.html §3.1). */
export function affinityOf(declType: string): Affinity {
  const t = declType.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  if (t === '' || t.includes('BLOB')) return 'blob';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'real';
  return 'numeric';
}

/** Split on top-level commas, respecting parentheses and quotes. */
export function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0,
    cur = '',
    q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      cur += c;
      if (c === q) q = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      q = c;
      cur += c;
      continue;
    }
    if (c === '[') {
      q = ']';
      cur += c;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function unquote(s: string): string {
  const t = s.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith('`') && t.endsWith('`')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1).replace(/""/g, '"');
  if (t.startsWith('[') && t.endsWith(']')) return t.slice(1, -1);
  return t;
}

/** First token of a column definition (a quoted name may contain spaces) and the rest. */
function firstToken(def: string): [string, string] {
  const d = def.trim();
  const open = d[0];
  const close = open === '"' ? '"' : open === '`' ? '`' : open === '[' ? ']' : open === "'" ? "'" : null;
  if (close) {
    const end = d.indexOf(close, 1);
    if (end > 0) return [d.slice(1, end), d.slice(end + 1)];
  }
  const m = /^(\S+)([\s\S]*)$/.exec(d);
  return m ? [m[1], m[2]] : [d, ''];
}

const CONSTRAINT_WORDS = /^(CONSTRAINT|PRIMARY|NOT|NULL|UNIQUE|CHECK|DEFAULT|COLLATE|REFERENCES|GENERATED|AS|ON)\b/i;

export function parseCreateTable(name: string, rootPage: number, sql: string): TableSchema | null {
  const open = sql.indexOf('(');
  const close = sql.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const tail = sql.slice(close + 1);
  const parts = splitTopLevel(sql.slice(open + 1, close));
  const columns: string[] = [],
    affinities: Affinity[] = [],
    types: string[] = [];
  let rowidAlias = -1;
  const unique = new Set<number>();
  const tableConstraints: string[] = [];
  for (const p of parts) {
    if (/^(CONSTRAINT|PRIMARY\s+KEY|UNIQUE|CHECK|FOREIGN\s+KEY)\b/i.test(p)) {
      tableConstraints.push(p);
      continue;
    }
    const [colName, rest] = firstToken(p);
    // Type: the words up to the first constraint keyword.
    const words = rest.trim().split(/\s+/).filter(Boolean);
    const typeWords: string[] = [];
    for (const w of words) {
      if (CONSTRAINT_WORDS.test(w)) break;
      typeWords.push(w);
    }
    let type = typeWords.join(' ');
    if (type.includes('(') && !type.includes(')')) type = type.split('(')[0];
    const idx = columns.length;
    columns.push(colName);
    types.push(type);
    affinities.push(affinityOf(type));
    const cons = rest;
    if (/\bPRIMARY\s+KEY\b/i.test(cons)) {
      if (type.toUpperCase() === 'INTEGER' && !/\bPRIMARY\s+KEY\s+DESC\b/i.test(cons)) rowidAlias = idx;
      else unique.add(idx);
    }
    if (/\bUNIQUE\b/i.test(cons)) unique.add(idx);
  }
  for (const c of tableConstraints) {
    const m = /(PRIMARY\s+KEY|UNIQUE)\s*\(([^)]*)\)/i.exec(c);
    if (!m) continue;
    const cols = splitTopLevel(m[2]).map((x) => unquote(x.split(/\s+/)[0]));
    if (cols.length !== 1) continue;
    const i = columns.findIndex((x) => x.toLowerCase() === cols[0].toLowerCase());
    if (i < 0) continue;
    if (/PRIMARY/i.test(m[1]) && types[i].toUpperCase() === 'INTEGER' && rowidAlias < 0) rowidAlias = i;
    else unique.add(i);
  }
  if (rowidAlias >= 0) unique.delete(rowidAlias);
  return { name, rootPage, columns, affinities, rowidAlias, uniqueColumns: [...unique].sort((a, b) => a - b), withoutRowid: /WITHOUT\s+ROWID/i.test(tail), sql };
}

/** Columns of a CREATE [UNIQUE] INDEX statement. */
export function parseCreateIndex(name: string, table: string, rootPage: number, sql: string | null): IndexSchema {
  if (!sql) return { name, table, rootPage, columns: [], unique: true, sql }; // sqlite_autoindex_*: from UNIQUE / PRIMARY KEY
  const open = sql.indexOf('(');
  const close = sql.lastIndexOf(')');
  const cols = open >= 0 && close > open ? splitTopLevel(sql.slice(open + 1, close)).map((x) => unquote(x.trim().split(/\s+/)[0])) : [];
  return { name, table, rootPage, columns: cols, unique: /^\s*CREATE\s+UNIQUE\b/i.test(sql), sql };
}
