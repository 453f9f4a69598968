// verify: re-hash what is there and say exactly what differs; one module per target in verify/.
//   case file      verify/case.ts      custody chain, heads sidecar, content digests
//   backup folder  verify/backup.ts    every evidence file against the case's `files` rows, plus the case
//   output folder  verify/outputs.ts   every output against manifest.json, SHA256SUMS, the signature
// Nothing here writes: the evidence and the case file are opened read-only.
export type { Problem, VerifyKind, VerifyReport } from './verify/common.js';
export { verifyCase, latestIngestDigest } from './verify/case.js';
export { verifyBackup } from './verify/backup.js';
export { verifyOutputs } from './verify/outputs.js';
