// The one table between backup domains and file-system paths. Forward (domain, relativePath) → path in the
// tree serves get() and find(); reverse (path → canonical domain) builds allEntries() and the evidence rows.
// Roots as in iLEAPP scripts/search_files.py (`domains`) and ../shared/IOS_FORMATS.md; several domains share
// private/var/mobile, so the reverse map picks the domain a backup would list the file under.

/** Fixed domains: where their relativePaths start in the tree. */
export const DOMAIN_ROOTS: Record<string, string> = {
  HomeDomain: 'private/var/mobile',
  CameraRollDomain: 'private/var/mobile', // its relativePaths start with Media/DCIM, Media/PhotoData
  MediaDomain: 'private/var/mobile', // Media/…, Library/SMS/Attachments/…
  HealthDomain: 'private/var/mobile/Library', // Health/healthdb.sqlite
  KeyboardDomain: 'private/var/mobile',
  TonesDomain: 'private/var/mobile',
  HomeKitDomain: 'private/var/mobile',
  RootDomain: 'private/var/root',
  WirelessDomain: 'private/var/wireless',
  SystemPreferencesDomain: 'private/var/preferences',
  DatabaseDomain: 'private/var/db',
  KeychainDomain: 'private/var/protected/trustd/private',
  ManagedPreferencesDomain: 'private/var/Managed Preferences',
};

/** Container domains: `<prefix><identifier>` lives in `<folder>/<UUID>`, named by the container's metadata plist. */
export const CONTAINER_DOMAINS: { prefix: string; folder: string }[] = [
  { prefix: 'AppDomain-', folder: 'private/var/mobile/Containers/Data/Application' },
  { prefix: 'AppDomainGroup-', folder: 'private/var/mobile/Containers/Shared/AppGroup' },
  { prefix: 'AppDomainPlugin-', folder: 'private/var/mobile/Containers/Data/PluginKitPlugin' },
  { prefix: 'SysContainerDomain-', folder: 'private/var/containers/Data/System' },
  { prefix: 'SysSharedContainerDomain-', folder: 'private/var/containers/Shared/SystemGroup' },
];

/** Inside each container folder: its identifier under MCMMetadataIdentifier. */
export const CONTAINER_METADATA = '.com.apple.mobile_container_manager.metadata.plist';

/** The folder that tells a file-system tree: found under any prefix. */
export const FS_MARKER = 'private/var/mobile';

/** Under private/var/mobile, which domain a backup lists a path under (first match wins; else HomeDomain). */
const MOBILE_RULES: { re: RegExp; domain: string }[] = [
  { re: /^Media\/(DCIM|PhotoData)(\/|$)/, domain: 'CameraRollDomain' },
  { re: /^Library\/SMS\/Attachments(\/|$)/, domain: 'MediaDomain' },
  { re: /^Media(\/|$)/, domain: 'MediaDomain' },
  { re: /^Library\/Health(\/|$)/, domain: 'HealthDomain' },
];

/** The container folder (`<folder>/<UUID>`) a path sits in, if any. */
export function containerDirOf(fsPath: string): string | null {
  for (const c of CONTAINER_DOMAINS) {
    if (!fsPath.startsWith(`${c.folder}/`)) continue;
    const uuid = fsPath.slice(c.folder.length + 1).split('/')[0];
    return uuid ? `${c.folder}/${uuid}` : null;
  }
  return null;
}

/** The domain prefix for a container folder path (`AppDomain-` for Containers/Data/Application/<UUID>). */
export function containerPrefixOf(containerDir: string): string | null {
  return CONTAINER_DOMAINS.find((c) => containerDir.startsWith(`${c.folder}/`))?.prefix ?? null;
}

/**
 * Where (domain, relativePath) sits in the tree, or null for a domain the table does not know.
 * `containers` maps container domains (`AppDomain-com.foo`) to their folder.
 */
export function fsPathFor(domain: string, relativePath: string, containers: ReadonlyMap<string, string>): string | null {
  const root = DOMAIN_ROOTS[domain] ?? containers.get(domain);
  if (!root) return null;
  return relativePath ? `${root}/${relativePath}` : root;
}

/** The folder a domain's relativePaths start in (null when unknown). */
export function domainRoot(domain: string, containers: ReadonlyMap<string, string>): string | null {
  return DOMAIN_ROOTS[domain] ?? containers.get(domain) ?? null;
}

/**
 * The canonical (domain, relativePath) of a path in the tree, or null when no domain covers it (the system
 * volume, app bundles…). `containerDomains` maps a container folder to its domain.
 */
export function domainOf(fsPath: string, containerDomains: ReadonlyMap<string, string>): { domain: string; relativePath: string } | null {
  const dir = containerDirOf(fsPath);
  if (dir) {
    const domain = containerDomains.get(dir);
    if (domain) return { domain, relativePath: fsPath.slice(dir.length + 1) };
  }
  const mobile = `${DOMAIN_ROOTS.HomeDomain}/`;
  if (fsPath.startsWith(mobile)) {
    const rel = fsPath.slice(mobile.length);
    const rule = MOBILE_RULES.find((r) => r.re.test(rel));
    if (rule?.domain === 'HealthDomain') return { domain: 'HealthDomain', relativePath: rel.slice('Library/'.length) };
    return { domain: rule?.domain ?? 'HomeDomain', relativePath: rel };
  }
  for (const [domain, root] of Object.entries(DOMAIN_ROOTS)) {
    if (root !== DOMAIN_ROOTS.HomeDomain && fsPath.startsWith(`${root}/`)) return { domain, relativePath: fsPath.slice(root.length + 1) };
  }
  return null;
}
