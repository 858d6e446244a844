/** ecsdb public API. Everything a user imports comes from here, and nothing else does. */
export { open, Database } from './db/database.js';
export type { OpenOptions, TransactOptions, Commit, Durability, ColumnsOf, SnapshotResult } from './db/database.js';
export type { WalOptions, SnapshotOptions, ArchiveSettings, EncryptionOptions } from './db/options.js';
export { rekey } from './crypto/rekey.js';
export type { RekeyOptions, RekeyResult } from './crypto/rekey.js';
export type { SyncMethod } from './config/types.js';
export type { ConfigReport, ConfigSetting, ConfigSource, ConfigChange } from './config/types.js';
export type { RecoveryReport, SnapshotRecoveryReport } from './recovery/recover.js';
export type { WalRecoveryReport, TornTailReport } from './recovery/recover-wal.js';
export type { Migration, OldWorld, SchemaMigrationReport } from './recovery/migrate.js';
export type { SnapshotEntry } from './snapshot/manifest.js';
export type { StateHashOptions } from './world/state-hash.js';
export { openAt } from './history/open-at.js';
export type { OpenAtOptions } from './history/open-at.js';
export type { HistoricalView, ViewSource } from './history/view.js';
export { diffViews } from './history/diff.js';
export type { StateDiff, EntityState, EntityChange, ComponentChange, ComponentValues, DiffOptions } from './history/diff.js';
export type { Transaction } from './txn/transaction.js';
export { defineComponent } from './schema/component.js';
export type { ComponentDef, ComponentValue, ComponentInput, ComponentColumns, FieldColumn, FieldsSpec } from './schema/component.js';
export { t } from './schema/types.js';
export type {
  Entity,
  FieldType,
  FieldValue,
  NumericKind,
  NumericFieldType,
  BoolFieldType,
  StringFieldType,
  EntityFieldType,
  ArrayFieldType,
} from './schema/types.js';
export { EcsdbError, isEcsdbError } from './errors.js';
export type { ErrorCode } from './errors.js';
