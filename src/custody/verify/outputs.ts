import fs from 'node:fs';
import path from 'node:path';
import { hashFiles } from '../evidenceHash.js';
import { READ_CHUNK } from '../hashWorker.js';
import { MANIFEST_FORMAT, MANIFEST_NAME, RESERVED_NAMES, SIGNATURE_NAME, SUMS_NAME, type OutputManifest } from '../outputs.js';
import { keyFingerprint, loadPublicKey, verifyBytes } from '../sign.js';
import { sha256File } from '../hash.js';
import { HEADS_SUFFIX } from '../../timeline/custodyLog.js';

import { newReport, finish, openReadOnly, rangeText, changedRange, type VerifyReport } from './common.js';

/** Names only ios-timeline writes into an output folder (reports, exhibit reports, missing-file lists, extract indexes). */
const OWN_OUTPUT_NAME = /^(report|exhibits)\.(html|pdf)$|^report-[\w-]+\.html$|^missing-files\.csv$|^extract( \(\d+\))?\.json$/;
import { isSqliteFile } from '../../sqlite.js';
import { checkCaseDb } from './case.js';

export async function verifyOutputs(dir: string, opts: { pubKeyPath?: string; casePath?: string } = {}): Promise<VerifyReport> {
  const outDir = path.resolve(dir);
  const r = newReport(outDir, 'outputs');
  const manifestPath = path.join(outDir, MANIFEST_NAME);
  if (!fs.existsSync(manifestPath)) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: 'missing: this folder has no output manifest' });
    return finish(r);
  }
  const manifestBytes = fs.readFileSync(manifestPath);
  const manifestSha = await sha256File(manifestPath);
  r.inputs.push({ name: MANIFEST_NAME, sha256: manifestSha });
  let m: OutputManifest;
  try {
    m = JSON.parse(manifestBytes.toString('utf8')) as OutputManifest;
  } catch (e) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: `is not valid JSON: ${(e as Error).message}` });
    return finish(r);
  }
  if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.files)) {
    r.problems.push({ area: 'manifest', item: MANIFEST_NAME, message: `is not an ios-timeline output manifest (format ${JSON.stringify(m.format)})` });
    return finish(r);
  }

  // Files against the manifest.
  const listed = new Map(m.files.map((f) => [f.name, f]));
  const present = m.files.filter((f) => fs.existsSync(path.join(outDir, f.name)));
  const bySize = new Map<number, typeof present>();
  for (const f of present) bySize.set(f.block_size, [...(bySize.get(f.block_size) ?? []), f]);
  let matched = 0;
  for (const [blockSize, files] of bySize) {
    const hashes = await hashFiles(
      files.map((f) => ({ path: path.join(outDir, f.name), size: fs.statSync(path.join(outDir, f.name)).size })),
      { blockSize: blockSize || READ_CHUNK },
    );
    files.forEach((f, i) => {
      const h = hashes[i];
      if (h.error) {
        r.problems.push({ area: 'output', item: f.name, message: `cannot be read: ${h.error}` });
        return;
      }
      if (h.sha256 === f.sha256 && h.size === f.size) {
        matched++;
        return;
      }
      const range = changedRange(f.block_prefixes, h.prefixes, blockSize || READ_CHUNK, f.size, h.size);
      const size = f.size !== h.size ? `, size ${f.size} → ${h.size}` : '';
      r.problems.push({
        area: 'output',
        item: f.name,
        message: `content differs from manifest.json (sha256 ${f.sha256.slice(0, 16)}… recorded, ${h.sha256!.slice(0, 16)}… now${size}); first difference in ${rangeText(range)}`,
        range,
      });
    });
  }
  for (const f of m.files) if (!present.includes(f)) r.problems.push({ area: 'output', item: f.name, message: 'listed in manifest.json but missing' });
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.relative(outDir, path.join(d, e.name)).split(path.sep).join('/')]));
  // The case file may sit beside its outputs (the demo does that); it changes with every custody row, so it is no output.
  const caseNames = new Set((m.actions ?? []).map((a) => path.basename(a.case_file?.path ?? '')).filter(Boolean));
  for (const name of walk(outDir)) {
    if (listed.has(name) || RESERVED_NAMES.has(name)) continue;
    if (caseNames.has(name) && isSqliteFile(path.join(outDir, name))) {
      r.notes.push(`${name} is the case file (checked with --case, not against the manifest)`);
      continue;
    }
    if (name.endsWith(HEADS_SUFFIX) && caseNames.has(name.slice(0, -HEADS_SUFFIX.length))) {
      r.notes.push(`${name} holds the case file's custody heads (checked with --case)`);
      continue;
    }
    // A file with the name of one of our outputs that the manifest does not list is a problem; anything else in the
    // folder (the examiner's notes, another tool's files) is not ours: named, not checked, not a mismatch.
    if (OWN_OUTPUT_NAME.test(name))
      r.problems.push({ area: 'output', item: name, message: 'has the name of an ios-timeline output but is not listed in manifest.json (added after the manifest was written?)' });
    else r.notes.push(`${name}: not ours (not written by ios-timeline, not listed in manifest.json; not checked)`);
  }
  // A mismatch never gets a tick: the count is a check only when every file matches.
  if (matched === m.files.length) r.checks.push(`outputs: ${matched} of ${m.files.length} files match manifest.json`);
  else r.notes.push(`outputs: only ${matched} of ${m.files.length} files match manifest.json; the differences are listed above`);

  // SHA256SUMS must say the same as the manifest (and hash the manifest itself).
  const sumsPath = path.join(outDir, SUMS_NAME);
  if (!fs.existsSync(sumsPath)) r.problems.push({ area: 'manifest', item: SUMS_NAME, message: 'missing' });
  else {
    const want = new Map(m.files.map((f) => [f.name, f.sha256]));
    want.set(MANIFEST_NAME, manifestSha);
    const seen = new Set<string>();
    fs.readFileSync(sumsPath, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        const mm = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
        if (!mm) {
          r.problems.push({ area: 'manifest', item: `${SUMS_NAME} line ${i + 1}`, message: 'is not a sha256sum line' });
          return;
        }
        seen.add(mm[2]);
        if (!want.has(mm[2])) r.problems.push({ area: 'manifest', item: `${SUMS_NAME} line ${i + 1}`, message: `lists ${mm[2]}, which the manifest does not` });
        else if (want.get(mm[2]) !== mm[1])
          r.problems.push({
            area: 'manifest',
            item: `${SUMS_NAME} line ${i + 1}`,
            message: mm[2] === MANIFEST_NAME ? 'manifest.json does not match its hash in SHA256SUMS (the manifest was edited)' : `hash of ${mm[2]} differs from manifest.json`,
          });
      });
    for (const name of want.keys()) if (!seen.has(name)) r.problems.push({ area: 'manifest', item: SUMS_NAME, message: `does not list ${name}` });
    if (!r.problems.some((p) => p.item.startsWith(SUMS_NAME))) r.checks.push(`${SUMS_NAME}: agrees with manifest.json (${want.size} entries)`);
  }

  // Signature.
  const sigPath = path.join(outDir, SIGNATURE_NAME);
  if (opts.pubKeyPath) {
    const key = loadPublicKey(opts.pubKeyPath);
    if (!fs.existsSync(sigPath)) r.problems.push({ area: 'signature', item: SIGNATURE_NAME, message: 'missing: the manifest is not signed' });
    else if (!verifyBytes(manifestBytes, fs.readFileSync(sigPath, 'utf8'), key)) {
      const other = m.signer && m.signer.public_key_sha256 !== keyFingerprint(key);
      r.problems.push({
        area: 'signature',
        item: SIGNATURE_NAME,
        message: other ? 'does not verify: the manifest names a different signing key' : 'does not verify with this public key: manifest.json or the signature was altered',
      });
    } else r.checks.push(`signature: valid Ed25519 signature by key ${keyFingerprint(key).slice(0, 16)}…`);
  } else if (fs.existsSync(sigPath)) r.notes.push('manifest.json is signed; give --pub-key to check the signature');
  // A manifest that says it was signed must keep its signature: deleting the .sig must not pass unnoticed.
  if (m.signer && !fs.existsSync(sigPath) && !opts.pubKeyPath)
    r.problems.push({ area: 'signature', item: SIGNATURE_NAME, message: `missing: manifest.json records a signature by key ${String(m.signer.public_key_sha256).slice(0, 16)}…` });
  if (m.status === 'INCOMPLETE') r.notes.push('manifest.json says INCOMPLETE: these outputs come from a case whose ingest did not finish');

  // With the case file: the custody rows the manifest names must be in the (intact) chain, with the same output hashes.
  if (!opts.casePath) r.notes.push('give --case <case file> to check these outputs against the custody log');
  else {
    const db = openReadOnly(opts.casePath);
    try {
      const { rows, digest } = checkCaseDb(db, r);
      const bySeq = new Map(rows.map((x) => [x.seq, x]));
      for (const a of m.actions ?? []) {
        const row = bySeq.get(a.custody?.seq);
        const item = `custody row ${a.custody?.seq}`;
        if (!row) {
          r.problems.push({ area: 'custody', item, message: `the ${a.action} at ${a.at} named by manifest.json is not in this case file's custody log` });
          continue;
        }
        if (row.hash !== a.custody.hash) {
          r.problems.push({ area: 'custody', item, message: `hash ${row.hash.slice(0, 16)}… differs from manifest.json's ${a.custody.hash.slice(0, 16)}…` });
          continue;
        }
        if (digest && a.case_file?.content_digest && a.case_file.content_digest !== digest.sha256)
          r.problems.push({ area: 'case', item: 'case content digest', message: 'manifest.json was made from another case file (content digests differ)' });
        let outs: { path: string; sha256: string }[] = [];
        try {
          outs = (JSON.parse(row.detail_json) as { outputs?: { path: string; sha256: string }[] }).outputs ?? [];
        } catch {
          /* the chain check names it */
        }
        for (const name of a.outputs) {
          const f = listed.get(name);
          const rec = outs.find((o) => o.path === name);
          if (f && f.custody_seq === a.custody.seq && rec?.sha256 !== f.sha256)
            r.problems.push({ area: 'custody', item: `${name}`, message: `manifest.json's hash differs from the one in ${item}` });
        }
      }
      if (!r.problems.some((p) => p.area === 'custody'))
        r.checks.push(`custody: the ${m.actions?.length ?? 0} action(s) in manifest.json are in the case's chain with the same hashes`);
    } finally {
      db.close();
    }
  }
  return finish(r);
}
