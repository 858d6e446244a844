/**
 * The commit and roll-forward of a key rotation (rekey.ts stages it). The staging directory
 * `<dir>/rekey/` holds every data file re-encrypted under the new key, flat, named
 * `<wal|archive|snapshots>.<file name>`, plus `MANIFEST` and, written last, `ecsdb.meta`.
 *
 * The rotation commits when `<dir>/ecsdb.meta` is replaced (temp → fsync → rename → directory
 * fsync) by a byte-identical copy of `rekey/ecsdb.meta`. So:
 * - `rekey/ecsdb.meta` missing, or different from `<dir>/ecsdb.meta`: the rotation did not
 *   commit; the directory is whole under the old key and the staging is ignored (the next rekey
 *   deletes it). The staged meta file seals the schema under a fresh nonce, so it never equals
 *   an old meta file by chance.
 * - equal: it committed; the staged files replace the old-key ones by rename (roll-forward),
 *   which needs no key, only the new meta file's presence. Every open() finishes it.
 */
import { join } from 'node:path';
import { META_FILE_NAME } from '../meta/meta-file.js';
import type { Storage } from '../storage/storage.js';
import { moveFile } from '../storage/atomic-file.js';

export const REKEY_DIR_NAME = 'rekey';
/** Top-level directories whose files a rotation rewrites, in the order they move into place. */
export const REKEYED_DIRS = ['snapshots', 'archive', 'wal'] as const;
export const MANIFEST_NAME = 'MANIFEST';

/** Whether `rekey/` holds a committed rotation (see the header). */
export async function rekeyCommitted(storage: Storage, dir: string): Promise<boolean> {
  const staged = join(dir, REKEY_DIR_NAME, META_FILE_NAME);
  if ((await storage.stat(staged)) === undefined) return false;
  const [a, b] = await Promise.all([storage.readFile(staged), storage.readFile(join(dir, META_FILE_NAME))]);
  return Buffer.from(a).equals(Buffer.from(b));
}

/**
 * Moves the files of a committed rotation into place; does nothing otherwise. What a crash at
 * each step leaves, and why it is safe:
 * - each rename is made durable in the target directory before the staging directory is synced:
 *   a crash may leave a file under both names (one file), never under neither; the next run
 *   finds the staged name still there after its rename and unlinks it.
 * - the staged meta file goes last, once every other staged name is durably gone: until then
 *   the rotation still reads as committed and the roll-forward resumes.
 */
export async function finishPendingRekey(storage: Storage, dir: string): Promise<void> {
  if (!(await rekeyCommitted(storage, dir))) return;
  const rekeyDir = join(dir, REKEY_DIR_NAME);
  for (const name of await storage.list(rekeyDir)) {
    if (name === META_FILE_NAME) continue;
    const target = targetOf(dir, name);
    if (target === undefined) continue; // not a staged file (e.g. a temp file of a crashed write)
    const staged = join(rekeyDir, name);
    await storage.mkdir(target.dir);
    // After a crash between this move and the sync of rekey/, the staged name can come back
    // beside the moved one: moveFile drops it on the next roll-forward.
    await moveFile(storage, staged, join(target.dir, target.name));
    await storage.syncDirectory(target.dir);
  }
  await storage.syncDirectory(rekeyDir);
  // From here every new-key file is in place; only the marker remains.
  await storage.unlink(join(rekeyDir, META_FILE_NAME));
  await storage.syncDirectory(rekeyDir);
}

/** Where a staged file belongs: `wal.000…1.wal` → `<dir>/wal/000…1.wal`, `MANIFEST` → `<dir>/MANIFEST`. */
export function targetOf(dir: string, stagedName: string): { dir: string; name: string } | undefined {
  if (stagedName === MANIFEST_NAME) return { dir, name: MANIFEST_NAME };
  for (const sub of REKEYED_DIRS) {
    if (stagedName.startsWith(`${sub}.`) && !stagedName.endsWith('.tmp')) return { dir: join(dir, sub), name: stagedName.slice(sub.length + 1) };
  }
  return undefined;
}

export function stagedNameOf(sub: (typeof REKEYED_DIRS)[number] | undefined, name: string): string {
  return sub === undefined ? name : `${sub}.${name}`;
}
