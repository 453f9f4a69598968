import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file or folder shipped with the tool (templates/, fixtures/sample-backup), found from the package root
 * whether the code runs from src/ (tests) or dist/src/ (the built CLI). `marker` must exist inside it.
 */
export function packagePath(relative: string, marker: string): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    const p = path.join(dir, relative);
    if (fs.existsSync(path.join(p, marker))) return p;
  }
  return null;
}
