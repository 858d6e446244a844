/**
 * Replacing a small file atomically and durably: temp file → write → fsync → rename → fsync of
 * the directory. A crash at any point leaves either the old file or the new one under the name,
 * never a mix (and at most a stray temp file, which the next replacement removes first).
 */
import { join } from 'node:path';
import type { Storage } from './storage.js';

export async function replaceFileDurably(storage: Storage, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  if ((await storage.stat(temp)) !== undefined) await storage.unlink(temp);
  const file = await storage.open(temp, 'create');
  try {
    await file.write(bytes, 0);
    await file.sync(); // crash before this: the temp file may be torn; nothing refers to it
  } finally {
    await file.close();
  }
  await storage.rename(temp, path); // crash after this: old or new name, as the directory says
  await storage.syncDirectory(dir); // from here the new file is durable under its name
}

/**
 * Moves `from` to `to` (the caller fsyncs both directories after). A crash between those two
 * directory fsyncs can leave the file under both names, two links to one file, and rename()
 * between two links to one file does nothing and succeeds (POSIX): a rerun would keep the old
 * name forever. So a source name still present after the rename is dropped. A crash after the
 * rename and before the unlink leaves both names again, which the next move repairs the same way.
 */
export async function moveFile(storage: Storage, from: string, to: string): Promise<void> {
  await storage.rename(from, to);
  if ((await storage.stat(from)) !== undefined) await storage.unlink(from);
}
