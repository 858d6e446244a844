/** ECSDB_<SECTION>_<KEY> variables: strict parsing of their text, and unknown names. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETTINGS, envVarOf } from '../../src/config/schema.js';
import { configDir, configInvalid, entry, resolveIn, type ConfigDir } from './config-dir.js';

let dir: ConfigDir;
beforeEach(async () => {
  dir = await configDir();
});
afterEach(async () => {
  await dir.cleanup();
});

describe('values', () => {
  it('every setting has a variable, ECSDB_<SECTION>_<KEY> in upper snake case', () => {
    const names = SETTINGS.map(envVarOf);
    expect(names).toContain('ECSDB_WAL_FLUSH_INTERVAL_MS');
    expect(names).toContain('ECSDB_STORAGE_DIR');
    expect(names).toContain('ECSDB_SNAPSHOT_EVERY_COMMITS');
    expect(new Set(names).size).toBe(SETTINGS.length);
    for (const name of names) expect(name).toMatch(/^ECSDB_[A-Z]+_[A-Z_]+$/);
  });

  it('parses integers, booleans and enum values', async () => {
    const config = await resolveIn(dir.cwd, {
      ECSDB_WAL_FLUSH_INTERVAL_MS: '0',
      ECSDB_SNAPSHOT_EVERY_COMMITS: '250',
      ECSDB_SNAPSHOT_COMPRESS: 'true',
      ECSDB_ARCHIVE_COMPRESS: 'false',
      ECSDB_STORAGE_DURABILITY: 'strict',
    });
    expect(entry(config, 'wal.flushIntervalMs')?.value).toBe(0);
    expect(entry(config, 'snapshot.everyCommits')?.value).toBe(250);
    expect(entry(config, 'snapshot.compress')?.value).toBe(true);
    expect(entry(config, 'archive.compress')?.value).toBe(false);
    expect(entry(config, 'storage.durability')?.value).toBe('strict');
  });

  it.each(['10ms', '1.5', ' 10', '10 ', '1e3', '0x10', '+5', '', '١٢'])('rejects the integer text %j as the wrong type', async (text) => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_WAL_FLUSH_INTERVAL_MS: text }), 'wrong-type');
    expect(error.message).toContain('ECSDB_WAL_FLUSH_INTERVAL_MS');
    expect(error.message).toContain('an integer from 0 to 60000');
    expect(error.message).toContain(JSON.stringify(text));
  });

  it('rejects an integer outside the range, naming the range', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_WAL_FLUSH_INTERVAL_MS: '-1' }), 'out-of-range');
    expect(error.message).toMatch(/ECSDB_WAL_FLUSH_INTERVAL_MS .*an integer from 0 to 60000, got -1/);
    await configInvalid(resolveIn(dir.cwd, { ECSDB_SNAPSHOT_EVERY_COMMITS: '99999999999999999999' }), 'out-of-range');
  });

  it.each(['TRUE', 'True', '1', 'yes', 'on', ''])('accepts only true or false for a boolean, not %j', async (text) => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_SNAPSHOT_COMPRESS: text }), 'wrong-type');
    expect(error.message).toContain('ECSDB_SNAPSHOT_COMPRESS must be true or false');
  });

  it('rejects an enum value that is not allowed, listing the allowed ones', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_STORAGE_DURABILITY: 'fast' }), 'out-of-range');
    expect(error.message).toContain('"memory", "buffered", "strict"');
  });

  it('rejects an empty directory', async () => {
    await configInvalid(resolveIn(dir.cwd, { ECSDB_STORAGE_DIR: '' }), 'out-of-range');
  });
});

describe('names', () => {
  it('an unknown key in a known section fails, naming the variable and the closest setting', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_WAL_FLUSH_INTERVAL: '5' }), 'unknown-key');
    expect(error.message).toContain('ECSDB_WAL_FLUSH_INTERVAL in the environment');
    expect(error.message).toContain('did you mean ECSDB_WAL_FLUSH_INTERVAL_MS?');
  });

  it('a key under the wrong section points at the section that has it', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_WAL_DURABILITY: 'strict' }), 'unknown-key');
    expect(error.message).toContain('did you mean ECSDB_STORAGE_DURABILITY?');
    const snapshotDir = await configInvalid(resolveIn(dir.cwd, { ECSDB_SNAPSHOT_DIR: '/x' }), 'unknown-key');
    expect(snapshotDir.message).toContain('did you mean ECSDB_STORAGE_DIR?');
  });

  it('a misspelled section close to a setting fails too', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, { ECSDB_SNAPSHOTS_KEEP: '3' }), 'unknown-key');
    expect(error.message).toContain('did you mean ECSDB_SNAPSHOT_KEEP?');
  });

  it('leaves alone variables that are not settings, and unset ones', async () => {
    const config = await resolveIn(dir.cwd, {
      ECSDB_BENCH_SCALE: '0.1',
      ECSDB_SIGKILL_ROUNDS: 'x',
      ECSDB_CRASH_WORKLOAD_COMMITS: '5',
      ECSDB_WAL_FLUSH_INTERVAL_MS: undefined,
      PATH: '/usr/bin',
      ecsdb_wal_flush_interval_ms: '5',
    });
    expect(entry(config, 'wal.flushIntervalMs')).toEqual({ value: 100, source: 'default' });
  });
});
