// One line per bench section; each lives in its own file.
import type { BenchSection } from './types.js';
import { foundation } from './foundation.js';
import { photosBench } from './photos.js';
import { decrypt } from './decrypt.js';
import { hashing } from './hashing.js';
import { messagesBench } from './messages.js';
import { report } from './report.js';
import { artifactsBench } from './artifacts.js';
import { artifactsBBench } from './artifactsB.js';
import { recoveryBench } from './recoverySection.js';
import { archivesBench } from './archives.js';
import { mediaBench } from './media.js';
import { serveBench } from './serve.js';
import { exportBench } from './exportSection.js';
import { realShapedBench } from './realShaped.js';

export const SECTIONS: BenchSection[] = [
  foundation,
  decrypt,
  hashing,
  photosBench,
  messagesBench,
  report,
  artifactsBench,
  artifactsBBench,
  recoveryBench,
  mediaBench,
  archivesBench,
  serveBench,
  exportBench,
  realShapedBench,
];
