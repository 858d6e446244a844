/**
 * Opening a database directory: lock, identity and schema, WAL replay, then the writer.
 *
 * Directory layout:
 *   <dir>/LOCK               the exclusive lock (see storage/dir-lock.ts)
 *   <dir>/ecsdb.meta         identity and schema (see meta/meta-file.ts)
 *   <dir>/MANIFEST           the published snapshots (see snapshot/manifest.ts)
 *   <dir>/snapshots/*.snap   snapshots (see snapshot/format.ts)
 *   <dir>/wal/*.wal          WAL segments (see wal/format.ts)
 *   <dir>/archive/*.wal[.deflate]  WAL segments covered by a snapshot (see wal/archive.ts)
 *
 * If anything fails before the writer exists, the lock is released and the directory is left as
 * it was (apart from creating it, its wal/ folder and the meta file of a brand-new database).
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { checkSchemaMatches, newMeta, readMeta, writeMeta } from '../meta/meta-file.js';
import { listSegments } from '../recovery/recover-wal.js';
import { recoverDatabase, type RecoveryReport } from '../recovery/recover.js';
import { SNAPSHOT_DIR_NAME } from '../snapshot/format.js';
import { Snapshotter } from '../snapshot/snapshotter.js';
import { ARCHIVE_DIR_NAME } from '../wal/archive.js';
import { io } from '../storage/io.js';
import { acquireDirectoryLock, type DirectoryLock } from '../storage/dir-lock.js';
import { FileStorage } from '../storage/file-storage.js';
import type { Storage } from '../storage/storage.js';
import { WalWriter } from '../wal/wal-writer.js';
import type { World } from '../world/world.js';
import type { OpenOptions, ResolvedArchiveOptions, ResolvedSnapshotOptions, ResolvedWalOptions } from './options.js';

export const WAL_DIR_NAME = 'wal';

/** One real-file-system storage per process, so the in-process lock registry sees every open. */
export const fileStorage = new FileStorage();

/** The effective settings (src/config/), resolved by open(). */
export interface PersistentSettings {
  /** Absolute. */
  readonly dir: string;
  readonly wal: ResolvedWalOptions;
  readonly snapshot: ResolvedSnapshotOptions;
  readonly archive: ResolvedArchiveOptions;
}

/** Archive retention, shared with the snapshotter, which reads it at each archival. */
export type MutableArchiveOptions = { -readonly [K in keyof ResolvedArchiveOptions]: ResolvedArchiveOptions[K] };

export interface PersistentParts {
  readonly world: World;
  readonly wal: WalWriter;
  readonly snapshotter: Snapshotter;
  readonly lock: DirectoryLock;
  readonly recovery: RecoveryReport;
  readonly dir: string;
  /** db.configure() changes retention by changing this object in place. */
  readonly archive: MutableArchiveOptions;
}

export async function openPersistent(options: OpenOptions, settings: PersistentSettings): Promise<PersistentParts> {
  const storage: Storage = options.storage ?? fileStorage;
  const now = options.now ?? Date.now;
  const walOptions = settings.wal;
  // Copies: the snapshotter changes its policy in place (setPolicy), db.configure the archive.
  const policy = { ...settings.snapshot };
  const archive: MutableArchiveOptions = { ...settings.archive };
  const dir = settings.dir;
  await io(() => storage.mkdir(dir), `creating ${dir}`);
  const lock = await io(() => acquireDirectoryLock(storage, dir), `locking ${dir}`);
  try {
    const dirs = { dir, walDir: join(dir, WAL_DIR_NAME), archiveDir: join(dir, ARCHIVE_DIR_NAME), snapshotsDir: join(dir, SNAPSHOT_DIR_NAME) };
    let meta = await io(() => readMeta(storage, dir), `reading ${dir}`);
    const created = meta === undefined;
    if (meta === undefined) {
      if ((await io(() => storage.stat(dirs.walDir), `reading ${dirs.walDir}`)) !== undefined && (await listSegments(storage, dirs.walDir)).length > 0) {
        throw new EcsdbError('CORRUPT_WAL', `${dir} has WAL segments but no ecsdb.meta file; it is damaged or not an ecsdb directory`);
      }
      meta = newMeta(options.components, now());
      await io(() => storage.mkdir(dirs.walDir), `creating ${dirs.walDir}`);
      // The meta file's rename is made durable by a directory fsync that also covers wal/.
      await io(() => writeMeta(storage, dir, meta!), `creating ${dir}`);
    } else {
      checkSchemaMatches(meta.schema, options.components);
      await io(() => storage.mkdir(dirs.walDir), `creating ${dirs.walDir}`);
    }
    const databaseId = meta.databaseId;
    const recovered = await io(() => recoverDatabase(storage, dirs, meta!, options.components, created, now), `recovering ${dir}`);
    const { syncMethod, ...walLimits } = walOptions;
    const syncEachWrite = syncMethod === 'dsync';
    const wal = await io(
      () => WalWriter.open({ storage, walDir: dirs.walDir, databaseId, now, ...walLimits, syncEachWrite }, recovered.tail),
      `opening the WAL in ${dirs.walDir}`,
    );
    const source = { world: recovered.world, schema: meta.schema, currentLsn: () => wal.lastLsn, makeDurable: () => wal.flush() };
    const snapshotter = new Snapshotter(
      source,
      { storage, ...dirs, databaseId, now, policy, archive, walBytesWritten: () => wal.bytesAppended },
      recovered.manifest,
    );
    return { world: recovered.world, wal, snapshotter, lock, dir, recovery: recovered.report, archive };
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}
