/**
 * The exclusive directory lock: `<dir>/LOCK`, created with O_EXCL and holding the owner's pid
 * and host name.
 *
 * - Another live process holds it: DB_LOCKED.
 * - This process holds it (an open Database on the same storage and directory): DB_LOCKED.
 * - It names a process that no longer exists (killed, crashed), or this very process without a
 *   matching open database (a simulated crash in tests): the lock is stale and is taken over.
 *
 * Known limit: a stale lock whose pid has since been reused by an unrelated live process on the
 * same host looks held; remove the LOCK file by hand once sure no ecsdb process uses the directory.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import type { Storage } from './storage.js';

export const LOCK_FILE_NAME = 'LOCK';

/** Directories locked by this process, per storage instance. */
const heldLocks = new WeakMap<Storage, Set<string>>();

export interface DirectoryLock {
  release(): Promise<void>;
}

export async function acquireDirectoryLock(storage: Storage, dir: string): Promise<DirectoryLock> {
  const path = join(dir, LOCK_FILE_NAME);
  const held = heldLocks.get(storage) ?? new Set<string>();
  heldLocks.set(storage, held);
  if (held.has(path)) {
    throw new EcsdbError('DB_LOCKED', `${dir} is already open in this process; close the other Database first`);
  }
  const content = new TextEncoder().encode(JSON.stringify({ pid: process.pid, host: hostname() }));
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await storage.open(path, 'create');
      try {
        await file.write(content, 0);
        await file.sync();
      } finally {
        await file.close();
      }
      held.add(path);
      let released = false;
      return {
        release: async () => {
          // Only the first release of this handle counts: a later holder's lock is not ours.
          if (released) return;
          released = true;
          await releaseLock(storage, held, path);
        },
      };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(storage, path);
    if (owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && isProcessAlive(owner.pid)) {
      throw new EcsdbError('DB_LOCKED', `${dir} is in use by process ${owner.pid}; close it there first (lock file ${path})`);
    }
    if (owner !== undefined && owner.host !== hostname()) {
      throw new EcsdbError('DB_LOCKED', `${dir} is locked by process ${owner.pid} on host ${owner.host}; if that process is gone, delete ${path}`);
    }
    // Stale: its owner is dead (or is this process after a simulated crash). Take it over.
    await storage.unlink(path).catch((error: { code?: string }) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  throw new EcsdbError('DB_LOCKED', `could not take the lock ${path}: another process keeps taking it`);
}

async function releaseLock(storage: Storage, held: Set<string>, path: string): Promise<void> {
  if (!held.delete(path)) return;
  await storage.unlink(path).catch(() => undefined);
}

async function readOwner(storage: Storage, path: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(await storage.readFile(path))) as { pid?: unknown; host?: unknown };
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host };
  } catch {
    // Torn or foreign content: the writer died while creating it.
  }
  return undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
