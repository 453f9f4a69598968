// `ios-timeline extract`: the original media files out of the evidence, verified against the hashes recorded at
// ingest, with manifest.json, SHA256SUMS and a custody row (src/report/extract.ts does the work).
import path from 'node:path';
import type { Command } from 'commander';
import { loadPrivateKey } from '../../custody/sign.js';
import { checkOutDir, EXTRACT_KINDS, extractMedia, type ExtractKind } from '../../report/extract.js';
import { openCaseForWriting } from '../caseAccess.js';
import { EXIT_EVIDENCE, UsageError } from '../errors.js';
import { openOptionsFrom } from '../password.js';
import { filterFrom } from './export.js';

interface ExtractCliOptions {
  case: string;
  out: string;
  kinds?: string;
  from?: string;
  to?: string;
  contact?: string;
  keyword?: string;
  device?: string;
  tz?: string;
  password?: string;
  keyFile?: string;
  evidence?: string;
  convertHeic?: string;
  examiner?: string;
  signKey?: string;
  allowIncomplete?: boolean;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function parseExtractKinds(s: string | undefined): ExtractKind[] {
  if (!s) return [...EXTRACT_KINDS];
  const list = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = list.filter((k) => !(EXTRACT_KINDS as readonly string[]).includes(k));
  if (!list.length || bad.length) throw new UsageError(`--kinds must be a comma-separated list of ${EXTRACT_KINDS.join(', ')}${bad.length ? ` (not ${bad.join(', ')})` : ''}`);
  return [...new Set(list)] as ExtractKind[];
}

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description('Write the original attachments, photos, videos and voice recordings out of the evidence, each checked against its ingest SHA-256.')
    .requiredOption('--case <file>', 'case file')
    .requiredOption('--out <dir>', 'output folder (new or empty; manifest.json, SHA256SUMS and extract.json are written in it)')
    .option('--kinds <list>', `what to write, comma-separated: ${EXTRACT_KINDS.join(', ')} (default: all)`)
    .option('--from <time>', 'only files whose event is at or after this time (ISO 8601, read in --tz)')
    .option('--to <time>', 'only files whose event is at or before this time (a date means the whole day)')
    .option('--contact <text>', 'only files whose counterpart number, address or name contains this')
    .option('--keyword <words>', 'only files of messages whose text contains these words')
    .option('--device <id|name>', 'the device of the case whose files to write (needed when the case holds several): its id, name, UDID or serial')
    .option('--tz <zone>', 'time zone for --from/--to and for the dates in file names (default: the case zone)')
    .option('--password <pw>', 'backup password for an encrypted backup (or IOS_TIMELINE_PASSWORD, or a prompt)')
    .option('--key-file <file>', 'derived key file saved earlier with save-key')
    .option('--evidence <dir>', 'the evidence folder, when it is no longer where the case recorded it')
    .option('--convert-heic <format>', 'also write a JPEG beside each HEIC (the original is always kept): jpeg')
    .option('--examiner <name>', "examiner recorded in the custody log (default: the case's examiner)")
    .option('--sign-key <file>', 'Ed25519 private key (ios-timeline keygen) to sign manifest.json')
    .option('--allow-incomplete', 'accept a case whose ingest did not finish')
    .option('--force', 'write into an existing folder that is not empty (existing files are never overwritten)')
    .option('-q, --quiet', 'no progress output')
    .option('--json', 'print the result as JSON on stdout (every item, as in extract.json)')
    .action(async (o: ExtractCliOptions) => {
      const kinds = parseExtractKinds(o.kinds);
      if (o.convertHeic !== undefined && o.convertHeic.toLowerCase() !== 'jpeg') throw new UsageError('--convert-heic takes one format: jpeg');
      if (o.signKey) {
        try {
          loadPrivateKey(o.signKey);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const out = path.resolve(o.out);
      try {
        checkOutDir(out, !!o.force);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const opened = openCaseForWriting(o.case, `extract --out ${out}`, { outputs: [{ path: out, what: 'the extract folder' }], allowIncomplete: o.allowIncomplete });
      try {
        const { tz, filter } = filterFrom(opened.cf, { from: o.from, to: o.to, contact: o.contact, keyword: o.keyword, device: o.device, tz: o.tz });
        let last = 0;
        const r = await extractMedia(opened.cf, {
          outDir: out,
          kinds,
          filter,
          tz,
          open: openOptionsFrom(o, { interactive: true }),
          evidenceDir: o.evidence,
          convertHeic: o.convertHeic !== undefined,
          examiner: o.examiner,
          signKeyPath: o.signKey,
          onItem: (done, total) => {
            if (o.quiet || !process.stderr.isTTY || Date.now() - last < 500) return;
            last = Date.now();
            process.stderr.write(`\r  extracting ${done}/${total}`);
          },
        });
        if (!o.quiet && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
        if (o.json) {
          const result = {
            out,
            written: r.written,
            not_written: r.notWritten,
            hash_mismatches: r.mismatches,
            bytes: r.bytes,
            heic_jpegs: r.jpegs,
            manifest: r.manifestPath,
            custody_row: r.custody.seq,
            complete: opened.complete,
            items: r.entries,
          };
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else
          process.stdout.write(
            `${r.written} files written to ${o.out} (${(r.bytes / 1e6).toFixed(1)} MB, each matching its ingest SHA-256)${r.jpegs ? `, ${r.jpegs} JPEG(s) beside HEICs` : ''}; ` +
              `${r.notWritten} not written (reasons in extract.json and manifest.json); manifest ${r.manifestPath}, custody row ${r.custody.seq}\n`,
          );
        if (r.mismatches) {
          process.stderr.write(`ios-timeline: ${r.mismatches} file(s) no longer match the SHA-256 recorded at ingest and were not written (see extract.json)\n`);
          process.exitCode = EXIT_EVIDENCE;
        }
      } finally {
        opened.close();
      }
    });
}
