import { knownKinds } from '../../report/describe.js';
import type { Command } from 'commander';
import type { CaseFile } from '../../timeline/caseFile.js';
import { buildFilter, validateZone, FilterError, resolveDevices } from '../../timeline/query.js';
import { listTags } from '../../timeline/tags.js';
import { exportEvents, type ExportFormat } from '../../report/exports.js';
import { DEFAULT_SPLIT_MB, exportTimesketch, partName } from '../../report/timesketch.js';
import { UsageError } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { writeOutputManifest } from '../../custody/outputs.js';
import { openCaseForWriting } from '../caseAccess.js';
import { loadPrivateKey } from '../../custody/sign.js';

export interface FilterOptions {
  from?: string;
  to?: string;
  kinds?: string;
  contact?: string;
  keyword?: string;
  device?: string;
  tag?: string;
  tagged?: boolean;
  tz?: string;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--from <time>', 'only events at or after this time (ISO 8601, read in --tz)')
    .option('--to <time>', 'only events at or before this time (a date means the whole day)')
    .option('--kinds <list>', 'only these kinds, comma-separated (message, call, photo, video, location, contact)')
    .option('--contact <text>', 'only events whose counterpart number, address or name contains this')
    .option('--keyword <words>', 'only events whose text contains these words (full-text search)')
    .option('--device <id|name>', 'only events of this device of the case: its id, name, UDID or serial (comma-separated for several)')
    .option('--tag <name>', 'only events with this tag (ios-timeline tag)')
    .option('--tagged', 'only events with any tag')
    .option('--tz <zone>', 'time zone for --from/--to and for display (default: the case zone)');
}

export function filterFrom(cf: CaseFile, o: FilterOptions) {
  try {
    const tz = validateZone(o.tz ?? cf.getMeta('time_zone') ?? 'UTC');
    // --kinds accepts every kind an artifact declares, and any kind this case holds (an older case may have others).
    const inCase = cf.db.prepare('SELECT DISTINCT kind FROM events').pluck().all() as string[];
    const tags = listTags(cf.db).map((t) => t.tag);
    const filter = buildFilter(o, tz, [...new Set([...knownKinds(), ...inCase])].sort(), cf.getMeta('region') ?? 'US', tags);
    if (o.device) filter.devices = resolveDevices(cf.db, o.device);
    return { tz, filter };
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(e.message);
    throw e;
  }
}

export const EXPORT_FORMATS = ['jsonl', 'timesketch', 'csv', 'geojson', 'kml'] as const;

/**
 * An export from a case whose ingest did not finish carries INCOMPLETE in its file name (timeline.jsonl →
 * timeline.INCOMPLETE.jsonl), since the formats themselves (Timesketch JSONL, CSV, GeoJSON, KML) have no place
 * for it; manifest.json says so too ("status": "INCOMPLETE").
 */
export function incompleteName(out: string): string {
  const base = path.basename(out);
  if (base.includes('INCOMPLETE')) return out;
  const ext = path.extname(base);
  return path.join(path.dirname(out), `${base.slice(0, base.length - ext.length)}.INCOMPLETE${ext}`);
}

export function registerExport(program: Command): void {
  addFilterOptions(
    program
      .command('export')
      .description('Export events for other tools: JSONL, Timesketch JSONL (split for its importer), CSV (Excel-safe), GeoJSON and KML (located events).')
      .requiredOption('--case <file>', 'case file')
      .requiredOption('--format <fmt>', `one of ${EXPORT_FORMATS.join(', ')}`)
      .requiredOption('--out <file>', 'output file (manifest.json and SHA256SUMS are written beside it)')
      .option('--examiner <name>', "examiner recorded in the custody log (default: the case's examiner)")
      .option('--sign-key <file>', 'Ed25519 private key (ios-timeline keygen) to sign manifest.json')
      .option('--allow-incomplete', 'accept a case whose ingest did not finish (the file name and manifest.json say INCOMPLETE)')
      .option('--split-mb <n>', `timesketch: start a new file (name.001.jsonl, name.002.jsonl…) before one would exceed this many MB`, String(DEFAULT_SPLIT_MB))
      .option('--force', 'replace an existing output file')
      .option('--json', 'print the result as JSON on stdout'),
  ).action(
    async (
      o: FilterOptions & {
        case: string;
        format: string;
        out: string;
        examiner?: string;
        signKey?: string;
        allowIncomplete?: boolean;
        force?: boolean;
        json?: boolean;
        splitMb?: string;
      },
    ) => {
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
      const splitMb = Number(o.splitMb ?? DEFAULT_SPLIT_MB);
      if (!Number.isFinite(splitMb) || splitMb <= 0) throw new UsageError(`--split-mb must be a positive number of MB (not "${o.splitMb}")`);
      if (o.format === 'timesketch' && fs.existsSync(partName(o.out, 1, 2)) && !o.force)
        throw new UsageError(`${partName(o.out, 1, 2)} already exists; choose another name, or add --force to replace it`);
      if (o.signKey) {
        try {
          loadPrivateKey(o.signKey);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      } // before writing anything
      const dir = path.dirname(path.resolve(o.out));
      if (!fs.existsSync(dir)) throw new UsageError(`output folder ${dir} does not exist; create it first`);
      if (!fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
      if (fs.existsSync(o.out) && fs.statSync(o.out).isDirectory()) throw new UsageError(`--out ${o.out} is a folder; give a file name`);
      if (fs.existsSync(o.out) && !o.force) throw new UsageError(`--out ${o.out} already exists; choose another name, or add --force to replace it`);
      const opened = openCaseForWriting(o.case, `export --out ${path.resolve(o.out)}`, { outputs: [{ path: o.out, what: 'the export file' }], allowIncomplete: o.allowIncomplete });
      const { cf } = opened;
      try {
        const { filter } = filterFrom(cf, o);
        const out = path.resolve(opened.complete ? o.out : incompleteName(o.out));
        let n: number;
        let files = [out];
        let extra: Record<string, unknown> = {};
        if (o.format === 'timesketch') {
          const t = exportTimesketch(cf.db, out, filter, { splitMb, caseNumber: cf.getMeta('case_number') ?? '' });
          n = t.events;
          files = t.files;
          extra = { files: t.files.length, undated_left_out: t.undated, split_mb: splitMb };
          if (t.undated) process.stderr.write(`${t.undated} events without a time left out (Timesketch places every event in time)\n`);
        } else n = exportEvents(cf.db, o.format as ExportFormat, out, filter);
        const m = await writeOutputManifest(path.dirname(out), files, cf, {
          action: 'export',
          signKeyPath: o.signKey,
          examiner: o.examiner,
          detail: { format: o.format, events: n, ...extra, filter },
        });
        const sha256 = (JSON.parse(m.custody.detail_json) as { outputs: { sha256: string }[] }).outputs[0].sha256;
        const shown =
          files.length > 1 ? `${files.length} files (${files.map((f) => path.basename(f)).join(', ')})` : opened.complete ? o.out : path.relative(process.cwd(), out) || out;
        if (o.json) {
          const result = {
            format: o.format,
            events: n,
            out,
            sha256,
            manifest: m.manifestPath,
            custody_row: m.custody.seq,
            complete: opened.complete,
            ...(o.format === 'timesketch' ? { files, ...extra } : {}),
          };
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${n} events written to ${shown} (sha256 ${sha256}); manifest ${m.manifestPath}, custody row ${m.custody.seq}${opened.complete ? '' : " — INCOMPLETE: the case's ingest did not finish"}\n`,
        );
      } finally {
        opened.close();
      }
    },
  );
}
