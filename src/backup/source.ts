// What every evidence source offers the rest of the code: a backup folder (Backup), a file-system folder, or an
// archive of one (src/sources/). Extractors ask for (domain, relativePath) and never learn where a file lives.
import type { PlistValue } from '../formats/plist.js';
import type { DeviceInfo, OpenProblem, PayloadLocation, ReadResult, StatusInfo } from './backup.js';
import type { ManifestEntry, MBFile } from './manifest.js';

/** What the input is: shown by `info`, recorded in the case's evidence row. */
export type SourceKind = 'backup' | 'folder' | 'tar' | 'tgz' | 'zip' | 'clbx';

export const SOURCE_KIND_LABEL: Record<SourceKind, string> = {
  backup: 'iTunes/Finder backup',
  folder: 'file-system folder',
  tar: 'file-system tar archive',
  tgz: 'file-system tar.gz archive',
  zip: 'file-system zip archive',
  clbx: 'Cellebrite-style file-system zip (CLBX)',
};

export interface EvidenceSource {
  readonly kind: SourceKind;
  /** The evidence as given: the backup folder, the file-system folder, or the archive file. */
  readonly root: string;
  readonly problems: OpenProblem[];
  readonly info: DeviceInfo | null;
  readonly status: StatusInfo | null;
  readonly manifestPlist: Record<string, PlistValue> | null;
  readonly encrypted: boolean;
  readonly locked: boolean;
  /** SHA-256 of the source's own top-level files (a backup's plists and Manifest.db; an archive itself). */
  readonly topLevelHashes: Record<string, string>;
  readonly workDir: string;
  readonly iosVersion: string | null;
  /** What indexes the files: Manifest.db, Manifest.mbdb (iOS 5–9), or a file-system / archive listing. */
  readonly manifestName: string;
  allEntries(): readonly ManifestEntry[];
  get(domain: string, relativePath: string): ManifestEntry | undefined;
  find(domain: string, pattern: string): ManifestEntry[];
  isCurrent(entry: ManifestEntry): boolean;
  decode(entry: ManifestEntry): MBFile | null;
  decodeProblem(entry: ManifestEntry): string | null;
  locate(entry: ManifestEntry): PayloadLocation;
  payloadPath(entry: ManifestEntry): string | null;
  read(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult>;
  close(): void;
}
