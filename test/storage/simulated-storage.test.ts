/**
 * The crash and fault model of SimulatedStorage, one behaviour per test. The shared contract
 * (storage-contract.test.ts) covers what it has in common with the real file system.
 */
import { describe, expect, test } from 'vitest';
import {
  SimulatedStorage,
  type StorageCallInfo,
} from '../../src/storage/simulated-storage.js';
import { createRandom, randomInt } from '../../src/storage/random.js';
import type { StorageFile } from '../../src/storage/storage.js';

const DIR = '/db';
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function freshStorage(seed = 1): Promise<SimulatedStorage> {
  const storage = new SimulatedStorage({ seed });
  await storage.mkdir(DIR);
  return storage;
}

/** Creates `name` with `text`, syncs it and makes its name durable. */
async function durableFile(storage: SimulatedStorage, name: string, text: string): Promise<StorageFile> {
  const file = await storage.open(`${DIR}/${name}`, 'create');
  await file.write(encode(text), 0);
  await file.sync();
  await storage.syncDirectory(DIR);
  return file;
}

async function textAfterCrash(survivor: SimulatedStorage, name: string): Promise<string | undefined> {
  if ((await survivor.stat(`${DIR}/${name}`)) === undefined) return undefined;
  return decode(await survivor.readFile(`${DIR}/${name}`));
}

describe('SimulatedStorage crash', () => {
  test('unsynced bytes are lost', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    await file.write(encode('not synced'), 0);
    expect(await textAfterCrash(storage.crash(), 'wal')).toBe('');
  });

  test('synced bytes are kept, unsynced ones after them are lost', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    await file.write(encode('+lost'), 6);
    expect(await textAfterCrash(storage.crash(), 'wal')).toBe('synced');
  });

  test('a created file is lost without a directory sync, even if the file was synced', async () => {
    const storage = await freshStorage();
    const file = await storage.open(`${DIR}/new`, 'create');
    await file.write(encode('synced content'), 0);
    await file.sync();
    const survivor = storage.crash({ tear: 'all' });
    expect(await survivor.list(DIR)).toEqual([]);
  });

  test('a created file survives once both it and its directory are synced', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'new', 'content');
    expect(await textAfterCrash(storage.crash(), 'new')).toBe('content');
  });

  test('a rename reverts to the old name without a directory sync', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'tmp', 'snapshot');
    await storage.rename(`${DIR}/tmp`, `${DIR}/final`);
    const survivor = storage.crash();
    expect(await survivor.list(DIR)).toEqual(['tmp']);
    expect(await textAfterCrash(survivor, 'tmp')).toBe('snapshot');
  });

  test('a rename is kept after a directory sync', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'tmp', 'snapshot');
    await storage.rename(`${DIR}/tmp`, `${DIR}/final`);
    await storage.syncDirectory(DIR);
    const survivor = storage.crash();
    expect(await survivor.list(DIR)).toEqual(['final']);
    expect(await textAfterCrash(survivor, 'final')).toBe('snapshot');
  });

  test('a rename over an existing file reverts to both old files without a directory sync', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'manifest', 'old');
    await durableFile(storage, 'manifest.tmp', 'new');
    await storage.rename(`${DIR}/manifest.tmp`, `${DIR}/manifest`);
    const survivor = storage.crash();
    expect(await textAfterCrash(survivor, 'manifest')).toBe('old');
    expect(await textAfterCrash(survivor, 'manifest.tmp')).toBe('new');
  });

  test('sync makes a file durable whatever name it has now', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'a', '');
    await storage.rename(`${DIR}/a`, `${DIR}/b`);
    await storage.syncDirectory(DIR);
    await file.write(encode('written via the old name'), 0);
    await file.sync();
    expect(await textAfterCrash(storage.crash(), 'b')).toBe('written via the old name');
  });

  test('an unlink reverts without a directory sync', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'segment', 'archived');
    await storage.unlink(`${DIR}/segment`);
    expect(await textAfterCrash(storage.crash(), 'segment')).toBe('archived');
  });

  test('an unlink is kept after a directory sync', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'segment', 'archived');
    await storage.unlink(`${DIR}/segment`);
    await storage.syncDirectory(DIR);
    expect(await storage.crash().list(DIR)).toEqual([]);
  });

  test('directories made by mkdir survive at once', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/db/wal/archive');
    expect(await storage.crash().list('/db/wal')).toEqual(['archive']);
  });

  test("tear 'all' keeps every unsynced byte", async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    await file.write(encode('+unsynced'), 6);
    expect(await textAfterCrash(storage.crash({ tear: 'all' }), 'wal')).toBe('synced+unsynced');
  });

  test("tear 'random' keeps a prefix of the unsynced tail", async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    const tail = 'abcdefghijklmnopqrstuvwxyz'.repeat(10);
    await file.write(encode(tail), 6);
    for (let seed = 0; seed < 50; seed++) {
      const text = await textAfterCrash(storage.crash({ tear: 'random', seed }), 'wal');
      expect(('synced' + tail).startsWith(text ?? 'missing')).toBe(true);
      expect(text?.startsWith('synced')).toBe(true);
    }
  });

  test("tear 'random' is fixed by the seed and varies between seeds", async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    await file.write(new Uint8Array(10_000).fill(7), 0);
    const keptLength = async (seed: number): Promise<number> =>
      (await storage.crash({ tear: 'random', seed }).readFile(`${DIR}/wal`)).length;
    expect(await keptLength(3)).toBe(await keptLength(3));
    const lengths = new Set(await Promise.all([1, 2, 3, 4, 5].map(keptLength)));
    expect(lengths.size).toBeGreaterThan(1);
  });

  test("tear 'random' tears each file independently", async () => {
    const storage = await freshStorage();
    const files = await Promise.all(['a', 'b', 'c', 'd'].map((name) => durableFile(storage, name, '')));
    for (const file of files) await file.write(new Uint8Array(10_000).fill(1), 0);
    const survivor = storage.crash({ tear: 'random', seed: 12 });
    const lengths = [...survivor.snapshotFiles().values()].map((bytes) => bytes.length);
    expect(new Set(lengths).size).toBeGreaterThan(1);
  });

  test('an unsynced overwrite of synced bytes survives whole, not at all, or torn (random)', async () => {
    // The WAL writes records over its preallocated zeros: such a write tears like an append.
    const storage = await freshStorage();
    const file = await durableFile(storage, 'header', 'AAAAAAAA');
    await file.write(encode('BBBB'), 2);
    const outcomes = new Set<string | undefined>();
    for (let seed = 0; seed < 60; seed++) {
      expect(await textAfterCrash(storage.crash({ tear: 'none', seed }), 'header')).toBe('AAAAAAAA');
      expect(await textAfterCrash(storage.crash({ tear: 'all', seed }), 'header')).toBe('AABBBBAA');
      outcomes.add(await textAfterCrash(storage.crash({ tear: 'random', seed }), 'header'));
    }
    expect([...outcomes].sort()).toEqual(['AAAAAAAA', 'AABAAAAA', 'AABBAAAA', 'AABBBAAA', 'AABBBBAA']);
  });

  test("'sectors' keeps any subset of a write's 512-byte sectors, later ones without earlier ones too", async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    await file.write(new Uint8Array(1536).fill(7), 0); // three sectors, unsynced
    const patterns = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const bytes = await storage.crash({ tear: 'sectors', seed }).readFile(`${DIR}/wal`);
      const sectors = [0, 1, 2].map((i) => (bytes.length > i * 512 && bytes[i * 512] === 7 ? '1' : '0')).join('');
      // A lost sector reads as zeros; the length reaches the furthest kept one.
      expect(bytes.length).toBe(sectors.lastIndexOf('1') === -1 ? 0 : (sectors.lastIndexOf('1') + 1) * 512);
      patterns.add(sectors);
    }
    expect([...patterns].sort()).toEqual(['000', '001', '010', '011', '100', '101', '110', '111']);
  });

  test('an unsynced truncate below the synced length survives whole or not at all', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'record1record2');
    await file.truncate(7);
    for (let seed = 0; seed < 20; seed++) {
      expect(await textAfterCrash(storage.crash({ tear: 'none', seed }), 'wal')).toBe('record1record2');
      expect(await textAfterCrash(storage.crash({ tear: 'all', seed }), 'wal')).toBe('record1');
    }
  });

  test('an unsynced shrink then grow leaves zeros, not the old synced bytes', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'record1record2');
    await file.truncate(7);
    await file.truncate(14);
    const survivor = storage.crash({ tear: 'all' });
    expect([...(await survivor.readFile(`${DIR}/wal`)).subarray(7)]).toEqual(new Array(7).fill(0));
  });

  test("any mix of writes, truncates and syncs: 'all' keeps the current bytes, 'none' the synced", async () => {
    for (let seed = 0; seed < 200; seed++) {
      const random = createRandom(seed);
      const storage = await freshStorage(seed);
      const file = await durableFile(storage, 'f', '');
      let synced: Uint8Array = new Uint8Array(0);
      for (let step = 0; step < 16; step++) {
        const choice = randomInt(random, 5);
        if (choice <= 1) await file.truncate(randomInt(random, 40));
        else if (choice === 2) {
          await file.sync();
          synced = await storage.readFile(`${DIR}/f`);
        } else {
          const bytes = new Uint8Array(1 + randomInt(random, 12)).fill(1 + randomInt(random, 250));
          await file.write(bytes, randomInt(random, 40));
        }
      }
      const current = await storage.readFile(`${DIR}/f`);
      expect(await storage.crash({ tear: 'all' }).readFile(`${DIR}/f`)).toEqual(current);
      expect(await storage.crash({ tear: 'none' }).readFile(`${DIR}/f`)).toEqual(synced);
    }
  });

  test('a survivor is fully durable: crashing it again loses nothing', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    await file.write(encode('+torn'), 6);
    const survivor = storage.crash({ tear: 'all' });
    expect(await textAfterCrash(survivor.crash(), 'wal')).toBe('synced+torn');
  });

  test('crash() powers off the crashed storage and its open files', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    storage.crash();
    expect(storage.crashed).toBe(true);
    await expect(file.write(encode('late'), 0)).rejects.toMatchObject({ code: 'ECRASHED' });
    await expect(storage.list(DIR)).rejects.toMatchObject({ code: 'ECRASHED' });
  });
});

describe("SimulatedStorage crash, tear 'reorder' (files and directories reach disk in different orders)", () => {
  const SEEDS = Array.from({ length: 64 }, (_, seed) => seed);

  test('a file keeps a prefix of its unsynced writes in call order, the first dropped one possibly torn', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'f', '');
    // Written out of position order, so a prefix of calls is not a prefix of the bytes.
    await file.write(encode('CCCC'), 8);
    await file.write(encode('AAAA'), 0);
    await file.write(encode('BBBB'), 4);
    const allowed = ['', '\0'.repeat(8) + 'C', '\0'.repeat(8) + 'CC', '\0'.repeat(8) + 'CCC', '\0'.repeat(8) + 'CCCC'];
    for (const prefix of ['', 'A', 'AA', 'AAA', 'AAAA']) allowed.push(prefix + '\0'.repeat(8 - prefix.length) + 'CCCC');
    for (const prefix of ['B', 'BB', 'BBB', 'BBBB']) allowed.push('AAAA' + prefix + (prefix.length < 4 ? '\0'.repeat(4 - prefix.length) : '') + 'CCCC');
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const text = (await textAfterCrash(storage.crash({ tear: 'reorder', seed }), 'f'))!;
      expect(allowed, `seed ${seed}: ${JSON.stringify(text)}`).toContain(text);
      seen.add(text);
    }
    expect(seen.has(''), 'sometimes nothing survives').toBe(true);
    expect(seen.has('AAAABBBBCCCC'), 'sometimes everything survives').toBe(true);
    expect(seen.size, 'torn and partial states occur').toBeGreaterThan(4);
  });

  test('an unsynced write that a later one overwrote can survive alone, with its own bytes', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'f', '');
    await file.write(encode('XXXXXXXX'), 0);
    await file.write(encode('YYYY'), 4);
    await file.truncate(6);
    const seen = new Set<string>();
    for (const seed of SEEDS) seen.add((await textAfterCrash(storage.crash({ tear: 'reorder', seed }), 'f'))!);
    expect(seen.has('XXXXXXXX'), 'the first write alone').toBe(true);
    expect(seen.has('XXXXYYYY'), 'both writes, not the truncate').toBe(true);
    expect(seen.has('XXXXYY'), 'everything').toBe(true);
    // The second write torn after k bytes leaves XXXX, k Ys, then the first write's Xs.
    const torn = (k: number): string => `XXXX${'Y'.repeat(k)}${'X'.repeat(4 - k)}`;
    const allowed = new Set([...Array.from({ length: 9 }, (_, n) => 'X'.repeat(n)), ...[1, 2, 3, 4].map(torn), 'XXXXYY']);
    expect([...seen].filter((text) => !allowed.has(text))).toEqual([]);
  });

  test('files decide independently: one keeps its writes while another loses them', async () => {
    const storage = await freshStorage();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => durableFile(storage, name, '')));
    await a.write(encode('a'), 0);
    await b.write(encode('b'), 0);
    const outcomes = new Set<string>();
    for (const seed of SEEDS) {
      const survivor = storage.crash({ tear: 'reorder', seed });
      outcomes.add(`${await textAfterCrash(survivor, 'a')}/${await textAfterCrash(survivor, 'b')}`);
    }
    expect([...outcomes].sort()).toEqual(['/', '/b', 'a/', 'a/b']);
  });

  test('a directory keeps a prefix of its unsynced creations and unlinks, in call order', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'old', 'old');
    for (const name of ['c', 'a', 'b']) {
      const file = await storage.open(`${DIR}/${name}`, 'create');
      await file.write(encode(name), 0);
      await file.sync();
    }
    await storage.unlink(`${DIR}/old`);
    const prefixes = [['old'], ['c', 'old'], ['a', 'c', 'old'], ['a', 'b', 'c', 'old'], ['a', 'b', 'c']];
    const seen = new Set<string>();
    for (const seed of SEEDS) {
      const names = await storage.crash({ tear: 'reorder', seed }).list(DIR);
      expect(prefixes.map((p) => p.join())).toContain(names.join());
      seen.add(names.join());
    }
    expect(seen.size).toBe(prefixes.length);
  });

  test("a file's name and its bytes survive independently (an empty new file can remain)", async () => {
    const storage = await freshStorage();
    const file = await storage.open(`${DIR}/new`, 'create');
    await file.write(encode('data'), 0);
    const outcomes = new Set<string | undefined>();
    for (const seed of SEEDS) outcomes.add(await textAfterCrash(storage.crash({ tear: 'reorder', seed }), 'new'));
    expect(outcomes.has(undefined)).toBe(true);
    expect(outcomes.has('')).toBe(true);
    expect(outcomes.has('data')).toBe(true);
  });

  test('a rename within a directory leaves the old name or the new one, never both or neither', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'tmp', 'new');
    await durableFile(storage, 'current', 'old');
    await storage.rename(`${DIR}/tmp`, `${DIR}/current`);
    const outcomes = new Set<string>();
    for (const seed of SEEDS) {
      const survivor = storage.crash({ tear: 'reorder', seed });
      outcomes.add(`${(await survivor.list(DIR)).join()}=${await textAfterCrash(survivor, 'current')}`);
    }
    expect([...outcomes].sort()).toEqual(['current,tmp=old', 'current=new']);
  });

  test('a rename between two directories survives in both or in neither', async () => {
    const storage = await freshStorage();
    await storage.mkdir(`${DIR}/archive`);
    await durableFile(storage, 'segment', 'records');
    await durableFile(storage, 'other', '');
    await storage.rename(`${DIR}/segment`, `${DIR}/archive/segment`);
    await storage.unlink(`${DIR}/other`); // later in the source directory: dropped with the rename
    const outcomes = new Set<string>();
    for (const seed of SEEDS) {
      const survivor = storage.crash({ tear: 'reorder', seed });
      const live = (await survivor.list(DIR)).filter((name) => name !== 'archive');
      outcomes.add(`${live.join()}|${(await survivor.list(`${DIR}/archive`)).join()}`);
    }
    expect([...outcomes].sort()).toEqual(['other,segment|', 'other|segment', '|segment']);
  });

  test("with nothing unsynced, 'reorder' keeps exactly the current state", async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'a', 'synced');
    expect(storage.crash({ tear: 'reorder', seed: 5 }).snapshotFiles()).toEqual(storage.snapshotFiles());
  });

  test('a clone crashes like the original: unsynced writes and entries are copied, per seed', async () => {
    /** Two writes, the second over the first, and a rename between directories, all unsynced. */
    const build = async (storage: SimulatedStorage): Promise<StorageFile> => {
      const file = await storage.open(`${DIR}/f`, 'create');
      await file.write(encode('XXXXXXXX'), 0);
      await file.write(encode('YY'), 2);
      await storage.mkdir(`${DIR}/sub`);
      await storage.rename(`${DIR}/f`, `${DIR}/sub/g`);
      return file;
    };
    const storage = await freshStorage();
    const file = await build(storage);
    const clone = storage.clone();
    await file.write(encode('ZZZZZZZZZZ'), 0); // changes the original only
    const reference = await freshStorage();
    await build(reference);
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      expect(clone.powerLossImage({ tear: 'reorder', seed }).snapshotFiles()).toEqual(reference.powerLossImage({ tear: 'reorder', seed }).snapshotFiles());
    }
  });

  test('powerLossImage leaves the storage running', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    await file.write(encode('+more'), 6);
    expect(await textAfterCrash(storage.powerLossImage({ tear: 'none' }), 'wal')).toBe('synced');
    expect(storage.crashed).toBe(false);
    await file.sync();
    expect(await textAfterCrash(storage.powerLossImage(), 'wal')).toBe('synced+more');
  });
});

describe('SimulatedStorage fault injection', () => {
  test('failAt ENOSPC fails that write with the code and writes nothing', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'abc');
    storage.failAt(storage.ioCount, 'ENOSPC');
    await expect(file.write(encode('defgh'), 3)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(decode(await storage.readFile(`${DIR}/wal`))).toBe('abc');
  });

  test('failAt ENOSPC with appliedBytes leaves a short write behind', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'abc');
    storage.failAt(storage.ioCount, 'ENOSPC', { appliedBytes: 2 });
    await expect(file.write(encode('defgh'), 3)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(decode(await storage.readFile(`${DIR}/wal`))).toBe('abcde');
  });

  test('failAt EIO fails a rename with the code and changes no name', async () => {
    const storage = await freshStorage();
    await durableFile(storage, 'tmp', 'x');
    storage.failAt(storage.ioCount, 'EIO');
    await expect(storage.rename(`${DIR}/tmp`, `${DIR}/final`)).rejects.toMatchObject({ code: 'EIO' });
    expect(await storage.list(DIR)).toEqual(['tmp']);
  });

  test('failAt EIO on a sync makes nothing durable', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    await file.write(encode('pending'), 0);
    storage.failAt(storage.ioCount, 'EIO');
    await expect(file.sync()).rejects.toMatchObject({ code: 'EIO' });
    expect(await textAfterCrash(storage.crash(), 'wal')).toBe('');
  });

  test('failAt fails only the call it names', async () => {
    const storage = await freshStorage();
    storage.failAt(storage.ioCount + 1, 'EIO');
    await expect(storage.list(DIR)).resolves.toEqual([]);
    await expect(storage.list(DIR)).rejects.toMatchObject({ code: 'EIO' });
    await expect(storage.list(DIR)).resolves.toEqual([]);
  });

  test('failNextSync fails the next file sync once, leaving the bytes unsynced', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', '');
    await file.write(encode('pending'), 0);
    storage.failNextSync('EIO');
    await storage.syncDirectory(DIR);
    await expect(file.sync()).rejects.toMatchObject({ code: 'EIO' });
    expect(await textAfterCrash(storage.clone().crash(), 'wal')).toBe('');
    await file.sync();
    expect(await textAfterCrash(storage.crash(), 'wal')).toBe('pending');
  });

  test('crashAt makes that call and every later call throw ECRASHED without effect', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    storage.crashAt(storage.ioCount + 1);
    await file.write(encode('+written'), 6);
    expect(storage.crashed).toBe(false);
    await expect(file.sync()).rejects.toMatchObject({ code: 'ECRASHED' });
    expect(storage.crashed).toBe(true);
    await expect(storage.open(`${DIR}/other`, 'create')).rejects.toMatchObject({ code: 'ECRASHED' });
    await expect(file.read(0, 10)).rejects.toMatchObject({ code: 'ECRASHED' });
    const survivor = storage.crash({ tear: 'all' });
    expect(await survivor.list(DIR)).toEqual(['wal']);
    expect(await textAfterCrash(survivor, 'wal')).toBe('synced+written');
  });

  test('ioCount counts every call, failed and crashed ones included', async () => {
    const storage = new SimulatedStorage();
    expect(storage.ioCount).toBe(0);
    await storage.mkdir(DIR); // 1
    const file = await storage.open(`${DIR}/a`, 'create'); // 2
    await file.write(encode('x'), 0); // 3
    await file.read(0, 1); // 4
    await file.sizeBytes(); // 5
    await file.truncate(0); // 6
    await file.sync(); // 7
    await file.close(); // 8
    await storage.stat(`${DIR}/a`); // 9
    await storage.readFile(`${DIR}/a`); // 10
    await storage.list(DIR); // 11
    await storage.syncDirectory(DIR); // 12
    await storage.rename(`${DIR}/a`, `${DIR}/b`); // 13
    await storage.unlink(`${DIR}/b`); // 14
    await expect(storage.unlink(`${DIR}/b`)).rejects.toMatchObject({ code: 'ENOENT' }); // 15
    storage.crashAt(storage.ioCount);
    await expect(storage.list(DIR)).rejects.toMatchObject({ code: 'ECRASHED' }); // 16
    expect(storage.ioCount).toBe(16);
  });

  test('onCall lists the operations of a workload with their indexes', async () => {
    const calls: StorageCallInfo[] = [];
    const storage = new SimulatedStorage({ onCall: (info) => calls.push(info) });
    await storage.mkdir(DIR);
    const file = await storage.open(`${DIR}/a`, 'create');
    await file.write(encode('x'), 0);
    await storage.rename(`${DIR}/a`, `${DIR}/b`);
    expect(calls).toEqual([
      { index: 0, op: 'mkdir', path: DIR },
      { index: 1, op: 'open', path: `${DIR}/a` },
      { index: 2, op: 'write', path: `${DIR}/a` },
      { index: 3, op: 'rename', path: `${DIR}/a`, targetPath: `${DIR}/b` },
    ]);
  });
});

describe('SimulatedStorage snapshots and clones', () => {
  test('snapshotFiles returns the current content of every file by path', async () => {
    const storage = await freshStorage();
    await storage.mkdir(`${DIR}/wal`);
    const file = await storage.open(`${DIR}/wal/0001`, 'create');
    await file.write(encode('unsynced'), 0);
    await durableFile(storage, 'manifest', 'm');
    const files = storage.snapshotFiles();
    expect([...files.keys()]).toEqual([`${DIR}/manifest`, `${DIR}/wal/0001`]);
    expect(decode(files.get(`${DIR}/wal/0001`) ?? new Uint8Array())).toBe('unsynced');
  });

  test('a clone has the same durable and unsynced state and evolves independently', async () => {
    const storage = await freshStorage();
    const file = await durableFile(storage, 'wal', 'synced');
    await file.write(encode('+unsynced'), 6);
    const copy = storage.clone();
    await file.write(encode('!'), 0);
    expect(await textAfterCrash(copy.clone().crash({ tear: 'none' }), 'wal')).toBe('synced');
    expect(await textAfterCrash(copy.crash({ tear: 'all' }), 'wal')).toBe('synced+unsynced');
    expect(decode(await storage.readFile(`${DIR}/wal`))).toBe('!ynced+unsynced');
  });

  test('a clone starts with a fresh call count and no faults', async () => {
    const storage = await freshStorage();
    storage.crashAt(storage.ioCount);
    const copy = storage.clone();
    expect(copy.ioCount).toBe(0);
    await expect(copy.list(DIR)).resolves.toEqual([]);
  });
});

describe('syncEachWrite (O_DSYNC)', () => {
  test('a write to a file opened with syncEachWrite survives a power loss without sync()', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/d');
    const file = await storage.open('/d/f', 'create', { syncEachWrite: true });
    await storage.syncDirectory('/d');
    await file.write(new Uint8Array([1, 2, 3]), 0);
    const survivor = storage.crash({ tear: 'none' });
    expect(Array.from(await survivor.readFile('/d/f'))).toEqual([1, 2, 3]);
  });

  test('a write to a file opened without it is lost by the same power loss', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/d');
    const file = await storage.open('/d/f', 'create');
    await storage.syncDirectory('/d');
    await file.write(new Uint8Array([1, 2, 3]), 0);
    const survivor = storage.crash({ tear: 'none' });
    expect((await survivor.readFile('/d/f')).length).toBe(0);
  });
});
