/**
 * The one error class ecsdb throws for everything the outside world can cause: bad input,
 * misuse of the API, I/O failures and damaged files. Each carries a stable string `code` that
 * programs can switch on; the message says what happened, where, and what to do.
 *
 * Bugs inside ecsdb are not EcsdbErrors: they are assertion failures (see assert.ts).
 */
export type ErrorCode =
  | 'ASYNC_TRANSACTION'
  | 'COMPONENT_EXISTS'
  | 'COMPONENT_MISSING'
  | 'CONFIG_INVALID'
  | 'CORRUPT_SNAPSHOT'
  | 'CORRUPT_WAL'
  | 'DB_CLOSED'
  | 'DB_LOCKED'
  | 'DATABASE_MISMATCH'
  | 'DUPLICATE_COMPONENT'
  | 'FORMAT_VERSION_UNSUPPORTED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_SCHEMA'
  | 'INVALID_VALUE'
  | 'IO_FAILED'
  | 'MIGRATION_FAILED'
  | 'NESTED_TRANSACTION'
  | 'NO_SUCH_ENTITY'
  | 'OUT_OF_RETENTION'
  | 'SCHEMA_MISMATCH'
  | 'TOO_MANY_ENTITIES'
  | 'TRANSACTION_CLOSED'
  | 'UNKNOWN_COMPONENT'
  | 'UNKNOWN_FIELD';

export class EcsdbError extends Error {
  readonly code: ErrorCode;
  /** A finer, stable distinction within a code where one matters (e.g. 'wal-gap' in CORRUPT_WAL). */
  readonly detail: string | undefined;
  /**
   * For damage found in a file of a data directory: the file, relative to the directory
   * (`ecsdb.meta`, `MANIFEST`, `snapshots/<E>.snap`, `wal/<first LSN>.wal`,
   * `archive/<first LSN>.wal[.deflate]`). The message names it too; this is for programs.
   */
  readonly file: string | undefined;
  /**
   * With `file`: the byte offset of the damage in it (for a compressed archived segment, in its
   * inflated bytes; 0 when it cannot be inflated at all).
   */
  readonly offset: number | undefined;

  constructor(code: ErrorCode, message: string, options?: EcsdbErrorOptions) {
    super(message, options);
    this.name = 'EcsdbError';
    this.code = code;
    this.detail = options?.detail;
    this.file = options?.file;
    this.offset = options?.offset;
  }
}

export interface EcsdbErrorOptions {
  readonly cause?: unknown;
  readonly detail?: string;
  /** See EcsdbError.file. */
  readonly file?: string;
  /** See EcsdbError.offset. */
  readonly offset?: number;
}

/** True when `error` is an EcsdbError, optionally with the given code. */
export function isEcsdbError(error: unknown, code?: ErrorCode): error is EcsdbError {
  return error instanceof EcsdbError && (code === undefined || error.code === code);
}
