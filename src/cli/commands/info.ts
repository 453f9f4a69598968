import type { Command } from 'commander';
import { SOURCE_KIND_LABEL, type EvidenceSource } from '../../backup/source.js';
import { openEvidence } from '../../sources/open.js';
import { TreeSource } from '../../sources/tree.js';
import { flagName, type ManifestEntry } from '../../backup/manifest.js';
import { EXTRACTORS } from '../../extractors/registry.js';
import { openOptionsFrom } from '../password.js';
import { describeKeybag } from '../../backup/decrypt.js';
import { EXIT_EVIDENCE } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { CaseFile } from '../../timeline/caseFile.js';
import { deviceLabel, devicesOf } from '../../timeline/query.js';
import { columnsOf, isSqliteFile } from '../../sqlite.js';

/** Why an artifact's payload cannot be read (absent, or refused: a link out of the backup, a FIFO…), else null. */
function payloadProblem(backup: EvidenceSource, e: ManifestEntry): { name: string; refused: boolean; note: string } | null {
  const loc = backup.locate(e);
  if (loc.status === 'ok') return null;
  return { name: `${e.domain}/${e.relativePath}`, refused: loc.status === 'unreadable', note: loc.note ?? loc.status };
}

/** info CASE.db: the devices (evidence sources) the case holds, with what was read from each. */
function caseInfo(file: string, json: boolean): void {
  const cf = CaseFile.open(file, { readonly: true });
  try {
    const count = (sql: string, id: number) => Number(cf.db.prepare(sql).pluck().get(id));
    const hasDevice = columnsOf(cf.db, 'events').has('device_id');
    const devices = devicesOf(cf.db).map((d) => ({
      ...d,
      events: hasDevice ? count('SELECT count(*) FROM events WHERE device_id = ?', d.id) : Number(cf.db.prepare('SELECT count(*) FROM events').pluck().get()),
      linked_duplicates: hasDevice ? count('SELECT count(*) FROM events WHERE device_id = ? AND duplicate_of IS NOT NULL', d.id) : 0,
    }));
    const result = {
      case: path.resolve(file),
      case_number: cf.getMeta('case_number') ?? '',
      time_zone: cf.getMeta('time_zone') ?? '',
      schema_version: cf.getMeta('schema_version') ?? '',
      devices,
    };
    if (json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return;
    }
    const lines = [
      `Case:       ${result.case}${result.case_number ? ` (case number ${result.case_number})` : ''}`,
      `Time zone:  ${result.time_zone}`,
      `Devices:    ${devices.length}`,
      ...devices.flatMap((d) => [
        `  ${deviceLabel(d)}: ${d.product_type ?? '?'}, iOS ${d.ios_version ?? '?'}, UDID ${d.udid ?? '?'}, serial ${d.serial ?? '?'}`,
        `     backup ${d.backup_path}${d.backup_date ? ` (${d.backup_date} UTC)` : ''}; ${d.events} events${d.linked_duplicates ? `, ${d.linked_duplicates} of them messages also read from another device (duplicate_of)` : ''}`,
      ]),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    cf.close();
  }
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description(
      'Describe the evidence (a backup, a file-system folder, or a tar/tar.gz/zip of one): what it is, device, iOS version, encryption, what it contains, problems found (reads nothing but the manifest or the archive index, and plists); or a case file: the devices it holds.',
    )
    .argument(
      '<evidence>',
      'backup folder (holding Manifest.db, or Manifest.mbdb for iOS 5–9), file-system folder (holding private/var/mobile), .tar/.tar.gz/.tgz/.zip of one, or a case file',
    )
    .option('--json', 'print JSON instead of text')
    .option('--password <pw>', 'backup password for an encrypted backup (or IOS_TIMELINE_PASSWORD)')
    .option('--key-file <file>', 'derived key file saved earlier with save-key (skips the slow key derivation)')
    .action(async (dir: string, o: { json?: boolean; password?: string; keyFile?: string }) => {
      // A case file (SQLite with an evidence table) lists its devices; any other file is evidence (an archive).
      if (fs.existsSync(dir) && fs.statSync(dir).isFile() && isSqliteFile(dir) && !/(^|[\\/])Manifest\.(db|plist)$/.test(dir)) {
        caseInfo(dir, !!o.json);
        return;
      }
      const backup = await openEvidence(dir, { backup: openOptionsFrom(o, { interactive: false, forInfo: true }), indexOnly: true });
      const tree = backup instanceof TreeSource ? backup : null;
      try {
        // Encrypted without a key: a Manifest.db cannot be listed; a Manifest.mbdb (never encrypted) can.
        const listed = !backup.locked || backup.allEntries().length > 0;
        const counts: Record<string, number> = {};
        for (const e of backup.allEntries()) counts[flagName(e.flags)] = (counts[flagName(e.flags)] ?? 0) + 1;
        const artifacts = EXTRACTORS.map((x) => {
          const bad = x.sources
            .flatMap((s) => backup.find(s.domain, s.path))
            .map((e) => payloadProblem(backup, e))
            .filter((p) => p !== null);
          const present = x.sources.filter((s) => backup.find(s.domain, s.path).length > 0).map((s) => `${s.domain}/${s.path}`);
          const payloadMissing = bad.filter((p) => !p.refused).map((p) => p.name);
          const payloadRefused = bad.filter((p) => p.refused).map((p) => `${p.name}: ${p.note}`);
          // The coverage of this backup: an examiner sees what is missing and why.
          const coverage = payloadRefused.length
            ? 'refused'
            : payloadMissing.length
              ? 'payload-missing'
              : present.length
                ? 'found'
                : x.encryptedOnly && !backup.encrypted
                  ? 'encrypted-backups-only'
                  : 'not-present';
          return { id: x.id, title: x.title, coverage, lookedFor: x.sources.map((s) => `${s.domain}/${s.path}`), present, payloadMissing, payloadRefused };
        });
        // A refused file (a link out of the backup, a FIFO, a device where a file should be) is an evidence problem: exit 1.
        const refusedFiles = [
          ...backup.problems.filter((p) => p.refused).map((p) => p.file),
          ...(listed ? artifacts.flatMap((a) => a.payloadRefused.map((r) => r.split(': ')[0])) : []),
        ];
        if (refusedFiles.length) {
          process.exitCode = EXIT_EVIDENCE;
          process.stderr.write(`ios-timeline: ${refusedFiles.length} evidence file(s) refused, not read: ${refusedFiles.join(', ')}\n`);
        }
        const input = {
          kind: backup.kind,
          label: SOURCE_KIND_LABEL[backup.kind],
          ...(tree
            ? {
                prefix: tree.prefix,
                files: tree.files.length,
                mapped: backup.allEntries().length,
                refused: tree.files.filter((f) => f.refused).length,
              }
            : {}),
        };
        const result = {
          path: backup.root,
          input,
          encrypted: backup.encrypted,
          device: backup.info,
          status: backup.status,
          manifest: { source: backup.manifestName, entries: backup.allEntries().length, ...counts },
          artifacts,
          problems: backup.problems,
          // Encrypted without a key: only the plists were read, so there is nothing to count.
          ...(backup.encrypted ? { locked: backup.locked, keybag: describeKeybag(backup.manifestPlist) } : {}),
          ...(listed ? {} : { manifest: null, artifacts: null }),
        };
        if (o.json) {
          process.stdout.write(JSON.stringify(result, null, 2) + '\n');
          return;
        }
        const d = backup.info;
        const lines = [
          `${backup.kind === 'backup' ? 'Backup:    ' : 'Evidence:  '} ${backup.root}`,
          `Input:      ${input.label}${tree ? ` — ${backup.kind === 'clbx' ? `file systems ${tree.prefix}` : `tree at ${tree.prefix ? `${tree.prefix}/` : ''}private/var`}; ${tree.files.length} files, ${backup.allEntries().length} under backup domains${input.refused ? `, ${input.refused} refused` : ''}` : ''}`,
          `Device:     ${d?.deviceName ?? '?'} (${d?.productType ?? '?'}), iOS ${d?.productVersion ?? '?'} (${d?.buildVersion ?? '?'})`,
          `Serial:     ${d?.serialNumber ?? '?'}   UDID: ${d?.udid ?? '?'}   IMEI: ${d?.imei ?? '?'}`,
          `Backed up:  ${d?.lastBackupDate?.toISOString() ?? backup.status?.date?.toISOString() ?? '?'} (UTC)`,
          `Encrypted:  ${backup.encrypted ? 'yes' : 'no'}`,
          ...(backup.encrypted ? [`Keybag:     ${describeKeybag(backup.manifestPlist).text}`] : []),
          ...(!listed
            ? ['Manifest:   encrypted: give --password (or --key-file) to list contents']
            : [
                `Manifest:   ${backup.manifestName === 'Manifest.mbdb' ? 'Manifest.mbdb (iOS 5–9), ' : ''}${backup.allEntries().length} entries (${Object.entries(counts)
                  .map(([k, v]) => `${v} ${k}`)
                  .join(', ')})`,
                'Artifacts:',
              ]),
          ...(listed ? artifacts : []).map(
            (a) =>
              `  ${a.present.length ? (a.payloadMissing.length || a.payloadRefused.length ? '!' : '✓') : '·'} ${a.title}${a.present.length ? '' : a.coverage === 'encrypted-backups-only' ? ' — not present: Apple keeps it only in encrypted backups' : ' — not present'}${a.payloadMissing.length ? ` — listed, but no payload for ${a.payloadMissing.join(', ')}` : ''}${a.payloadRefused.length ? ` — refused: ${a.payloadRefused.join('; ')}` : ''}`,
          ),
        ];
        if (backup.problems.length) lines.push('Problems:', ...backup.problems.map((p) => `  ! ${p.file}: ${p.message}`));
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        backup.close();
      }
    });
}
