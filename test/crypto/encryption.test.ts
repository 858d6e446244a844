/**
 * Encryption at rest: round trips through the WAL, snapshots (full and incremental), archives
 * (plain and compressed) and recovery; a missing, wrong or unexpected key refused before anything
 * changes; no known plaintext in any file; secrets never in db.config().
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EcsdbError, defineComponent, open, t, type Database, type EncryptionOptions } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';
import { readTree } from '../helpers/tree.js';

const SECRET_NAME = 'Xylophonist';
const SECRET_TEXT = 'quartz-marmalade-7731';
const Secret = defineComponent(SECRET_NAME, { motto: t.string, level: t.i32 });
const COMPONENTS = [...WORKLOAD_COMPONENTS, Secret];
const KEY = randomBytes(32).toString('hex');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-crypto-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Fill {
  readonly db: Database;
  readonly commits: number;
}

/** A workload with strings, several snapshots (incremental ones too) and archived segments. */
async function fill(encryption: EncryptionOptions | undefined, options: { compress: boolean; commits?: number }): Promise<Fill> {
  const db = await open({
    dir,
    components: COMPONENTS,
    config: false,
    env: {},
    ...(encryption === undefined ? {} : { encryption }),
    wal: { segmentSizeBytesMax: 4096 },
    snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0, fullEvery: 2, keep: 3, compress: options.compress, chunkSlots: 256 },
    archive: { compress: options.compress, segmentCountMax: 0 },
  });
  const commits = options.commits ?? 240;
  for (let index = 0; index < commits; index++) {
    db.transact((tx) => {
      workloadStep(tx, 7, index);
      if (index % 20 === 0) tx.add(tx.create(), Secret, { motto: `${SECRET_TEXT} #${index}`, level: index });
    });
    if (index % 60 === 59) await db.snapshot();
  }
  return { db, commits };
}

function dumpAll(db: Database): unknown {
  return { world: dumpDatabase(db), secrets: db.query(Secret).map((e) => db.get(e, Secret)) };
}

describe.each([
  ['plain archives and sections', false],
  ['compressed archives and sections', true],
])('an encrypted database (%s)', (_label, compress) => {
  test('reopens to the same world through snapshots (full and incremental), archived WAL and the live WAL', async () => {
    const { db } = await fill({ key: KEY }, { compress });
    const before = dumpAll(db);
    expect(db.snapshots.some((s) => s.base !== undefined), 'an incremental snapshot was written').toBe(true);
    await db.close();
    expect((await readdir(join(dir, 'archive'))).length, 'segments were archived').toBeGreaterThan(0);
    const reopened = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: { key: KEY } });
    expect(reopened.recovery!.snapshot, 'recovery starts from a snapshot').toBeDefined();
    expect(dumpAll(reopened)).toEqual(before);
    await reopened.close();
  });

  test('falls back to the archived WAL from LSN 1 when every snapshot is gone, and the world is the same', async () => {
    const { db } = await fill({ key: KEY }, { compress });
    const before = dumpAll(db);
    await db.close();
    await rm(join(dir, 'snapshots'), { recursive: true });
    await rm(join(dir, 'MANIFEST'));
    const reopened = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: { key: KEY } });
    expect(reopened.recovery!.snapshot).toBeUndefined();
    expect(reopened.recovery!.wal.firstLsn).toBe(1);
    expect(dumpAll(reopened)).toEqual(before);
    await reopened.close();
  });

  test('no file holds a known plaintext: a string value, a component name, a field name', async () => {
    const { db } = await fill({ key: KEY }, { compress });
    await db.close();
    const files = await readTree(dir);
    expect([...files.keys()].some((f) => f.startsWith('archive/'))).toBe(true);
    expect([...files.keys()].some((f) => f.startsWith('snapshots/'))).toBe(true);
    for (const needle of [SECRET_TEXT, SECRET_NAME, 'motto', 'Position']) {
      for (const [file, bytes] of files) {
        expect(bytes.includes(Buffer.from(needle, 'utf8')), `${needle} in ${file}`).toBe(false);
      }
    }
  });
});

test('the same workload in the clear does show those plaintexts (the scan can fail)', async () => {
  const { db } = await fill(undefined, { compress: false });
  await db.close();
  const files = await readTree(dir);
  const holds = (needle: string) => [...files.values()].some((bytes) => bytes.includes(Buffer.from(needle, 'utf8')));
  expect(holds(SECRET_TEXT)).toBe(true);
  expect(holds(SECRET_NAME)).toBe(true);
});

describe('a missing, wrong or unexpected key', () => {
  async function expectRefused(encryption: EncryptionOptions | undefined, code: string, env: Record<string, string> = {}): Promise<EcsdbError> {
    const before = await readTree(dir);
    const error = await open({ dir, components: COMPONENTS, config: false, env, ...(encryption === undefined ? {} : { encryption }) }).then(
      () => expect.fail('open() succeeded'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe(code);
    // Byte for byte, nothing changed (and no LOCK was left behind).
    expect(await readTree(dir)).toEqual(before);
    return error as EcsdbError;
  }

  test('no key for an encrypted directory: KEY_REQUIRED, directory untouched', async () => {
    await (await fill({ key: KEY }, { compress: true, commits: 100 })).db.close();
    const error = await expectRefused(undefined, 'KEY_REQUIRED');
    expect(error.message).toContain('encrypted');
  });

  test('the wrong key: KEY_INVALID, directory untouched, the key not in the message', async () => {
    const { db } = await fill({ key: KEY }, { compress: false, commits: 100 });
    await db.close();
    const wrong = randomBytes(32).toString('hex');
    const error = await expectRefused({ key: wrong }, 'KEY_INVALID');
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(KEY);
  });

  test('a passphrase for a directory encrypted with a key, and a key from the environment for a clear one', async () => {
    const { db } = await fill({ key: KEY }, { compress: false, commits: 50 });
    await db.close();
    await expectRefused({ passphrase: 'hunter2' }, 'KEY_INVALID');
    await rm(dir, { recursive: true });
    await (await open({ dir, components: COMPONENTS, config: false, env: {} })).close();
    const error = await expectRefused(undefined, 'KEY_INVALID', { ECSDB_ENCRYPTION_KEY: KEY });
    expect(error.detail).toBe('not-encrypted');
  });

  test('a wrong passphrase: KEY_INVALID; the right one opens', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: { passphrase: 'correct horse', scryptLogN: 10 } });
    db.transact((tx) => tx.add(tx.create(), Secret, { motto: SECRET_TEXT, level: 1 }));
    await db.close();
    await expectRefused({ passphrase: 'correct hose' }, 'KEY_INVALID');
    const reopened = await open({ dir, components: COMPONENTS, config: false, env: { ECSDB_ENCRYPTION_PASSPHRASE: 'correct horse' } });
    expect(reopened.query(Secret).map((e) => reopened.get(e, Secret)!.motto)).toEqual([SECRET_TEXT]);
    await reopened.close();
  });

  test('a key file: hex text, base64 text or 32 raw bytes all open the same database', async () => {
    const raw = randomBytes(32);
    const keyDir = await mkdtemp(join(tmpdir(), 'ecsdb-keys-'));
    try {
      await writeFile(join(keyDir, 'hex'), `${raw.toString('hex')}\n`);
      await writeFile(join(keyDir, 'b64'), raw.toString('base64'));
      await writeFile(join(keyDir, 'raw'), raw);
      const db = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: { keyFile: join(keyDir, 'hex') } });
      db.transact((tx) => tx.add(tx.create(), Secret, { motto: 'm', level: 2 }));
      await db.close();
      for (const file of ['b64', 'raw']) {
        const again = await open({ dir, components: COMPONENTS, config: false, env: { ECSDB_ENCRYPTION_KEY_FILE: join(keyDir, file) } });
        expect(again.query(Secret)).toHaveLength(1);
        await again.close();
      }
      await writeFile(join(keyDir, 'short'), 'abcd');
      await expectRefused({ keyFile: join(keyDir, 'short') }, 'KEY_INVALID');
    } finally {
      await rm(keyDir, { recursive: true, force: true });
    }
  });

  test('two key sources at once are CONFIG_INVALID before the directory is touched', async () => {
    await rm(dir, { recursive: true });
    const error = await open({ dir, components: COMPONENTS, config: false, env: { ECSDB_ENCRYPTION_PASSPHRASE: 'x' }, encryption: { key: KEY } }).catch((e: unknown) => e);
    expect((error as EcsdbError).code).toBe('CONFIG_INVALID');
    expect((error as EcsdbError).detail).toBe('key-conflict');
    await expect(stat(dir)).rejects.toThrow();
  });
});

describe('secrets in the configuration', () => {
  test('db.config() reports a key and a passphrase as [redacted], never their value', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: { key: KEY } });
    const report = db.config();
    expect(report.encryption.key).toEqual({ value: '[redacted]', source: 'open()' });
    expect(JSON.stringify(report)).not.toContain(KEY);
    await db.close();
    const byPassphrase = await open({ dir: join(dir, 'p'), components: COMPONENTS, config: false, env: { ECSDB_ENCRYPTION_PASSPHRASE: 'sesame-open', ECSDB_ENCRYPTION_SCRYPT_LOG_N: '10' } });
    expect(byPassphrase.config().encryption.passphrase).toEqual({ value: '[redacted]', source: 'env ECSDB_ENCRYPTION_PASSPHRASE' });
    expect(JSON.stringify(byPassphrase.config())).not.toContain('sesame-open');
    await byPassphrase.close();
  });

  test('a key or passphrase written in ecsdb.toml is refused, naming the line and not the value', async () => {
    const file = join(dir, 'ecsdb.toml');
    await writeFile(file, `[encryption]\nkey = "${KEY}"\n`);
    const error = await open({ dir: join(dir, 'db'), components: COMPONENTS, config: file, env: {} }).catch((e: unknown) => e);
    expect((error as EcsdbError).code).toBe('CONFIG_INVALID');
    expect((error as EcsdbError).detail).toBe('secret-in-file');
    expect((error as EcsdbError).message).toContain('line 2');
    expect((error as EcsdbError).message).not.toContain(KEY);
  });
});

test('power loss during an encrypted workload: every crash state opens to a committed prefix (sample of I/O calls)', async () => {
  const DIR = '/data/enc';
  const commits = 60;
  const model = await modelDumps(open, 3, commits);
  const options = { dir: DIR, components: WORKLOAD_COMPONENTS, config: false as const, env: {}, encryption: { key: KEY }, wal: { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 300 } };
  const run = async (storage: SimulatedStorage) => {
    let acknowledged = 0;
    try {
      const db = await open({ ...options, storage, snapshot: { everyCommits: 25, everyMs: 0, walBytesMax: 0 }, archive: { compress: true } });
      for (let index = 0; index < commits; index++) {
        const commit = db.transact((tx) => workloadStep(tx, 3, index), { durability: index % 3 === 0 ? 'strict' : 'buffered' });
        commit.durable.then(() => (acknowledged = Math.max(acknowledged, commit.lsn)), () => undefined);
        if (index % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await db.close();
    } catch (error) {
      if (!storage.crashed) throw error;
    }
    await new Promise((resolve) => setImmediate(resolve));
    return acknowledged;
  };
  const dry = new SimulatedStorage({ seed: 3 });
  expect(await run(dry)).toBe(model.length - 1);
  let states = 0;
  for (let k = 0; k < dry.ioCount; k += 3) {
    const storage = new SimulatedStorage({ seed: 3 });
    storage.crashAt(k);
    const acknowledged = await run(storage);
    for (const survivor of [storage.crash({ tear: 'none' }), storage.crash({ tear: 'random', seed: k })]) {
      const db = await open({ ...options, storage: survivor });
      expect(db.lsn, `crash at ${k}`).toBeGreaterThanOrEqual(acknowledged);
      expect(dumpDatabase(db), `crash at ${k}`).toEqual(model[db.lsn]);
      await db.close();
      states++;
    }
  }
  expect(states).toBeGreaterThan(20);
});
