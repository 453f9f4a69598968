// Deleted-record recovery: the library API (see docs/recovery.md).
export { recoverDatabase, valueKey } from './engine.js';
export type { RecoveredRecord, RecoveryResult, RecoveryStats, RecoveryOptions, RecoverySource, RecoveryPlace, Confidence, CarveMode } from './types.js';
export { parseCreateTable, type TableSchema } from './schema.js';
