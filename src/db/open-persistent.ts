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
 * it was (apart from creating it, its wal/ folder and the meta file of a brand-new database):
 * recovery only reads, and the decision whether the application's components may open the
 * stored data (recovery/migrate.ts) comes before the first change (cutting a torn tail).
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { META_FILE_NAME, historyOf, newMeta, readMeta, schemaOf, withHistory, writeMeta, type DatabaseMeta } from '../meta/meta-file.js';
import { cutTornTail, listSegments } from '../recovery/recover-wal.js';
import { recoverDatabase, type Recovered, type RecoveryDirs, type RecoveryReport } from '../recovery/recover.js';
import { checkEvolutionOptions, decideOpen, migrateWorld, type MigratedWorld } from '../recovery/migrate.js';
import type { DataCipher } from '../crypto/cipher.js';
import { createEncryption, type KeySource } from '../crypto/keys.js';
import { sealMeta, unlockMeta } from '../crypto/meta-seal.js';
import { finishPendingRekey } from '../crypto/rekey-commit.js';
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
  /** The configured key (src/crypto/key-config.ts); undefined: no encryption. */
  readonly keySource?: KeySource;
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
  readonly storage: Storage;
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
  const schemaVersion = checkEvolutionOptions(options.schemaVersion, options.migrations);
  await io(() => storage.mkdir(dir), `creating ${dir}`);
  const lock = await io(() => acquireDirectoryLock(storage, dir), `locking ${dir}`);
  try {
    const dirs = { dir, walDir: join(dir, WAL_DIR_NAME), archiveDir: join(dir, ARCHIVE_DIR_NAME), snapshotsDir: join(dir, SNAPSHOT_DIR_NAME) };
    let meta = await io(() => readMeta(storage, dir), `reading ${dir}`);
    const created = meta === undefined;
    let cipher: DataCipher | undefined;
    if (meta !== undefined) {
      // The key is checked against the meta file first: a missing or wrong key changes nothing.
      ({ meta, cipher } = await unlockMeta(meta, settings.keySource, dir));
    }
    if (meta === undefined) {
      if ((await io(() => storage.stat(dirs.walDir), `reading ${dirs.walDir}`)) !== undefined && (await listSegments(storage, dirs.walDir)).length > 0) {
        throw new EcsdbError('CORRUPT_WAL', `${dir} has WAL segments but no ecsdb.meta file; it is damaged or not an ecsdb directory`, {
          file: META_FILE_NAME,
          offset: 0,
        });
      }
      meta = newMeta(options.components, now(), schemaVersion);
      const encryption = settings.keySource === undefined ? undefined : await createEncryption(settings.keySource, meta.databaseId);
      cipher = encryption?.cipher;
      const stored = encryption === undefined ? meta : sealMeta(meta, encryption.stored, encryption.cipher);
      await io(() => storage.mkdir(dirs.walDir), `creating ${dirs.walDir}`);
      // The meta file's rename is made durable by a directory fsync that also covers wal/.
      await io(() => writeMeta(storage, dir, stored), `creating ${dir}`);
    } else {
      // A key rotation that committed (new meta file in place) but did not move all its files yet.
      await io(() => finishPendingRekey(storage, dir), `finishing the key rotation in ${dir}`);
      await io(() => storage.mkdir(dirs.walDir), `creating ${dirs.walDir}`);
    }
    const recovered = await io(() => recoverDatabase(storage, dirs, meta!, options.components, created, now, cipher), `recovering ${dir}`);
    const opened = await settleSchema(storage, dirs, meta, recovered, options, schemaVersion, cipher);
    meta = opened.meta;
    const databaseId = meta.databaseId;
    const { syncMethod, ...walLimits } = walOptions;
    const syncEachWrite = syncMethod === 'dsync';
    const wal = await io(
      () => WalWriter.open({ storage, walDir: dirs.walDir, databaseId, now, ...walLimits, syncEachWrite, cipher }, recovered.tail),
      `opening the WAL in ${dirs.walDir}`,
    );
    let report = recovered.report;
    if (opened.migration !== undefined) {
      // The migration record, first of the new schema epoch, strict. A crash before it is
      // durable leaves the epoch pending (its first LSN is past the end of the log): the next
      // open redoes the migration, or drops the epoch for an application of the old schema.
      const appended = wal.append((writer) => writer.raw(opened.migration!.payload), true);
      try {
        await appended.durable;
      } catch (error) {
        await wal.close().catch(() => undefined);
        throw error;
      }
      report = { ...report, schemaMigration: { ...opened.migration.report, lsn: appended.lsn } };
    }
    const world = opened.world;
    const source = { world, schema: meta.schema, currentLsn: () => wal.lastLsn, makeDurable: () => wal.flush() };
    const snapshotter = new Snapshotter(
      source,
      { storage, ...dirs, databaseId, now, policy, archive, walBytesWritten: () => wal.bytesAppended, cipher },
      recovered.manifest,
    );
    return { world, wal, snapshotter, lock, dir, storage, recovery: report, archive };
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

interface Settled {
  readonly meta: DatabaseMeta;
  readonly world: World;
  /** Set when the open migrates: the migration record still has to be logged. */
  readonly migration: MigratedWorld | undefined;
}

/**
 * Decides whether the application's components open the recovered data as is, after dropping an
 * interrupted migration, or through a migration (SCHEMA_MISMATCH or MIGRATION_FAILED before any
 * change on disk), then makes the first changes on disk, in this order:
 *
 * 1. the torn WAL tail is cut → a crash leaves it torn or cut; both recover the same.
 * 2. (migrating) the new meta file, with the new schema epoch from L + 1, replaces the old one
 *    (temp → fsync → rename → directory fsync) → a crash leaves the old meta (nothing migrated:
 *    the old application opens it, the new one migrates again) or the new one with the epoch
 *    pending until the migration record, which openPersistent logs next, is durable.
 * 2'. (dropping a pending epoch) the meta file without it replaces the old one → a crash leaves
 *    the old meta, whose epoch is still pending and is dropped again, or the new one.
 */
async function settleSchema(
  storage: Storage,
  dirs: RecoveryDirs,
  meta: DatabaseMeta,
  recovered: Recovered,
  options: OpenOptions,
  schemaVersion: number,
  cipher: DataCipher | undefined,
): Promise<Settled> {
  const history = historyOf(meta);
  const lastLsn = recovered.tail.lastLsn;
  const decision = decideOpen(history, lastLsn, options.components, schemaVersion, options.migrations);
  const migration =
    decision.kind === 'migrate' ? migrateWorld(recovered.world, decision.from, options.components, schemaVersion, decision.steps, options.migrations) : undefined;
  if (recovered.cut !== undefined) await io(() => cutTornTail(storage, dirs.walDir, recovered.cut!), `cutting the torn tail of ${dirs.walDir}`);
  if (decision.kind === 'open') return { meta, world: recovered.world, migration };
  const kept = decision.kind === 'drop-pending' ? decision.history : [...decision.kept, { version: schemaVersion, fromLsn: lastLsn + 1, schema: schemaOf(options.components) }];
  const next = withHistory(meta, kept);
  // Encrypted: the new schema and its history are sealed again, never written in the clear.
  const stored = cipher === undefined || next.encryption === undefined ? next : sealMeta(next, next.encryption, cipher);
  await io(() => writeMeta(storage, dirs.dir, stored), `recording the schema in ${dirs.dir}`);
  return { meta: next, world: migration?.world ?? recovered.world, migration };
}
