/**
 * Key rotation (`rekey`): every file re-encrypted under the new key, nothing lost; encrypting a
 * clear directory and decrypting an encrypted one; and a power loss after every I/O call of a
 * rotation leaves a directory that opens with the old key (rotation not committed) or the new
 * key (committed), holding every commit.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EcsdbError, open, rekey, type EncryptionOptions } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { SimulatedStorage, type CrashOptions } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';
import { reportFamily } from '../helpers/proof-summary.js';
import { readTree } from '../helpers/tree.js';

const OLD_KEY = randomBytes(32).toString('hex');
const NEW_KEY = randomBytes(32).toString('hex');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-rekey-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A database with snapshots (one incremental), archived segments (plain or compressed) and a live WAL. */
async function build(directory: string, encryption: EncryptionOptions | undefined, commits: number, storage?: Storage, compress = true): Promise<unknown> {
  const db = await open({
    dir: directory,
    components: WORKLOAD_COMPONENTS,
    config: false,
    env: {},
    ...(storage === undefined ? {} : { storage }),
    ...(encryption === undefined ? {} : { encryption }),
    wal: { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000 },
    snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0, fullEvery: 2, keep: 2, chunkSlots: 256 },
    archive: { compress, segmentCountMax: 0 },
  });
  for (let index = 0; index < commits; index++) {
    db.transact((tx) => workloadStep(tx, 5, index));
    if (index % 30 === 29) await db.snapshot();
  }
  const dump = dumpDatabase(db);
  await db.close();
  return dump;
}

async function reopen(directory: string, encryption: EncryptionOptions | undefined, storage?: Storage) {
  return open({ dir: directory, components: WORKLOAD_COMPONENTS, config: false, env: {}, ...(storage === undefined ? {} : { storage }), ...(encryption === undefined ? {} : { encryption }) });
}

describe('rekey()', () => {
  test('re-encrypts every file under the new key: the old key is refused, the new one opens the same world', async () => {
    const expected = await build(dir, { key: OLD_KEY }, 100);
    const before = await readTree(dir);
    const result = await rekey({ dir, from: { key: OLD_KEY }, to: { key: NEW_KEY } });
    expect(result.encrypted).toBe(true);
    const after = await readTree(dir);
    for (const [file, bytes] of after) {
      if (file.startsWith('wal/') || file.startsWith('archive/') || file.startsWith('snapshots/')) {
        expect(before.get(file)?.equals(bytes), `${file} was rewritten`).not.toBe(true);
      }
    }
    expect(await readdir(join(dir, 'rekey')), 'the staging directory is empty').toEqual([]);
    await expect(reopen(dir, { key: OLD_KEY })).rejects.toMatchObject({ code: 'KEY_INVALID' });
    const db = await reopen(dir, { key: NEW_KEY });
    expect(dumpDatabase(db)).toEqual(expected);
    await db.close();
  });

  test('encrypts a clear directory and decrypts it again, losing nothing', async () => {
    const expected = await build(dir, undefined, 90);
    await rekey({ dir, to: { passphrase: 'open sesame', scryptLogN: 10 } });
    await expect(reopen(dir, undefined)).rejects.toMatchObject({ code: 'KEY_REQUIRED' });
    const encrypted = await reopen(dir, { passphrase: 'open sesame' });
    expect(dumpDatabase(encrypted)).toEqual(expected);
    await encrypted.close();
    await rekey({ dir, from: { passphrase: 'open sesame' } });
    const clear = await reopen(dir, undefined);
    expect(dumpDatabase(clear)).toEqual(expected);
    await clear.close();
  });

  test('with the wrong current key it fails with KEY_INVALID and changes nothing', async () => {
    await build(dir, { key: OLD_KEY }, 40);
    const before = await readTree(dir);
    const error = await rekey({ dir, from: { key: NEW_KEY }, to: { key: OLD_KEY } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe('KEY_INVALID');
    expect(await readTree(dir)).toEqual(before);
  });

  test('ecsdb rekey takes the current key like every command and the new one from a variable it names', async () => {
    const expected = await build(dir, { key: OLD_KEY }, 60);
    process.env.ECSDB_TEST_NEW_KEY = NEW_KEY;
    process.env.ECSDB_ENCRYPTION_KEY = OLD_KEY;
    let stdout = '';
    let stderr = '';
    try {
      const status = await runCli(['rekey', '--dir', dir, '--new-key-env', 'ECSDB_TEST_NEW_KEY'], { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(stdout).toContain('encrypted under the new key');
    } finally {
      delete process.env.ECSDB_TEST_NEW_KEY;
      delete process.env.ECSDB_ENCRYPTION_KEY;
    }
    const db = await reopen(dir, { key: NEW_KEY });
    expect(dumpDatabase(db)).toEqual(expected);
    await db.close();
  });
});

describe.each<[string, EncryptionOptions | undefined, EncryptionOptions, boolean]>([
  ['a key to a new key, compressed archives', { key: OLD_KEY }, { key: NEW_KEY }, true],
  ['the clear to a key, plain archives', undefined, { key: NEW_KEY }, false],
])('power loss after every I/O call of a rotation from %s', (_label, from, to, compress) => {
  test('opens with the old key before the commit and with the new one after, every commit kept', async () => {
    const DIR = '/data/rekey';
    const commits = 70;
    const model = await modelDumps(open, 5, commits);
    const base = new SimulatedStorage({ seed: 21 });
    const expected = await build(DIR, from, commits, base, compress);
    expect(expected).toEqual(model[model.length - 1]);
    const dry = base.clone();
    await rekey({ dir: DIR, storage: dry, from, to });
    const callCount = dry.ioCount;
    const tears: CrashOptions[] = [{ tear: 'none' }, { tear: 'all' }, { tear: 'random', seed: 1 }];
    let states = 0;
    let oldKeyStates = 0;
    let newKeyStates = 0;
    for (let k = 0; k < callCount; k++) {
      const storage = base.clone();
      storage.crashAt(k);
      // The last call releases the lock, which tolerates failure: rekey may return there.
      await rekey({ dir: DIR, storage, from, to }).catch((error: unknown) => {
        if (!storage.crashed) throw error;
      });
      for (const survivor of [storage.clone(), ...tears.map((tear) => storage.crash(tear))]) {
        const label = `crash at call ${k}/${callCount}`;
        const withOld = await reopen(DIR, from, survivor).catch((error: unknown) => {
          if (error instanceof EcsdbError && (error.code === 'KEY_INVALID' || error.code === 'KEY_REQUIRED')) return undefined;
          throw error;
        });
        if (withOld === undefined) newKeyStates++;
        else oldKeyStates++;
        const db = withOld ?? (await reopen(DIR, to, survivor));
        expect(dumpDatabase(db), label).toEqual(expected);
        await db.close();
        // Opening with the new key finished the rotation: nothing is left staged.
        if (withOld === undefined) expect(await survivor.list(`${DIR}/rekey`), label).toEqual([]);
        states++;
      }
    }
    expect(oldKeyStates, 'some crash states precede the commit').toBeGreaterThan(0);
    expect(newKeyStates, 'some crash states follow the commit').toBeGreaterThan(0);
    reportFamily('key rotation crash states', { states, 'commits lost': 0, unopenable: 0 });
    console.log(`key rotation crash states: ${states} over ${callCount} I/O calls (${oldKeyStates} open with the old key, ${newKeyStates} with the new)`);
  });
});
