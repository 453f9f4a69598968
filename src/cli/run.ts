#!/usr/bin/env node
import { main } from './main.js';
import { installInterruptHandlers, sweepStaleWorkDirsOnce } from '../workdir.js';

// Ctrl-C / SIGTERM remove working copies and half-written files; a run killed with -9 is cleaned up here, at the
// next start (its working copies may hold decrypted evidence).
installInterruptHandlers();
const swept = sweepStaleWorkDirsOnce();
if (swept.removed.length) process.stderr.write(`removed ${swept.removed.length} working folder(s) left by an interrupted run (${swept.bytes} bytes)\n`);
main().then((code) => {
  process.exitCode = code;
});
