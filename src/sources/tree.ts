// What a file-system folder and an archive of one have in common: an index of the tree (walked or streamed
// once), the domain table to answer get()/find() with backup-style entries (fileID = sha1(domain-relativePath)),
// and device facts read from the tree. Subclasses say how a file is located and copied out.
import fs from 'node:fs';
import { makeWorkDir } from '../workdir.js';
import { fileIdFor, globToRegExp, type DeviceInfo, type OpenProblem, type PayloadLocation, type ReadResult, type StatusInfo } from '../backup/backup.js';
import type { EvidenceSource, SourceKind } from '../backup/source.js';
import type { ManifestEntry, MBFile } from '../backup/manifest.js';
import { parsePlist, isDict, type PlistValue } from '../formats/plist.js';
import { CONTAINER_DOMAINS, CONTAINER_METADATA, DOMAIN_ROOTS, containerDirOf, containerPrefixOf, domainOf, domainRoot, fsPathFor } from './domains.js';

export class SourceError extends Error {}

/** One file (or link) of the evidence, as the index found it. */
export interface TreeFile {
  /** Where it is in the evidence: relative to the folder, or the member name in the archive ('/'-separated). */
  diskPath: string;
  /** Path from the file-system root (`private/var/mobile/…`); null when outside the tree (CLBX metadata…). */
  fsPath: string | null;
  size: number;
  /** Modification time, Unix seconds. */
  mtime: number | null;
  mode: number | null;
  kind: 'file' | 'symlink' | 'other';
  /** Why it is never read (a link out of the evidence, a `..` member name, a zip bomb…). */
  refused?: string;
  /** Archives: SHA-256 of the member's bytes, from the index pass. */
  sha256?: string;
  /** Recorded with the file: a duplicate member name, an absolute name… */
  note?: string;
}

/** A (domain, glob) an extractor reads: archives copy these out during their one pass. */
export interface WantedSpec {
  domain: string;
  path: string;
}

export interface SourceOptions {
  /** Files extractors will read; an archive copies them (and their -wal/-shm/-journal) out while it is indexed. */
  want?: WantedSpec[];
  /** Only the index is needed (`info`): archives skip hashing and copying members. */
  indexOnly?: boolean;
  /** Refuse an archive member larger than this (bytes), and one that inflates more than `maxRatio` times. */
  maxMemberBytes?: number;
  maxRatio?: number;
  /** Members inflating less than this are never called bombs, whatever their ratio (sparse files compress well). */
  ratioFloorBytes?: number;
}

export const SIDECARS = ['-wal', '-shm', '-journal'];
const SYSTEM_VERSION = 'System/Library/CoreServices/SystemVersion.plist';
const DATA_ARK = 'private/var/root/Library/Lockdown/data_ark.plist';

/** Regular expressions over fsPaths for the wanted specs (containers: any UUID folder of that kind). */
export function wantedMatcher(specs: WantedSpec[]): (fsPath: string) => boolean {
  const res: RegExp[] = [];
  for (const s of specs) {
    const glob = globToRegExp(s.path).source.slice(1, -1);
    const fixed = DOMAIN_ROOTS[s.domain];
    const container = CONTAINER_DOMAINS.find((c) => s.domain.startsWith(c.prefix));
    if (fixed) res.push(new RegExp(`^${reEscape(fixed)}/${glob}$`));
    else if (container) res.push(new RegExp(`^${reEscape(container.folder)}/[^/]+/${glob}$`));
  }
  res.push(new RegExp(`^(${reEscape(SYSTEM_VERSION)}|${reEscape(DATA_ARK)}|.*/${reEscape(CONTAINER_METADATA)})$`));
  const test = (p: string) => res.some((r) => r.test(p));
  return (p) => test(p) || SIDECARS.some((s) => p.endsWith(s) && test(p.slice(0, -s.length)));
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function str(v: PlistValue | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

export abstract class TreeSource implements EvidenceSource {
  readonly problems: OpenProblem[] = [];
  info: DeviceInfo | null = null;
  readonly status: StatusInfo | null = null;
  readonly manifestPlist: Record<string, PlistValue> | null = null;
  readonly encrypted = false;
  readonly locked = false;
  readonly topLevelHashes: Record<string, string> = {};
  readonly workDir: string;
  /** Every file and link of the evidence, in index order. */
  files: TreeFile[] = [];
  /** The folder (or member-name prefix) holding `private/var`, '' when at the top. */
  prefix = '';
  protected readonly byFsPath = new Map<string, TreeFile>();
  private readonly containers = new Map<string, string>(); // domain → container folder
  private readonly containerDomains = new Map<string, string>(); // container folder → domain
  private readonly entryCache = new Map<string, ManifestEntry>();
  private readonly fileOf = new WeakMap<ManifestEntry, TreeFile>();
  private canonical: ManifestEntry[] | null = null;

  protected constructor(
    readonly kind: SourceKind,
    readonly root: string,
  ) {
    this.workDir = makeWorkDir();
  }

  get iosVersion(): string | null {
    return this.info?.productVersion ?? null;
  }

  get manifestName(): string {
    return this.kind === 'folder' ? 'file-system listing' : 'archive index';
  }

  /** The bytes of a small file of the tree (plists), or null when absent or unreadable. */
  protected abstract readSmall(f: TreeFile): Buffer | null;
  abstract locate(entry: ManifestEntry): PayloadLocation;
  abstract read(entry: ManifestEntry, dest?: { dir: string; name: string }): Promise<ReadResult>;

  /** After the index: name each container by its metadata plist, read the device facts. */
  protected finishIndex(): void {
    for (const f of this.files) if (f.fsPath !== null && !this.byFsPath.has(f.fsPath)) this.byFsPath.set(f.fsPath, f);
    const unnamed: string[] = [];
    for (const f of this.byFsPath.values()) {
      if (!f.fsPath?.endsWith(`/${CONTAINER_METADATA}`)) continue;
      const dir = f.fsPath.slice(0, -CONTAINER_METADATA.length - 1);
      const prefix = containerDirOf(f.fsPath) === dir ? containerPrefixOf(dir) : null;
      if (!prefix) continue;
      const id = this.plistDict(f)?.MCMMetadataIdentifier;
      if (typeof id !== 'string' || !id || id.includes('/')) {
        unnamed.push(dir);
        continue;
      }
      this.containers.set(prefix + id, dir);
      this.containerDomains.set(dir, prefix + id);
    }
    if (unnamed.length)
      this.problems.push({
        file: unnamed[0],
        message: `${unnamed.length} container folder(s) have no readable MCMMetadataIdentifier; their files are listed under HomeDomain (Containers/…)`,
      });
    const sv = this.plistAt(SYSTEM_VERSION);
    const ark = this.plistAt(DATA_ARK);
    if (sv || ark) {
      this.info = {
        deviceName: str(ark?.['-DeviceName']) ?? str(ark?.DeviceName) ?? null,
        productType: str(ark?.['-ProductType']) ?? null,
        productVersion: str(sv?.ProductVersion) ?? null,
        buildVersion: str(sv?.ProductBuildVersion) ?? null,
        serialNumber: null,
        udid: null,
        imei: null,
        phoneNumber: null,
        lastBackupDate: null,
        iTunesVersion: null,
        installedApplications: null,
      };
    }
  }

  private plistAt(fsPath: string): Record<string, PlistValue> | null {
    const f = this.byFsPath.get(fsPath);
    return f ? this.plistDict(f) : null;
  }

  private plistDict(f: TreeFile): Record<string, PlistValue> | null {
    if (f.kind !== 'file' || f.refused || f.size > 1 << 20) return null;
    const data = this.readSmall(f);
    if (!data) return null;
    try {
      const v = parsePlist(data, f.diskPath);
      return isDict(v) ? v : null;
    } catch (e) {
      this.problems.push({ file: f.diskPath, message: (e as Error).message });
      return null;
    }
  }

  /** The canonical (domain, relativePath) of a tree file, as a backup would list it (null: no domain covers it). */
  domainOf(f: TreeFile): { domain: string; relativePath: string } | null {
    return f.fsPath === null ? null : domainOf(f.fsPath, this.containerDomains);
  }

  protected fileFor(entry: ManifestEntry): TreeFile | undefined {
    return this.fileOf.get(entry);
  }

  private entry(domain: string, relativePath: string, f: TreeFile): ManifestEntry {
    const key = `${domain}\0${relativePath}`;
    let e = this.entryCache.get(key);
    if (!e) {
      e = { fileID: fileIdFor(domain, relativePath), domain, relativePath, flags: f.kind === 'file' ? 1 : f.kind === 'symlink' ? 4 : 0, blob: null };
      this.entryCache.set(key, e);
      this.fileOf.set(e, f);
    }
    return e;
  }

  /** One entry per file a domain covers, under the domain a backup would use. */
  allEntries(): readonly ManifestEntry[] {
    if (!this.canonical) {
      this.canonical = [];
      for (const f of this.byFsPath.values()) {
        const d = this.domainOf(f);
        if (d) this.canonical.push(this.entry(d.domain, d.relativePath, f));
      }
    }
    return this.canonical;
  }

  get(domain: string, relativePath: string): ManifestEntry | undefined {
    const p = fsPathFor(domain, relativePath, this.containers);
    const f = p === null ? undefined : this.byFsPath.get(p);
    return f ? this.entry(domain, relativePath, f) : undefined;
  }

  find(domain: string, pattern: string): ManifestEntry[] {
    if (!pattern.includes('*')) {
      const e = this.get(domain, pattern);
      return e && e.flags === 1 ? [e] : [];
    }
    const root = domainRoot(domain, this.containers);
    if (root === null) return [];
    const re = globToRegExp(pattern);
    const out: ManifestEntry[] = [];
    for (const [p, f] of this.byFsPath) {
      if (f.kind !== 'file' || !p.startsWith(`${root}/`)) continue;
      const rel = p.slice(root.length + 1);
      if (re.test(rel)) out.push(this.entry(domain, rel, f));
    }
    return out;
  }

  isCurrent(): boolean {
    return true;
  }

  decode(entry: ManifestEntry): MBFile | null {
    const f = this.fileOf.get(entry);
    if (!f) return null;
    return { size: f.size, mode: f.mode, lastModified: f.mtime, lastStatusChange: null, birth: null, protectionClass: null, encryptionKey: null, target: null, inode: null };
  }

  decodeProblem(): string | null {
    return null;
  }

  payloadPath(entry: ManifestEntry): string | null {
    const l = this.locate(entry);
    if (l.status === 'unreadable') throw new SourceError(l.note ?? 'refused');
    return l.path;
  }

  /** Remove every working copy. The evidence is never touched. */
  close(): void {
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The tree path of a disk path once the prefix is known ('' prefix: the path itself). */
export function underPrefix(diskPath: string, prefix: string): string | null {
  if (!prefix) return diskPath;
  return diskPath.startsWith(`${prefix}/`) ? diskPath.slice(prefix.length + 1) : null;
}
