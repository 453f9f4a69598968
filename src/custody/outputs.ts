// Output manifests: every report/export folder gets manifest.json (+ manifest.json.sig when signed) and
// SHA256SUMS beside its files, and the action is appended to the case file's custody log.
//
// manifest.json lists every output file (name relative to the folder, size, sha256, SHA-256 prefix checkpoints
// every 64 KiB so verify can name the first changed byte range) and every action that wrote into the folder,
// each with its custody row (seq + hash) and the case file it came from:
//   case_file.sha256_before_action  sha256 of the case file's bytes just before this action's custody row was
//                                   appended (the file changes with every row, so this is a point-in-time value);
//   case_file.content_digest        the case content digest recorded at ingest (src/custody/caseDigest.ts),
//                                   which stays checkable for as long as the case file exists.
// custody_head is the hash of the last custody row written for this folder.
// SHA256SUMS lists every output and manifest.json itself (not SHA256SUMS, not the .sig), two spaces between hash
// and name, so `cd DIR && sha256sum -c SHA256SUMS` checks the outputs and the manifest with standard tools.
// A folder that receives several actions (a report, then an export) keeps one merged manifest.
import fs from 'node:fs';
import path from 'node:path';
import { ingestStateOf, type CaseFile } from '../timeline/caseFile.js';
import type { CustodyRow, HashRef } from '../timeline/custodyLog.js';
import { hashFiles } from './evidenceHash.js';
import { sha256File } from './hash.js';
import { keyFingerprint, loadPrivateKey, signBytes } from './sign.js';
import { TOOL_NAME, TOOL_VERSION } from '../version.js';
import type { CaseDigest } from './caseDigest.js';
import { RefusedError } from '../workdir.js';

export const MANIFEST_NAME = 'manifest.json';
export const SUMS_NAME = 'SHA256SUMS';
export const SIGNATURE_NAME = 'manifest.json.sig';
export const RESERVED_NAMES = new Set([MANIFEST_NAME, SUMS_NAME, SIGNATURE_NAME]);
export const MANIFEST_FORMAT = 'ios-timeline-output-manifest/1';
/** Prefix checkpoint interval for outputs: reports are small, so a finer grid than for evidence. */
export const OUTPUT_BLOCK = 64 << 10;

export interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
  block_size: number;
  block_prefixes?: string;
  action: string;
  custody_seq: number;
}

export interface ManifestAction {
  action: string;
  at: string;
  examiner: string;
  custody: { seq: number; hash: string; prev_hash: string };
  case_file: { path: string; case_number: string | null; sha256_before_action: string; content_digest: string | null; ingest_state?: string };
  outputs: string[];
  /** Present (true) when the case's ingest never finished (--allow-incomplete): these outputs hold a fraction. */
  incomplete?: boolean;
  /** An exhibit report's exhibits, so a reviewer can cite "Exhibit 4, page 2". */
  exhibits?: ManifestExhibit[];
}

export interface ManifestExhibit {
  number: number;
  event_id: number;
  tags: string[];
  /** Where the exhibit is in the HTML (exhibits.html#exhibit-4). */
  html_anchor: string;
  /** 1-based page of the PDF it starts on, and its length in pages (absent without a PDF). */
  pdf_first_page?: number;
  pdf_pages?: number;
}

export interface OutputManifest {
  format: string;
  generator: string;
  updated_at: string;
  custody_head: { seq: number; hash: string };
  /** "INCOMPLETE" when any action here used a case whose ingest did not finish. */
  status?: 'INCOMPLETE';
  files: ManifestFile[];
  actions: ManifestAction[];
  signer?: { algorithm: 'ed25519'; public_key_sha256: string };
  /** extract: items selected but not written (payload missing, hash mismatch…), each with its reason. */
  not_written?: NotWritten[];
}

export interface NotWritten {
  source: string | null;
  reason: string;
  event_id: number | null;
  attachment_id: number | null;
}

export interface WriteManifestOptions {
  action: 'report' | 'export' | 'extract';
  signKeyPath?: string;
  /** Items the action selected but did not write, listed in manifest.json with their reasons (extract). */
  notWritten?: NotWritten[];
  /** Extra facts for the custody row (format, filter, template…). */
  detail?: Record<string, unknown>;
  /** Examiner for the custody row (default: IOS_TIMELINE_EXAMINER, the case's examiner, the OS user). */
  examiner?: string;
  /** An exhibit report's exhibits (recorded in this action of manifest.json). */
  exhibits?: ManifestExhibit[];
  /** Outputs of an earlier run the caller removed as stale (an old report.pdf beside a new HTML-only run). */
  removed?: string[];
}

/**
 * The files an earlier run of this kind wrote into `outDir` that this run will not rewrite (stale outputs), taken
 * from manifest.json and still byte-identical to what it recorded: safe to remove, since they are ours and
 * unchanged. A listed file that was modified is left alone (verify reports it).
 */
export async function staleOutputs(outDir: string, owned: RegExp, writing: string[]): Promise<string[]> {
  const existing = readManifest(path.resolve(outDir));
  if (!existing) return [];
  const stale: string[] = [];
  for (const f of existing.files) {
    if (!owned.test(f.name) || writing.includes(f.name)) continue;
    const p = path.join(path.resolve(outDir), f.name);
    if (!fs.existsSync(p)) continue;
    const [h] = await hashFiles([{ path: p, size: fs.statSync(p).size }]);
    if (h.sha256 === f.sha256) stale.push(f.name);
  }
  return stale;
}

/** The content digest recorded by the ingest custody row (null for case files ingested before it existed). */
export function recordedCaseDigest(cf: CaseFile): CaseDigest | null {
  const rows = cf.db.prepare("SELECT detail_json FROM custody WHERE action = 'ingest' ORDER BY seq DESC").all() as { detail_json: string }[];
  for (const r of rows) {
    try {
      const d = JSON.parse(r.detail_json) as { case_digest?: CaseDigest };
      if (d.case_digest?.sha256) return d.case_digest;
    } catch {
      /* a damaged row: verify reports it */
    }
  }
  return null;
}

/**
 * Where a path really lands: the nearest existing ancestor resolved with realpath (symbolic links followed, also
 * a dangling one), plus the parts that do not exist yet. The file may not exist before it is written.
 */
export function realPathOf(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (let hops = 0; hops < 64; hops++) {
    try {
      return path.join(fs.realpathSync(cur), ...rest);
    } catch {
      /* does not exist (or a dangling link) */
    }
    try {
      if (fs.lstatSync(cur).isSymbolicLink()) {
        cur = path.resolve(path.dirname(cur), fs.readlinkSync(cur));
        continue;
      }
    } catch {
      /* really absent */
    }
    const parent = path.dirname(cur);
    if (parent === cur) break;
    rest.unshift(path.basename(cur));
    cur = parent;
  }
  return path.join(cur, ...rest);
}

/** Refuse an output (case file, report folder, export file…) whose real path is inside the evidence folder. */
export function assertOutsideEvidence(output: string, evidenceRoot: string, what: string): void {
  const out = realPathOf(output);
  const ev = realPathOf(evidenceRoot);
  if (out === ev || out.startsWith(ev.endsWith(path.sep) ? ev : ev + path.sep)) {
    throw new RefusedError(
      `${what} ${output} is inside the evidence folder ${evidenceRoot}${out !== path.resolve(output) ? ` (it resolves to ${out})` : ''}: the evidence is never written, choose a place outside it`,
    );
  }
}

/** The evidence folders a case was made from (evidence.backup_path). */
export function evidenceRootsOf(cf: CaseFile): string[] {
  try {
    return (cf.db.prepare('SELECT backup_path FROM evidence').all() as { backup_path: string }[]).map((r) => r.backup_path).filter(Boolean);
  } catch {
    return [];
  }
}

export function readManifest(outDir: string): OutputManifest | null {
  const p = path.join(outDir, MANIFEST_NAME);
  if (!fs.existsSync(p)) return null;
  let m: OutputManifest;
  try {
    m = JSON.parse(fs.readFileSync(p, 'utf8')) as OutputManifest;
  } catch (e) {
    throw new Error(`${p} is not valid JSON (${(e as Error).message}); move it aside before writing into this folder`);
  }
  if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.files) || !Array.isArray(m.actions))
    throw new Error(`${p} is not an ios-timeline output manifest; move it aside before writing into this folder`);
  return m;
}

function relName(outDir: string, file: string): string {
  const rel = path.relative(outDir, path.resolve(file));
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`output ${file} is not inside ${outDir}`);
  const name = rel.split(path.sep).join('/');
  if (RESERVED_NAMES.has(name)) throw new Error(`output ${file} uses a reserved name (${name})`);
  // sha256sum escapes such names; refuse them instead of writing a SHA256SUMS that needs escaping.
  if (/[\n\r\\]/.test(name)) throw new Error(`output name ${JSON.stringify(name)} contains a newline or backslash`);
  return name;
}

/**
 * Hash the outputs, append the custody row, write manifest.json (+ .sig) and SHA256SUMS.
 * `outputs` are absolute paths of the files this action wrote inside `outDir` (sub-folders allowed).
 */
export async function writeOutputManifest(
  outDir: string,
  outputs: string[],
  caseFile: CaseFile,
  opts: WriteManifestOptions,
): Promise<{ manifestPath: string; sha256sumsPath: string; custody: CustodyRow }> {
  const dir = path.resolve(outDir);
  const names = outputs.map((o) => relName(dir, o));
  const key = opts.signKeyPath ? loadPrivateKey(opts.signKeyPath) : null; // fail before writing anything
  const existing = readManifest(dir);

  const hashes = await hashFiles(
    names.map((n) => ({ path: path.join(dir, n), size: fs.statSync(path.join(dir, n)).size })),
    { blockSize: OUTPUT_BLOCK },
  );
  hashes.forEach((h, i) => {
    if (h.error || !h.sha256) throw new Error(`cannot hash output ${names[i]}: ${h.error}`);
  });

  // The case file's bytes before this action's custody row (commit first so the file on disk is complete).
  caseFile.commit();
  const caseSha = await sha256File(caseFile.path);
  const digest = recordedCaseDigest(caseFile);
  const outRefs: HashRef[] = names.map((n, i) => ({ path: n, size: hashes[i].size, sha256: hashes[i].sha256! }));
  const state = ingestStateOf(caseFile.db);
  const custody = caseFile.custody({
    action: opts.action,
    actor: opts.examiner || undefined,
    detail: {
      ...opts.detail,
      out_dir: dir,
      ...(opts.removed?.length ? { removed_stale_outputs: opts.removed } : {}),
      case_file_sha256_before: caseSha,
      case_content_digest: digest?.sha256 ?? null,
      signed: !!key,
      ...(state.complete ? {} : { case_incomplete: true, ingest_state: state.state }),
    },
    inputs: [
      { name: 'case file (before this row)', path: path.resolve(caseFile.path), sha256: caseSha },
      ...(digest ? [{ name: 'case content digest', sha256: digest.sha256 }] : []),
    ],
    outputs: outRefs,
  });

  const files = new Map((existing?.files ?? []).map((f) => [f.name, f]));
  for (const gone of opts.removed ?? []) files.delete(gone);
  names.forEach((n, i) =>
    files.set(n, {
      name: n,
      size: hashes[i].size,
      sha256: hashes[i].sha256!,
      block_size: OUTPUT_BLOCK,
      ...(hashes[i].prefixes ? { block_prefixes: hashes[i].prefixes } : {}),
      action: opts.action,
      custody_seq: custody.seq,
    }),
  );
  const actions: ManifestAction[] = [
    ...(existing?.actions ?? []),
    {
      action: opts.action,
      at: custody.at,
      examiner: custody.actor,
      custody: { seq: custody.seq, hash: custody.hash, prev_hash: custody.prev_hash },
      case_file: {
        path: path.resolve(caseFile.path),
        case_number: caseFile.getMeta('case_number') || null,
        sha256_before_action: caseSha,
        content_digest: digest?.sha256 ?? null,
        ...(state.complete ? {} : { ingest_state: state.state }),
      },
      outputs: names,
      ...(state.complete ? {} : { incomplete: true }),
      ...(opts.exhibits ? { exhibits: opts.exhibits } : {}),
    },
  ];
  const manifest: OutputManifest = {
    format: MANIFEST_FORMAT,
    generator: `${TOOL_NAME} ${TOOL_VERSION}`,
    updated_at: custody.at,
    custody_head: { seq: custody.seq, hash: custody.hash },
    ...(actions.some((a) => a.incomplete) ? { status: 'INCOMPLETE' as const } : {}),
    files: [...files.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    actions,
    ...(existing?.not_written?.length || opts.notWritten?.length ? { not_written: [...(existing?.not_written ?? []), ...(opts.notWritten ?? [])] } : {}),
    ...(key ? { signer: { algorithm: 'ed25519' as const, public_key_sha256: keyFingerprint(key) } } : {}),
  };
  const manifestPath = path.join(dir, MANIFEST_NAME);
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
  fs.writeFileSync(manifestPath, bytes);
  const sigPath = path.join(dir, SIGNATURE_NAME);
  if (key) fs.writeFileSync(sigPath, signBytes(bytes, key) + '\n');
  else if (fs.existsSync(sigPath)) {
    // The old signature covered the old manifest; leaving it would make verify fail on an honest folder.
    fs.rmSync(sigPath);
    process.stderr.write(`note: ${sigPath} covered the earlier manifest and was removed; sign again with --sign-key\n`);
  }

  const manifestSha = await sha256File(manifestPath);
  const lines = manifest.files.map((f) => `${f.sha256}  ${f.name}`);
  lines.push(`${manifestSha}  ${MANIFEST_NAME}`);
  const sha256sumsPath = path.join(dir, SUMS_NAME);
  fs.writeFileSync(sha256sumsPath, lines.join('\n') + '\n');
  return { manifestPath, sha256sumsPath, custody };
}
