/** What only the real storage can show: permissions on disk and the kernel's own errors. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FileStorage } from '../../src/storage/file-storage.js';

const PERMISSION_BITS = 0o777;

describe('FileStorage', () => {
  let dir: string;
  const storage = new FileStorage();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecsdb-file-storage-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('creates files with mode 0600', async () => {
    const file = await storage.open(join(dir, 'data'), 'create');
    await file.close();
    expect((await stat(join(dir, 'data'))).mode & PERMISSION_BITS).toBe(0o600);
  });

  test('creates directories, parents included, with mode 0700', async () => {
    await storage.mkdir(join(dir, 'a/b/c'));
    for (const created of ['a', 'a/b', 'a/b/c']) {
      expect((await stat(join(dir, created))).mode & PERMISSION_BITS).toBe(0o700);
    }
  });

  test('syncDirectory of a file fails with ENOTDIR', async () => {
    const file = await storage.open(join(dir, 'data'), 'create');
    await file.close();
    await expect(storage.syncDirectory(join(dir, 'data'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  test('errors are Node errors that keep their code and path', async () => {
    const missing = join(dir, 'missing');
    await expect(storage.readFile(missing)).rejects.toMatchObject({ code: 'ENOENT', path: missing });
  });
});
