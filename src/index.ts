// The library: what the CLI does, callable from code. `ingest()` runs the same pipeline as `ios-timeline ingest`
// (hash pass, extractors, digest, custody); everything else reads the case file it writes.
export { ingest, type IngestOptions, type IngestResult } from './pipeline/ingest.js';
export { CaseFile, EVENT_COLUMNS, type EventInput } from './timeline/caseFile.js';
export { iterateEvents, countEvents, buildFilter, devicesOf, resolveDevices, type EventFilter, type EventRow, type DeviceRow } from './timeline/query.js';
export { EXTRACTORS, KINDS } from './extractors/registry.js';
export type { Extractor, ExtractorContext, KindDescriptor } from './extractors/types.js';
export { Backup, BackupError, findBackupRoot, fileIdFor } from './backup/backup.js';
export type { EvidenceSource, SourceKind } from './backup/source.js';
export { openEvidence, evidenceRoot } from './sources/open.js';
export { exportEvents, type ExportFormat } from './report/exports.js';
export { exportTimesketch, type TimesketchResult } from './report/timesketch.js';
export { buildReportModel } from './report/viewModel.js';
export { loadTemplates, writeReportHtml } from './report/html.js';
export { writeReportPdf, NoBrowserError } from './report/pdf.js';
export { writeOutputManifest } from './custody/outputs.js';
export { verifyCase, verifyBackup, verifyOutputs, type VerifyReport } from './custody/verify.js';
export { TOOL_VERSION } from './version.js';
