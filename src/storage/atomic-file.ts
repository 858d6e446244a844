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
