#!/usr/bin/env node
// One-time setup for PDF reports: make sure a Chromium exists for puppeteer.
// Skipped when a browser is already there (PUPPETEER_EXECUTABLE_PATH, Debian's chromium, or
// puppeteer's own download). On Debian/Ubuntu as root (or with sudo) it installs Debian's chromium
// and fonts with apt-get; elsewhere it downloads puppeteer's Chrome; where neither works it says so in
// one line, and the tool still runs (HTML reports and exports need no browser).
import fs from 'node:fs';
import { execSync, spawnSync } from 'node:child_process';

const candidates = [process.env.PUPPETEER_EXECUTABLE_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(Boolean);
const found = candidates.find((p) => fs.existsSync(p));
/** Emoji and non-Latin scripts print as empty boxes without these (the report checks them again at PDF time). */
const FONT_PKGS = { 'Noto Sans': 'fonts-noto-core', 'Noto Sans CJK': 'fonts-noto-cjk', 'Noto Color Emoji': 'fonts-noto-color-emoji' };
function missingFonts() {
  const r = spawnSync('fc-list', [':', 'family'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const have = r.stdout.toLowerCase();
  return Object.entries(FONT_PKGS)
    .filter(([family]) => !have.includes(family.toLowerCase()))
    .map(([, pkg]) => pkg);
}
if (found) {
  const fonts = missingFonts();
  if (!fonts.length) {
    console.error(`setup: browser found at ${found}, report fonts present; nothing to install`);
    process.exit(0);
  }
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!apt || !root) {
    console.error(`setup: browser found at ${found}, but fonts are missing (${fonts.join(' ')}): emoji and non-Latin text will print as boxes in PDFs`);
    process.exit(0);
  }
  console.error(`setup: installing the report fonts: apt-get install -y ${fonts.join(' ')}`);
  try {
    execSync(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${fonts.join(' ')}`, { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    console.error('setup: could not install the fonts; emoji and non-Latin text will print as boxes in PDFs');
  }
  process.exit(0);
}
try {
  const { executablePath } = await import('puppeteer');
  const p = executablePath();
  if (p && fs.existsSync(p)) {
    console.error(`setup: puppeteer's browser found at ${p}; nothing to install`);
    process.exit(0);
  }
} catch {
  /* puppeteer has no browser of its own here */
}

const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid?.() === 0;
const hasSudo = !isRoot && spawnSync('sh', ['-c', 'command -v sudo && sudo -n true'], { stdio: 'ignore' }).status === 0;
if (!hasApt || (!isRoot && !hasSudo)) {
  // Not Debian/Ubuntu with root: try puppeteer's own Chrome (needs internet).
  console.error("setup: no Chromium found; downloading puppeteer's Chrome for PDF reports (npx puppeteer browsers install chrome)");
  const r = spawnSync('npx', ['--no-install', 'puppeteer', 'browsers', 'install', 'chrome'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0)
    console.error('setup: no browser could be had; PDF reports will be skipped (Debian/Ubuntu: sudo apt-get install chromium). HTML reports and exports work without it.');
  process.exit(0);
}
const sudo = isRoot ? '' : 'sudo ';
const pkgs = 'chromium poppler-utils fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji';
console.error(`setup: installing Debian's Chromium for PDF reports: ${sudo}apt-get install -y ${pkgs}`);
try {
  execSync(`${sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y -qq ${pkgs}`, { stdio: ['ignore', 'ignore', 'inherit'] });
  console.error('setup: Chromium installed');
} catch {
  console.error('setup: could not install Chromium with apt-get; PDF reports will be skipped (HTML reports and exports still work).');
}
