/**
 * The behaviour every Storage must share. The same tests run against the real file system and
 * the simulated one, so the simulation cannot drift into a friendlier world than Linux.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FileStorage } from '../../src/storage/file-storage.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';

interface Fixture {
  readonly storage: Storage;
  /** A fresh, empty directory for this test. */
  readonly dir: string;
  cleanup(): Promise<void>;
}

const implementations: { name: string; createFixture: () => Promise<Fixture> }[] = [
  {
    name: 'FileStorage',
    createFixture: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ecsdb-storage-'));
      return { storage: new FileStorage(), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'SimulatedStorage',
    createFixture: async () => {
      const storage = new SimulatedStorage({ seed: 7 });
      await storage.mkdir('/db');
      return { storage, dir: '/db', cleanup: async () => {} };
    },
  },
];

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe.each(implementations)('Storage contract: $name', ({ createFixture }) => {
  let fixture: Fixture;
  let storage: Storage;
  let path: (name: string) => string;

  beforeEach(async () => {
    fixture = await createFixture();
    storage = fixture.storage;
    path = (name) => join(fixture.dir, name);
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  async function writeNew(name: string, text: string): Promise<void> {
    const file = await storage.open(path(name), 'create');
    await file.write(encode(text), 0);
    await file.close();
  }

  test('reads back what was written, at any position', async () => {
    const file = await storage.open(path('a'), 'create');
    await file.write(encode('hello world'), 0);
    await file.write(encode('WORLD'), 6);
    expect(decode(await file.read(0, 11))).toBe('hello WORLD');
    expect(decode(await file.read(6, 3))).toBe('WOR');
    await file.close();
  });

  test('a read past the end returns the bytes that exist', async () => {
    await writeNew('a', 'abc');
    const file = await storage.open(path('a'), 'read');
    expect(decode(await file.read(1, 100))).toBe('bc');
    expect((await file.read(3, 10)).length).toBe(0);
    expect((await file.read(50, 10)).length).toBe(0);
    await file.close();
  });

  test('a write beyond the end fills the gap with zeros', async () => {
    const file = await storage.open(path('a'), 'create');
    await file.write(new Uint8Array([1, 2]), 4);
    expect([...(await file.read(0, 10))]).toEqual([0, 0, 0, 0, 1, 2]);
    await file.close();
  });

  test('sizeBytes follows writes and truncates', async () => {
    const file = await storage.open(path('a'), 'create');
    expect(await file.sizeBytes()).toBe(0);
    await file.write(encode('0123456789'), 0);
    expect(await file.sizeBytes()).toBe(10);
    await file.truncate(4);
    expect(await file.sizeBytes()).toBe(4);
    await file.close();
  });

  test('truncate shrinks, and growing again reads zeros, not the old bytes', async () => {
    const file = await storage.open(path('a'), 'create');
    await file.write(encode('abcdef'), 0);
    await file.truncate(2);
    await file.truncate(5);
    expect([...(await file.read(0, 10))]).toEqual([97, 98, 0, 0, 0]);
    await file.close();
  });

  test('readFile returns the whole file', async () => {
    await writeNew('a', 'the whole content');
    expect(decode(await storage.readFile(path('a')))).toBe('the whole content');
  });

  test('sync and syncDirectory succeed and change no content', async () => {
    const file = await storage.open(path('a'), 'create');
    await file.write(encode('durable'), 0);
    await expect(file.sync()).resolves.toBeUndefined();
    await expect(storage.syncDirectory(fixture.dir)).resolves.toBeUndefined();
    await file.close();
    expect(decode(await storage.readFile(path('a')))).toBe('durable');
  });

  test('readwrite opens an existing file without truncating it', async () => {
    await writeNew('a', 'keep me');
    const file = await storage.open(path('a'), 'readwrite');
    await file.write(encode('K'), 0);
    await file.close();
    expect(decode(await storage.readFile(path('a')))).toBe('Keep me');
  });

  test('create fails with EEXIST when the file exists', async () => {
    await writeNew('a', 'first');
    await expect(storage.open(path('a'), 'create')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(decode(await storage.readFile(path('a')))).toBe('first');
  });

  test('opening or reading a missing file fails with ENOENT', async () => {
    await expect(storage.open(path('missing'), 'read')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(storage.open(path('missing'), 'readwrite')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(storage.readFile(path('missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('create in a missing directory fails with ENOENT', async () => {
    await expect(storage.open(path('no/such/file'), 'create')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('writing through a read-only handle fails with EBADF', async () => {
    await writeNew('a', 'abc');
    const file = await storage.open(path('a'), 'read');
    await expect(file.write(encode('x'), 0)).rejects.toMatchObject({ code: 'EBADF' });
    await file.close();
    expect(decode(await storage.readFile(path('a')))).toBe('abc');
  });

  test('rename moves a file and replaces an existing target', async () => {
    await writeNew('new', 'new content');
    await writeNew('current', 'old content');
    await storage.rename(path('new'), path('current'));
    expect(decode(await storage.readFile(path('current')))).toBe('new content');
    expect(await storage.stat(path('new'))).toBeUndefined();
  });

  test('rename of a missing file fails with ENOENT', async () => {
    await expect(storage.rename(path('missing'), path('b'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('unlink removes the name', async () => {
    await writeNew('a', 'x');
    await storage.unlink(path('a'));
    expect(await storage.stat(path('a'))).toBeUndefined();
    await expect(storage.unlink(path('a'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('list returns the names of files and directories, sorted', async () => {
    await writeNew('b', '');
    await writeNew('a10', '');
    await writeNew('a2', '');
    await storage.mkdir(path('dir'));
    expect(await storage.list(fixture.dir)).toEqual(['a10', 'a2', 'b', 'dir']);
  });

  test('list of a missing directory fails with ENOENT', async () => {
    await expect(storage.list(path('missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('stat describes files and directories, and is undefined for nothing', async () => {
    await writeNew('a', '12345');
    await storage.mkdir(path('dir'));
    expect(await storage.stat(path('a'))).toEqual({ sizeBytes: 5, isDirectory: false });
    expect(await storage.stat(path('dir'))).toMatchObject({ isDirectory: true });
    expect(await storage.stat(path('missing'))).toBeUndefined();
    expect(await storage.stat(path('missing/child'))).toBeUndefined();
    expect(await storage.stat(path('a/child'))).toBeUndefined();
  });

  test('mkdir creates missing parents and accepts an existing directory', async () => {
    await storage.mkdir(path('x/y/z'));
    await storage.mkdir(path('x/y/z'));
    expect(await storage.stat(path('x/y/z'))).toMatchObject({ isDirectory: true });
    expect(await storage.list(path('x'))).toEqual(['y']);
  });

  test('mkdir over a file fails with EEXIST', async () => {
    await writeNew('a', '');
    await expect(storage.mkdir(path('a'))).rejects.toMatchObject({ code: 'EEXIST' });
  });

  test('syncDirectory of a missing directory fails with ENOENT', async () => {
    await expect(storage.syncDirectory(path('missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  describe.each([false, true])('queued durable writes (syncEachWrite %s)', (syncEachWrite) => {
    test('land in queue order, from a copy taken when queued', async () => {
      const file = await storage.open(path('q'), 'create', { syncEachWrite, queuedWrites: true });
      const data = encode('aaaa');
      const first = file.queueDurableWrite!(data, 0);
      data.set(encode('zzzz')); // the caller may reuse its buffer at once
      // Overlapping writes: the later one must land after the earlier.
      const second = file.queueDurableWrite!(encode('bb'), 1);
      const third = file.queueDurableWrite!(encode('c'), 6);
      expect(first).toBeDefined(); // two stores, both with room for three small writes
      await Promise.all([first, second, third]);
      expect([...(await file.read(0, 7))]).toEqual([...encode('abba'), 0, 0, ...encode('c')]);
      await file.close();
    });

    test('close waits for the writes still queued', async () => {
      const file = await storage.open(path('q'), 'create', { syncEachWrite, queuedWrites: true });
      const writes = [0, 1, 2].map((i) => file.queueDurableWrite!(new Uint8Array(100_000).fill(i + 1), i * 100_000));
      await file.close();
      const contents = await storage.readFile(path('q'));
      expect(contents.length).toBe(300_000);
      expect([contents[0], contents[150_000], contents[299_999]]).toEqual([1, 2, 3]);
      await Promise.all(writes);
    });

    test('after a queued write fails, none queued after it is made; other files are unaffected', async () => {
      await writeNew('ro', 'xyz');
      const readOnly = await storage.open(path('ro'), 'read', { queuedWrites: true });
      const failing = readOnly.queueDurableWrite!(encode('1'), 0);
      const skipped = readOnly.queueDurableWrite!(encode('2'), 1);
      await expect(failing).rejects.toMatchObject({ code: 'EBADF' });
      // EBADF had it been tried: EIO says it was not.
      await expect(skipped).rejects.toMatchObject({ code: 'EIO' });
      const other = await storage.open(path('other'), 'create', { syncEachWrite, queuedWrites: true });
      await other.queueDurableWrite!(encode('ok'), 0);
      expect(decode(await other.read(0, 2))).toBe('ok');
      await other.close();
      await readOnly.close();
      expect(decode(await storage.readFile(path('ro')))).toBe('xyz');
    });
  });
});
