/**
 * What every `ecsdb` command shares: finding the data directory (`--dir`, else `[storage] dir`
 * of the configuration file / environment, as `open()` resolves it), building component
 * definitions from the stored schema (the CLI runs without the application's code), and the
 * failure type that carries an exit status.
 */
import { join, resolve } from 'node:path';
import { EcsdbError } from '../errors.js';
import { resolveConfig, storageSettings } from '../config/resolve.js';
import { WAL_DIR_NAME, fileStorage } from '../db/open-persistent.js';
import { open, type Database } from '../db/database.js';
import { epochAt, historyOf, readMeta, type DatabaseMeta, type SchemaEpoch } from '../meta/meta-file.js';
import { recoverDatabase } from '../recovery/recover.js';
import { readManifest } from '../snapshot/manifest.js';
import { SNAPSHOT_DIR_NAME } from '../snapshot/format.js';
import { ARCHIVE_DIR_NAME, COMPRESSED_SUFFIX } from '../wal/archive.js';
import { parseSegmentFileName } from '../wal/format.js';
import type { AnyComponentDef } from '../schema/component.js';
import { componentsOf } from '../schema/evolution.js';

export { WAL_DIR_NAME };

/** Exit statuses of the command line. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure with its exit status and a one-line message for stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface CommonOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly json?: boolean;
}

/** The data directory, absolute: `--dir`, else the configuration's `storage.dir`. */
export async function resolveDir(command: string, options: CommonOptions, cwd: string = process.cwd()): Promise<string> {
  if (options.dir !== undefined) {
    if (options.dir === '') throw new CliError(`ecsdb ${command}: --dir needs a path`, EXIT_USAGE);
    return resolve(cwd, options.dir);
  }
  const config = await resolveConfig({ options: options.config === undefined ? {} : { config: options.config }, env: process.env, cwd, storage: fileStorage });
  const { dir } = storageSettings(config);
  if (dir === undefined) {
    throw new CliError(`ecsdb ${command}: --dir <path> is required (or set [storage] dir in the configuration file, or ECSDB_STORAGE_DIR)`, EXIT_USAGE);
  }
  return resolve(cwd, dir);
}

/** The meta file, or a failure saying the directory is not a database. */
export async function requireMeta(dir: string): Promise<DatabaseMeta> {
  const meta = await readMeta(fileStorage, dir);
  if (meta === undefined) throw new EcsdbError('INVALID_ARGUMENT', `${dir} is not an ecsdb directory (no ecsdb.meta)`);
  return meta;
}

/** Component definitions equal to the stored schema, in its order. */
export { componentsOf };

/**
 * Opens the database in `dir` with the stored schema and version (takes the lock: DB_LOCKED when
 * in use; recovers). Settings other than the directory come from the configuration as for
 * `open()`.
 */
export async function openStored(dir: string, options: CommonOptions): Promise<{ db: Database; components: AnyComponentDef[] }> {
  const meta = await requireMeta(dir);
  const epoch = await effectiveEpoch(dir, meta);
  const components = componentsOf(epoch.schema);
  const config = options.config === undefined ? {} : { config: options.config };
  const db = await open({ dir, components, schemaVersion: epoch.version, durability: 'buffered', ...config });
  return { db, components };
}

/**
 * The schema epoch the directory's data is in. After a migration the last epoch may be pending
 * (a crash, or `restore --lsn`, left the log before its migration record); its migrations belong
 * to the application, so the CLI must not finish it: it opens with the epoch before, which
 * drops the pending one (the application migrates again at its next open). Whether the last
 * epoch is complete takes reading the log, unless a published snapshot is already past its start.
 */
async function effectiveEpoch(dir: string, meta: DatabaseMeta): Promise<SchemaEpoch> {
  const history = historyOf(meta);
  const last = history[history.length - 1];
  if (history.length === 1) return last;
  const snapshots = (await readManifest(fileStorage, dir).catch(() => undefined))?.snapshots ?? [];
  if (snapshots.some((entry) => entry.endLsn >= last.fromLsn)) return last;
  const dirs = { dir, walDir: join(dir, WAL_DIR_NAME), archiveDir: join(dir, ARCHIVE_DIR_NAME), snapshotsDir: join(dir, SNAPSHOT_DIR_NAME) };
  // Read only: recovery changes nothing on disk (open() cuts a torn tail afterwards).
  const { tail } = await recoverDatabase(fileStorage, dirs, meta, componentsOf(last.schema), false, Date.now);
  return epochAt(history, tail.lastLsn);
}

/** Plain JSON-able copy of a component value (typed arrays become arrays). */
export function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) out[key] = plain(field);
    return out;
  }
  return value;
}

/** One file of a WAL segment, live (`wal/`) or archived (`archive/`, maybe `.deflate`). */
export interface SegmentFile {
  /** Path relative to the data directory, e.g. `archive/00000000000000000101.wal.deflate`. */
  readonly relative: string;
  readonly path: string;
  /** The directory holding it (to fsync after a rename). */
  readonly parent: string;
  readonly firstLsn: number;
  readonly archived: boolean;
}

/**
 * Every file of every WAL segment, newest first. Unlike listAllSegments, which gives the one
 * copy of each segment recovery reads (a live one before an archived one), this also lists the
 * copies it shadows: what an interrupted archival or restore can leave behind, and what a
 * command that removes a segment must remove too, or a stale copy could be read later.
 */
export async function listSegmentFiles(dir: string): Promise<SegmentFile[]> {
  const files: SegmentFile[] = [];
  for (const [folder, archived] of [
    [WAL_DIR_NAME, false],
    [ARCHIVE_DIR_NAME, true],
  ] as const) {
    const parent = join(dir, folder);
    if ((await fileStorage.stat(parent)) === undefined) continue;
    for (const name of await fileStorage.list(parent)) {
      const firstLsn = parseSegmentFileName(archived && name.endsWith(COMPRESSED_SUFFIX) ? name.slice(0, -COMPRESSED_SUFFIX.length) : name);
      if (firstLsn !== undefined) files.push({ relative: `${folder}/${name}`, path: join(parent, name), parent, firstLsn, archived });
    }
  }
  return files.sort((a, b) => b.firstLsn - a.firstLsn || a.relative.localeCompare(b.relative));
}

/**
 * The index of the segment recovery starts reading at to replay from `fromLsn`: the last one
 * that starts at or before it (0 when none does; segments sorted by first LSN).
 */
export function indexOfSegmentHolding(segments: readonly { firstLsn: number }[], fromLsn: number): number {
  let index = 0;
  while (index + 1 < segments.length && segments[index + 1].firstLsn <= fromLsn) index++;
  return index;
}
