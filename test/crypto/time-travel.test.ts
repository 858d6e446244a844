/**
 * Time travel on an encrypted directory: views read sealed WAL records, sealed snapshot sections
 * and sealed compressed archives with the key (db.at() with the database's own, openAt() and
 * the CLI with the one they are given), match the model at every sampled LSN, and are refused
 * with KEY_REQUIRED / KEY_INVALID without the right key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { open, openAt } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';

const KEY = randomBytes(32).toString('hex');
const SEED = 31;
const COMMITS = 160;
let dir: string;
let model: unknown[][];
/** Some workload transactions cancel out and take no LSN: the last LSN is the model's. */
let lastLsn: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-crypto-history-'));
  model = await modelDumps(open, SEED, COMMITS);
  lastLsn = model.length - 1;
  const db = await open({
    dir,
    components: WORKLOAD_COMPONENTS,
    config: false,
    env: {},
    encryption: { key: KEY },
    wal: { segmentSizeBytesMax: 4096 },
    snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0, fullEvery: 2, keep: 3, chunkSlots: 256 },
    archive: { compress: true, segmentCountMax: 0 },
  });
  for (let index = 0; index < COMMITS; index++) {
    db.transact((tx) => workloadStep(tx, SEED, index));
    if (index % 50 === 49) await db.snapshot();
  }
  // db.at() uses the database's own key.
  expect(db.lsn).toBe(lastLsn);
  for (const lsn of [1, 40, 99, lastLsn]) {
    const view = await db.at({ lsn });
    expect(dumpDatabase(view as never), `db.at LSN ${lsn}`).toEqual(model[lsn]);
    view.close();
  }
  await db.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('time travel on an encrypted directory', () => {
  test('openAt with the key matches the model at every tenth LSN', async () => {
    for (let lsn = 0; lsn <= lastLsn; lsn += 10) {
      const view = await openAt({ dir, components: WORKLOAD_COMPONENTS, lsn, encryption: { key: KEY } });
      expect(dumpDatabase(view as never), `LSN ${lsn}`).toEqual(model[lsn]);
      view.close();
    }
  });

  test('openAt without the key or with another one is refused', async () => {
    await expect(openAt({ dir, components: WORKLOAD_COMPONENTS, lsn: 5 })).rejects.toMatchObject({ code: 'KEY_REQUIRED' });
    await expect(openAt({ dir, components: WORKLOAD_COMPONENTS, lsn: 5, encryption: { key: randomBytes(32).toString('hex') } })).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });

  test('ecsdb dump --lsn and diff read it with --key-file', async () => {
    const keyFile = join(dir, '..', `${dir.split('/').pop()}.key`);
    await writeFile(keyFile, KEY);
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { stdout: (text: string) => void out.push(text), stderr: (text: string) => void err.push(text) };
      const dumped = await runCli(['dump', '--dir', dir, '--lsn', '60', '--key-file', keyFile], io);
      expect(dumped, err.join('')).toBe(0);
      expect(out.join('').length).toBeGreaterThan(0);
      out.length = 0;
      const diffed = await runCli(['diff', '--dir', dir, '--from-lsn', '60', '--to-lsn', '120', '--json', '--key-file', keyFile], io);
      expect(diffed, err.join('')).toBe(0);
      const diff = JSON.parse(out.join('')) as { fromLsn: number; toLsn: number };
      expect([diff.fromLsn, diff.toLsn]).toEqual([60, 120]);
      out.length = 0;
      const refused = await runCli(['dump', '--dir', dir, '--lsn', '60'], io);
      expect(refused).not.toBe(0);
    } finally {
      await rm(keyFile, { force: true });
    }
  });
});
