// One line per bench section; each lives in its own file.
import type { BenchSection } from './types.js';
import { foundation } from './foundation.js';

export const SECTIONS: BenchSection[] = [foundation];
