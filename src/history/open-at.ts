/**
 * Time travel: a read-only view of the world at any LSN the directory still retains, or at the
 * last commit made at or before a time.
 *
 * The view is built like recovery builds the world, but for a past LSN T and without changing
 * anything: the newest snapshot whose end LSN is at or before T (its whole base chain loaded),
 * then the retained WAL (archive and live segments) from its start LSN + 1 through T; without
 * such a snapshot, the WAL from LSN 1 when it still starts there. A snapshot is fuzzy, so one
 * that ends after T cannot be used even if it started before: it may hold changes made after T.
 *
 * No lock is taken and no file is written, cut or moved, so a view can be opened whether or not
 * a writer has the directory open, in this process (`db.at()`) or another one. The writer may
 * archive, prune or replace files meanwhile: a file that vanishes between listing and reading
 * makes the whole build start again (a few times) before it gives up; WAL after T, and a torn
 * tail the writer is still appending to, are never looked at.
 *
 * What lies outside retention (before the oldest reachable state, or after the last commit) is
 * OUT_OF_RETENTION, saying what is retained.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { fileStorage } from '../db/open-persistent.js';
import { epochAt, historyOf, readMeta, sameSchema, schemaOf, type DatabaseMeta, type SchemaEpoch } from '../meta/meta-file.js';
import { componentsOf } from '../schema/evolution.js';
import { componentsFor, schemaChangesAfter } from '../recovery/migrate.js';
import { readChain } from '../recovery/recover.js';
import type { AnyComponentDef } from '../schema/component.js';
import { SNAPSHOT_DIR_NAME } from '../snapshot/format.js';
import { readManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { loadSnapshot } from '../snapshot/snapshot-reader.js';
import type { Storage } from '../storage/storage.js';
import { ARCHIVE_DIR_NAME } from '../wal/archive.js';
import { World } from '../world/world.js';
import { VANISHED, lsnAtTime, replayLog, timeOfLsn, type LogDirs } from './log-reader.js';
import { HistoricalView } from './view.js';

export interface OpenAtOptions {
  /** The data directory. */
  readonly dir: string;
  /**
   * The component definitions of the schema the directory had at that point (after a schema
   * migration, a point before it needs the old definitions), or `'stored'`: definitions built
   * from the stored schema of that point, as the CLI does.
   */
  readonly components: readonly AnyComponentDef[] | 'stored';
  /** The view shows the world after this commit (0: before the first one). */
  readonly lsn?: number;
  /** Or: the world after the last commit whose recorded time is at or before this (ms since the epoch). */
  readonly timeMs?: number;
  /** The storage to read through (tests); default the real file system. */
  readonly storage?: Storage;
}

/** Builds attempted before giving up on files that keep vanishing under a busy writer. */
const ATTEMPTS_MAX = 4;

export async function openAt(options: OpenAtOptions): Promise<HistoricalView> {
  const { dir, components } = checkOptions(options);
  const storage = options.storage ?? fileStorage;
  const meta = await readMeta(storage, dir);
  if (meta === undefined) throw new EcsdbError('INVALID_ARGUMENT', `${dir} is not an ecsdb directory (no ecsdb.meta); nothing to travel back in`);
  if (components !== 'stored') new World(components); // duplicate names fail here, before any reading
  const dirs = { dir, walDir: join(dir, 'wal'), archiveDir: join(dir, ARCHIVE_DIR_NAME), snapshotsDir: join(dir, SNAPSHOT_DIR_NAME) };
  for (let attempt = 1; ; attempt++) {
    const lastAttempt = attempt >= ATTEMPTS_MAX;
    try {
      const lsn = options.lsn ?? (await lsnAtTime(storage, dirs, meta.databaseId, options.timeMs!));
      const view = await build(storage, dirs, meta, components, lsn, lastAttempt);
      if (view !== undefined) return view;
    } catch (error) {
      // A file that vanished is a writer archiving or pruning under us: list again.
      if (lastAttempt || !vanished(error)) throw error;
    }
  }
}

function checkOptions(options: OpenAtOptions): OpenAtOptions {
  if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
    throw new EcsdbError('INVALID_ARGUMENT', 'openAt() needs { dir, components, lsn } or { dir, components, timeMs }');
  }
  if (!Array.isArray(options.components) && options.components !== 'stored') {
    throw new EcsdbError('INVALID_ARGUMENT', "openAt(): `components` must be the array of component definitions given to open(), or 'stored'");
  }
  if ((options.lsn === undefined) === (options.timeMs === undefined)) {
    throw new EcsdbError('INVALID_ARGUMENT', 'openAt(): give exactly one of `lsn` (a commit) or `timeMs` (a time, ms since the epoch)');
  }
  if (options.lsn !== undefined && (!Number.isSafeInteger(options.lsn) || options.lsn < 0)) {
    throw new EcsdbError('INVALID_ARGUMENT', `openAt(): \`lsn\` must be a whole number >= 0, got ${String(options.lsn)}`);
  }
  if (options.timeMs !== undefined && !Number.isFinite(options.timeMs)) {
    throw new EcsdbError('INVALID_ARGUMENT', `openAt(): \`timeMs\` must be a time in ms since the epoch, got ${String(options.timeMs)}`);
  }
  return options;
}

interface Dirs extends LogDirs {
  readonly dir: string;
  readonly snapshotsDir: string;
}

/**
 * The view at `lsn` from the newest usable base; OUT_OF_RETENTION when none reaches it, or
 * undefined (build again) when a base failed only because a file vanished meanwhile.
 */
async function build(
  storage: Storage,
  dirs: Dirs,
  meta: DatabaseMeta,
  given: readonly AnyComponentDef[] | 'stored',
  lsn: number,
  lastAttempt: boolean,
): Promise<HistoricalView | undefined> {
  const history = historyOf(meta);
  const epoch = epochAt(history, lsn);
  const components = componentsAt(epoch, given);
  const entries = await snapshotEntries(storage, dirs.dir);
  const bases = entries.filter((entry) => entry.endLsn <= lsn).sort((a, b) => b.endLsn - a.endLsn);
  const skipped: string[] = [];
  let anyVanished = false;
  for (const base of [...bases, undefined]) {
    // The base is in the schema it was written in; replay converts the world at each later
    // schema change up to the target (the migration's own writes are its first record).
    const baseEpoch = base === undefined ? history[0] : epochAt(history, base.endLsn);
    const changes = schemaChangesAfter(history, baseEpoch, components).filter((change) => change.fromLsn <= lsn);
    let world = new World(componentsFor(baseEpoch.schema, components));
    try {
      let fromLsn = 1;
      if (base !== undefined) {
        const loaded = loadSnapshot(world, await readChain(storage, dirs.snapshotsDir, entries, base), meta.databaseId, baseEpoch.schema);
        fromLsn = loaded.header.startLsn + 1;
      }
      const range = await replayLog(storage, dirs, meta.databaseId, world, { fromLsn, throughLsn: lsn }, changes);
      world = range.world;
      if (range.lastLsn < lsn) throw afterTheEnd(dirs.dir, lsn, range.lastLsn);
      const recordsReplayed = Math.max(0, lsn - fromLsn + 1);
      // Nothing replayed (the snapshot ends at the LSN itself): look its time up on its own.
      const timeMs = range.timeMs ?? (lsn > 0 ? await timeOfLsn(storage, dirs, meta.databaseId, lsn) : undefined);
      return new HistoricalView(world, lsn, timeMs, { snapshot: base?.file, recordsReplayed });
    } catch (error) {
      if (!usableElsewhere(error)) throw error;
      anyVanished ||= vanished(error);
      skipped.push(`${base === undefined ? 'the WAL from LSN 1' : `snapshot ${base.file}`}: ${(error as Error).message}`);
    }
  }
  if (anyVanished && !lastAttempt) return undefined;
  const newer = entries.filter((entry) => entry.endLsn > lsn).map((entry) => entry.endLsn);
  throw new EcsdbError(
    'OUT_OF_RETENTION',
    `LSN ${lsn} of ${dirs.dir} is no longer retained: ${skipped.join('; ')}` +
      (newer.length > 0 ? `; the snapshots retained end at LSN ${newer.join(', ')}` : '') +
      '. Retain more archived WAL and snapshots (archive.segmentCountMax, archive.sizeBytesMax, snapshot.keep) to travel further back',
    { detail: 'before-retention' },
  );
}

/** The definitions a view at `epoch` is built with; SCHEMA_MISMATCH when the given ones differ. */
function componentsAt(epoch: SchemaEpoch, given: readonly AnyComponentDef[] | 'stored'): readonly AnyComponentDef[] {
  if (given === 'stored') return componentsOf(epoch.schema);
  if (sameSchema(epoch.schema, schemaOf(given))) return given;
  throw new EcsdbError(
    'SCHEMA_MISMATCH',
    `the world at that point is in schema version ${epoch.version} (from LSN ${epoch.fromLsn}), which the given components do not match; ` +
      "pass that version's component definitions, or components: 'stored'",
  );
}

function afterTheEnd(dir: string, lsn: number, lastLsn: number): EcsdbError {
  return new EcsdbError('OUT_OF_RETENTION', `LSN ${lsn} is after the end of the log of ${dir} (its last commit is LSN ${lastLsn})`, { detail: 'after-end' });
}

/** The published snapshots; a damaged MANIFEST leaves only the WAL from LSN 1 to build from. */
async function snapshotEntries(storage: Storage, dir: string): Promise<readonly SnapshotEntry[]> {
  try {
    return (await readManifest(storage, dir))?.snapshots ?? [];
  } catch (error) {
    if (error instanceof EcsdbError && error.code === 'CORRUPT_SNAPSHOT') return [];
    throw error;
  }
}

/** A failure an older base may avoid: a damaged or missing snapshot, or WAL no longer retained. */
function usableElsewhere(error: unknown): boolean {
  if (error instanceof EcsdbError) return error.code === 'CORRUPT_SNAPSHOT' || error.detail === 'wal-gap' || error.detail === VANISHED;
  return (error as { code?: unknown }).code === 'ENOENT';
}

/** A file that was listed (or named by the MANIFEST) was gone when read. */
function vanished(error: unknown): boolean {
  if (error instanceof EcsdbError) return error.detail === VANISHED;
  return (error as { code?: unknown }).code === 'ENOENT';
}
