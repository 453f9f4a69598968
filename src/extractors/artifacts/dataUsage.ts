// Data usage: WirelessDomain Library/Databases/DataUsage.sqlite (Core Data). Which processes and apps used the network,
// first and last seen, and per-app byte counters over time.
//  - ZPROCESS: one row per process (ZPROCNAME, often "<UUID>/<name>"; ZBUNDLENAME the app's bundle id when it is one),
//    ZFIRSTTIMESTAMP / ZTIMESTAMP seconds since 2001: events `first-seen`, and `last-seen` when it differs.
//  - ZLIVEUSAGE: usage counters of a process (ZHASPROCESS → ZPROCESS.Z_PK) written at ZTIMESTAMP: ZWIFIIN/ZWIFIOUT
//    (absent in some iOS versions) and ZWWANIN/ZWWANOUT (cellular), bytes; ZKIND as stored (its values are not publicly
//    documented): event `usage`. A counter whose process row is gone is kept, with a warning (mvt calls these
//    "manipulated" entries); gaps in ZPROCESS primary keys (deleted processes) are noted.
// The other tables (ZWIFIDATA, ZEVENT, ZPEER, ZEVENTSCENE, ZCHECKUPEVENT, ZTSHOOTINGDATA, ZDEMOLIVEUSAGE) are diagnostics
// this module does not read (counted in an info note when they have rows).
import { macSeconds } from '../../formats/appleTime.js';
import { columnsOf, colOrNull, hasTable, ArtifactError, type Extractor } from '../types.js';
import { num, plausible, text } from '../common/values.js';

const PATH = 'Library/Databases/DataUsage.sqlite';
const NOT_READ = ['ZWIFIDATA', 'ZEVENT', 'ZPEER', 'ZEVENTSCENE', 'ZCHECKUPEVENT', 'ZTSHOOTINGDATA', 'ZDEMOLIVEUSAGE'];

function bytes(n: number | null): string {
  if (n === null) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** "<UUID>/com.apple.facetime" → "com.apple.facetime" for display; the stored name stays verbatim in extra. */
function shortName(proc: string | null): string | null {
  if (!proc) return null;
  const m = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\/(.+)$/i.exec(proc);
  return m ? m[1] : proc;
}

export const dataUsage: Extractor = {
  id: 'data-usage',
  title: 'Network data usage per app (DataUsage.sqlite)',
  sources: [{ domain: 'WirelessDomain', path: PATH }],
  kinds: [
    {
      kind: 'data-usage',
      label: 'Data usage',
      color: '#9c6b30',
      view: 'table',
      dataType: 'ios:datausage:entry',
      actions: { 'first-seen': 'Process First Seen', 'last-seen': 'Process Last Seen', usage: 'Usage Recorded' },
    },
  ],
  async run(ctx) {
    const src = await ctx.openDatabase('WirelessDomain', PATH);
    if (!src) return;
    const { db } = src;
    if (!hasTable(db, 'ZPROCESS') || !hasTable(db, 'ZLIVEUSAGE')) throw new ArtifactError(`${PATH} has no ZPROCESS/ZLIVEUSAGE tables (unknown schema)`);
    const pc = columnsOf(db, 'ZPROCESS');
    const procs = new Map<number, { name: string | null; bundle: string | null }>();
    const pks: number[] = [];
    for (const r of db
      .prepare(`SELECT Z_PK AS pk, ${['ZFIRSTTIMESTAMP', 'ZTIMESTAMP', 'ZBUNDLENAME', 'ZPROCNAME'].map((c) => colOrNull(pc, c)).join(', ')} FROM ZPROCESS ORDER BY Z_PK`)
      .iterate() as Iterable<Record<string, unknown>>) {
      const pk = num(r.pk)!;
      pks.push(pk);
      const ref = { fileRowId: src.fileRowId, table: 'ZPROCESS', rowid: pk };
      const proc = text(r.ZPROCNAME);
      const bundle = text(r.ZBUNDLENAME);
      procs.set(pk, { name: proc, bundle });
      const who = bundle ?? shortName(proc) ?? `process ${pk}`;
      const first = plausible(ctx, macSeconds(r.ZFIRSTTIMESTAMP), r.ZFIRSTTIMESTAMP, 'ZFIRSTTIMESTAMP', ref, 'mac-s');
      const last = plausible(ctx, macSeconds(r.ZTIMESTAMP), r.ZTIMESTAMP, 'ZTIMESTAMP', ref, 'mac-s');
      const extra = {
        process_name: proc,
        bundle_id: bundle,
        first_seen_raw: r.ZFIRSTTIMESTAMP == null ? null : String(r.ZFIRSTTIMESTAMP),
        last_seen_raw: r.ZTIMESTAMP == null ? null : String(r.ZTIMESTAMP),
      };
      ctx.emit({
        ts: first,
        kind: 'data-usage',
        action: 'first-seen',
        title: `Network use by ${who}: first seen`,
        counterpart: who,
        service: 'Data usage',
        sourceFileId: src.fileRowId,
        sourceTable: 'ZPROCESS',
        sourceRowid: pk,
        extra,
      });
      if (last && (last.utcUs !== first?.utcUs || last.raw !== first?.raw)) {
        ctx.emit({
          ts: last,
          kind: 'data-usage',
          action: 'last-seen',
          title: `Network use by ${who}: last seen`,
          counterpart: who,
          service: 'Data usage',
          sourceFileId: src.fileRowId,
          sourceTable: 'ZPROCESS',
          sourceRowid: pk,
          extra,
        });
      }
    }
    // Primary keys are handed out in order: a gap is a process row that was deleted.
    const missing: number[] = [];
    for (let i = 1; i < pks.length; i++) for (let k = pks[i - 1] + 1; k < pks[i] && missing.length < 1000; k++) missing.push(k);
    if (missing.length)
      ctx.warn(`ZPROCESS has no rows for Z_PK ${missing.join(', ')} (between existing rows): process records deleted`, {
        fileRowId: src.fileRowId,
        table: 'ZPROCESS',
        severity: 'info',
      });

    const lc = columnsOf(db, 'ZLIVEUSAGE');
    const wifiCols = lc.has('ZWIFIIN');
    for (const r of db
      .prepare(
        `SELECT Z_PK AS pk, ${['ZHASPROCESS', 'ZTIMESTAMP', 'ZKIND', 'ZMETADATA', 'ZTAG', 'ZBILLCYCLEEND', 'ZWIFIIN', 'ZWIFIOUT', 'ZWWANIN', 'ZWWANOUT'].map((c) => colOrNull(lc, c)).join(', ')} FROM ZLIVEUSAGE ORDER BY Z_PK`,
      )
      .iterate() as Iterable<Record<string, unknown>>) {
      const pk = num(r.pk)!;
      const ref = { fileRowId: src.fileRowId, table: 'ZLIVEUSAGE', rowid: pk };
      const procPk = num(r.ZHASPROCESS);
      const p = procPk !== null ? procs.get(procPk) : undefined;
      if (!p) ctx.warn(`ZLIVEUSAGE row ${pk}: its process (ZHASPROCESS ${procPk ?? 'NULL'}) has no ZPROCESS row (deleted or manipulated)`, ref);
      const who = p ? (p.bundle ?? shortName(p.name) ?? `process ${procPk}`) : `missing process ${procPk ?? '?'}`;
      const [wi, wo, ci, co] = [num(r.ZWIFIIN), num(r.ZWIFIOUT), num(r.ZWWANIN), num(r.ZWWANOUT)];
      ctx.emit({
        ts: plausible(ctx, macSeconds(r.ZTIMESTAMP), r.ZTIMESTAMP, 'ZTIMESTAMP', ref, 'mac-s'),
        kind: 'data-usage',
        action: 'usage',
        title: `Network use by ${who}: ${wifiCols ? `Wi-Fi ${bytes(wi)} in / ${bytes(wo)} out, ` : ''}cellular ${bytes(ci)} in / ${bytes(co)} out`,
        counterpart: who,
        service: 'Data usage',
        sourceFileId: src.fileRowId,
        sourceTable: 'ZLIVEUSAGE',
        sourceRowid: pk,
        extra: {
          process_pk: procPk,
          process_name: p?.name ?? null,
          bundle_id: p?.bundle ?? null,
          wifi_in: wi,
          wifi_out: wo,
          wwan_in: ci,
          wwan_out: co,
          wifi_columns: wifiCols,
          kind: num(r.ZKIND),
          metadata: num(r.ZMETADATA),
          tag: num(r.ZTAG),
          bill_cycle_end_raw: r.ZBILLCYCLEEND == null ? null : String(r.ZBILLCYCLEEND),
          time_meaning: 'ZLIVEUSAGE.ZTIMESTAMP: when these counters were last written',
        },
      });
    }
    const counts = NOT_READ.filter((t) => hasTable(db, t))
      .map((t) => [t, Number((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: bigint }).n)] as const)
      .filter(([, n]) => n > 0);
    if (counts.length) ctx.warn(`not read by this module: ${counts.map(([t, n]) => `${t} ${n} rows`).join(', ')}`, { fileRowId: src.fileRowId, severity: 'info' });
  },
};
