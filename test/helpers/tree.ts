/** Reading a whole directory tree from the real file system, for byte-for-byte comparisons. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under `root`: relative path → bytes. */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (sub: string) => {
    for (const name of await readdir(join(root, sub))) {
      const path = join(root, sub, name);
      if ((await stat(path)).isDirectory()) await walk(join(sub, name));
      else files.set(join(sub, name), await readFile(path));
    }
  };
  await walk('');
  return files;
}
