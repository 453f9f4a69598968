// The fonts a PDF needs to print every script the evidence may hold: without them Chromium prints emoji and
// CJK text as empty boxes ("I can bring snacks □"). Checked through fontconfig, which Chromium uses on Linux.
import { spawnSync } from 'node:child_process';

/** Families the report's CSS asks for, and the Debian package that provides each. */
export const REPORT_FONTS: { family: string; pkg: string; covers: string }[] = [
  { family: 'Noto Sans', pkg: 'fonts-noto-core', covers: 'Latin, Greek, Cyrillic, Arabic, Hebrew…' },
  { family: 'Noto Sans CJK', pkg: 'fonts-noto-cjk', covers: 'Chinese, Japanese, Korean' },
  { family: 'Noto Color Emoji', pkg: 'fonts-noto-color-emoji', covers: 'emoji' },
];

/** The report fonts fontconfig cannot find; null when fontconfig is not there to ask (not Linux, say). */
export function missingReportFonts(): { family: string; pkg: string; covers: string }[] | null {
  const r = spawnSync('fc-list', [':', 'family'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return null;
  const families = r.stdout.toLowerCase();
  return REPORT_FONTS.filter((f) => !families.includes(f.family.toLowerCase()));
}
