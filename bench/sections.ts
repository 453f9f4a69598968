// One line per bench section; each lives in its own file.
import type { BenchSection } from './types.js';
import { foundation } from './foundation.js';
import { decrypt } from './decrypt.js';
import { hashing } from './hashing.js';

export const SECTIONS: BenchSection[] = [foundation, decrypt, hashing];
