// Deleted-record recovery: the library API (see docs/recovery.md).
import type { RecoveredRecord } from './types.js';

export { recoverDatabase, valueKey } from './engine.js';
export type { RecoveredRecord, RecoveryResult, RecoveryStats, RecoveryOptions, RecoverySource, RecoveryPlace, Confidence, CarveMode } from './types.js';
export { parseCreateTable, type TableSchema } from './schema.js';
export {
  recentlyDeleted,
  deletedGuids,
  findRowidGaps,
  messageRowidGaps,
  callRowidGaps,
  recoveredToEventFields,
  type RecentlyDeletedMessage,
  type RecentlyDeletedPart,
  type DeletedGuid,
  type DeletedGuidTable,
  type RowidGap,
  type GapReport,
  type RecoveredEventFields,
} from './messages.js';

/**
 * The case-file columns of a recovered record's event: `recovered` = 1, `recovered_from` = the best source
 * (e.g. "wal-frame", "freeblock") with every place in `extra`, `confidence` = high / medium / low.
 */
export function caseFileColumns(rec: RecoveredRecord): { recovered: 1; recovered_from: string; confidence: string; recovered_json: string } {
  return {
    recovered: 1,
    recovered_from: rec.source,
    confidence: rec.confidence,
    recovered_json: JSON.stringify({
      rowidFrom: rec.rowidFrom,
      olderVersionOf: rec.olderVersionOf === undefined ? undefined : String(rec.olderVersionOf),
      bracket: rec.bracket,
      truncated: rec.truncated,
      columnsPresent: rec.columnsPresent,
      where: rec.where,
    }),
  };
}
