// Safari visits written by SQLite itself: the working copy of History.db is attached to the case file and one
// INSERT … SELECT writes the event of every ordinary visit (a finite time between 1990 and 2100, an existing
// history_items row with a text URL, text titles and redirect URLs). Every other visit is left to the row-by-row
// path in safari.ts, which warns about it. Both paths write the same event (test: "bulk and row-by-row paths").
import { LIVE_EVENT_COLUMNS, type CaseFile } from '../../timeline/caseFile.js';
import { MAC_EPOCH_OFFSET_S } from '../../formats/appleTime.js';

export const SAFARI_SRC = 'safari_src';
/** 1990-01-01 and 2100-01-01 as seconds since 2001: the plausible range of checks.ts. */
const LO = Date.UTC(1990, 0, 1) / 1000 - MAC_EPOCH_OFFSET_S;
const HI = Date.UTC(2100, 0, 1) / 1000 - MAC_EPOCH_OFFSET_S;

/** The visits the bulk statement takes (aliases v, i, si, di as in the visit query). */
export function ordinaryVisit(redirects: boolean): string {
  return `(typeof(v.visit_time) IN ('real','integer') AND v.visit_time >= ${LO} AND v.visit_time < ${HI} AND typeof(v.id) = 'integer'
    AND i.id IS NOT NULL AND typeof(i.url) = 'text' AND (v.title IS NULL OR typeof(v.title) = 'text')
    ${redirects ? "AND (si.url IS NULL OR typeof(si.url) = 'text') AND (di.url IS NULL OR typeof(di.url) = 'text')" : ''})`;
}

export interface VisitSql {
  vcol: (c: string) => string;
  icol: (c: string) => string;
  joins: string;
  redirects: boolean;
}

/**
 * Attach `copyPath` and write the ordinary visits; returns how many events were written, or null when the copy
 * cannot be attached or SQLite refuses the statement (then every visit goes row by row). `host` must be the same
 * function the row-by-row path uses, so both write the same counterpart.
 */
export function bulkVisits(
  cf: CaseFile,
  copyPath: string,
  fileRowId: number,
  sql: VisitSql,
  host: (url: string | null) => string | null,
  warn: (m: string) => void,
): number | null {
  const db = cf.db; // the SQL functions live on the case file's connection, never in its schema
  try {
    cf.attachSource(copyPath, SAFARI_SRC);
  } catch (e) {
    warn(`Safari visits are written one by one (the working copy could not be attached: ${(e as Error).message})`);
    return null;
  }
  try {
    db.function('ios_timeline_safari_host', { deterministic: true }, (u: unknown) => host(typeof u === 'string' ? u : null));
    db.function('ios_timeline_safari_num', { deterministic: true }, (x: unknown) => (x === null || x === undefined ? null : String(x)));
    const { vcol, icol } = sql;
    const suffix = sql.redirects ? `|| CASE WHEN di.url IS NOT NULL AND di.url <> '' THEN ' → redirected to ' || di.url ELSE '' END` : '';
    const stmt = cf.prepareEventsFrom(
      LIVE_EVENT_COLUMNS,
      `SELECT CAST(round((v.visit_time + ${MAC_EPOCH_OFFSET_S}) * 1000000) AS INTEGER), ios_timeline_safari_num(v.visit_time), 'mac-s', 'web-visit', 'visited',
        'Visited ' || i.url || CASE WHEN ${vcol('title')} IS NOT NULL AND ${vcol('title')} <> '' THEN ' — ' || ${vcol('title')} ELSE '' END ${suffix}
          || CASE WHEN ${vcol('origin')} = 1 THEN ' (synced from another device)' ELSE '' END,
        NULL, NULL, ios_timeline_safari_host(i.url), NULL, NULL, 'Safari', NULL, NULL, NULL, NULL, ${fileRowId}, 'history_visits', v.id, 'safari',
        json_object('url', i.url, 'page_title', ${vcol('title')}, 'history_item', v.history_item, 'visit_count', ${icol('visit_count')}, 'domain_expansion', ${icol('domain_expansion')},
          'redirect_source', ${vcol('redirect_source')}, 'redirect_source_url', ${sql.redirects ? 'si.url' : 'NULL'},
          'redirect_destination', ${vcol('redirect_destination')}, 'redirect_destination_url', ${sql.redirects ? "CASE WHEN di.url <> '' THEN di.url END" : 'NULL'},
          'load_successful', ${vcol('load_successful')}, 'http_non_get', ${vcol('http_non_get')}, 'synthesized', ${vcol('synthesized')},
          'origin', ${vcol('origin')}, 'origin_label', CASE ${vcol('origin')} WHEN 0 THEN 'this device' WHEN 1 THEN 'another device (iCloud)' ELSE 'origin ' || ${vcol('origin')} END,
          'generation', ${vcol('generation')}, 'attributes', ${vcol('attributes')}, 'status_code', ${icol('status_code')})
      FROM ${SAFARI_SRC}.history_visits v LEFT JOIN ${SAFARI_SRC}.history_items i ON i.id = v.history_item ${sql.joins.replace(/history_(visits|items) /g, `${SAFARI_SRC}.history_$1 `)}
      WHERE ${ordinaryVisit(sql.redirects)} ORDER BY v.id`,
    );
    return Number(stmt.run().changes);
  } catch (e) {
    warn(`Safari visits are written one by one (the bulk statement failed: ${(e as Error).message})`);
    return null;
  } finally {
    cf.detachSource(SAFARI_SRC);
  }
}
