// After each test file: its temporary folders go (see removeTmpDirs in helpers.ts).
import { afterAll } from 'vitest';
import { removeTmpDirs } from './helpers.js';

afterAll(() => removeTmpDirs());
