/**
 * Opening a database directory: lock, identity and schema, WAL replay, then the writer.
 *
 * Directory layout:
 *   <dir>/LOCK          the exclusive lock (see storage/dir-lock.ts)
 *   <dir>/ecsdb.meta    identity and schema (see meta/meta-file.ts)
 *   <dir>/wal/*.wal     WAL segments (see wal/format.ts)
 *
 * If anything fails before the writer exists, the lock is released and the directory is left as
 * it was (apart from creating it, its wal/ folder and the meta file of a brand-new database).
 */
import { join, resolve } from 'node:path';
import { EcsdbError } from '../errors.js';
import { checkSchemaMatches, newMeta, readMeta, writeMeta } from '../meta/meta-file.js';
import { listSegments, recoverWal, type WalRecoveryReport } from '../recovery/recover-wal.js';
import { acquireDirectoryLock, type DirectoryLock } from '../storage/dir-lock.js';
import { FileStorage } from '../storage/file-storage.js';
import type { Storage } from '../storage/storage.js';
import { WalWriter } from '../wal/wal-writer.js';
import type { World } from '../world/world.js';
import { resolveWalOptions, type OpenOptions } from './options.js';

export const WAL_DIR_NAME = 'wal';

/** One real-file-system storage per process, so the in-process lock registry sees every open. */
const fileStorage = new FileStorage();

export interface RecoveryReport {
  /** True when the directory held no database and one was created. */
  readonly created: boolean;
  readonly wal: WalRecoveryReport;
  readonly totalMs: number;
}

export interface PersistentParts {
  readonly wal: WalWriter;
  readonly lock: DirectoryLock;
  readonly recovery: RecoveryReport;
  readonly dir: string;
}

export async function openPersistent(options: OpenOptions, world: World): Promise<PersistentParts> {
  const storage: Storage = options.storage ?? fileStorage;
  const now = options.now ?? Date.now;
  const walOptions = resolveWalOptions(options.wal);
  const dir = resolve(options.dir!);
  const startedMs = now();
  await io(() => storage.mkdir(dir), `creating ${dir}`);
  const lock = await io(() => acquireDirectoryLock(storage, dir), `locking ${dir}`);
  try {
    const walDir = join(dir, WAL_DIR_NAME);
    let meta = await io(() => readMeta(storage, dir), `reading ${dir}`);
    const created = meta === undefined;
    if (meta === undefined) {
      if ((await io(() => storage.stat(walDir), `reading ${walDir}`)) !== undefined && (await listSegments(storage, walDir)).length > 0) {
        throw new EcsdbError('CORRUPT_WAL', `${dir} has WAL segments but no ecsdb.meta file; it is damaged or not an ecsdb directory`);
      }
      meta = newMeta(options.components, now());
      await io(() => storage.mkdir(walDir), `creating ${walDir}`);
      // The meta file's rename is made durable by a directory fsync that also covers wal/.
      await io(() => writeMeta(storage, dir, meta!), `creating ${dir}`);
    } else {
      checkSchemaMatches(meta.schema, options.components);
      await io(() => storage.mkdir(walDir), `creating ${walDir}`);
    }
    const databaseId = meta.databaseId;
    const { report, tail } = await io(() => recoverWal(storage, walDir, databaseId, world, now), `recovering ${walDir}`);
    const wal = await io(
      () => WalWriter.open({ storage, walDir, databaseId, now, ...walOptions }, tail),
      `opening the WAL in ${walDir}`,
    );
    return { wal, lock, dir, recovery: { created, wal: report, totalMs: now() - startedMs } };
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

/** Runs a storage step, turning raw I/O errors (ENOSPC, EIO, EACCES...) into IO_FAILED. */
async function io<T>(step: () => Promise<T>, what: string): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof EcsdbError) throw error;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') {
      throw new EcsdbError('IO_FAILED', `${what} failed: ${code} (${(error as Error).message})`, { cause: error });
    }
    throw error;
  }
}
