/**
 * Precedence: built-in defaults < ecsdb.toml < ECSDB_* environment < open() options, setting by
 * setting, and which configuration file is read.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SETTINGS, settingId } from '../../src/config/schema.js';
import { configDir, configInvalid, entry, resolveIn, type ConfigDir } from './config-dir.js';

let dir: ConfigDir;
beforeEach(async () => {
  dir = await configDir();
});
afterEach(async () => {
  await dir.cleanup();
});

describe('each layer overrides the one before', () => {
  it('without file, environment or options every setting is its default', async () => {
    const config = await resolveIn(dir.cwd);
    expect(config.file).toBeUndefined();
    for (const spec of SETTINGS.filter((s) => s.default !== undefined)) {
      expect(entry(config, settingId(spec)), settingId(spec)).toEqual({ value: spec.default, source: 'default' });
    }
    expect(entry(config, 'storage.dir')).toBeUndefined();
    expect(entry(config, 'storage.durability')).toEqual({ value: 'memory', source: 'default' });
  });

  it('ecsdb.toml overrides the default', async () => {
    const path = await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = 20\n');
    const config = await resolveIn(dir.cwd);
    expect(config.file).toBe(path);
    expect(entry(config, 'wal.flushIntervalMs')).toEqual({ value: 20, source: `file ${path}` });
    expect(entry(config, 'wal.batchSizeBytesMax')?.source).toBe('default');
  });

  it('the environment overrides ecsdb.toml', async () => {
    await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = 20\n');
    const config = await resolveIn(dir.cwd, { ECSDB_WAL_FLUSH_INTERVAL_MS: '30' });
    expect(entry(config, 'wal.flushIntervalMs')).toEqual({ value: 30, source: 'env ECSDB_WAL_FLUSH_INTERVAL_MS' });
  });

  it('open() options override the environment', async () => {
    await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = 20\n');
    const config = await resolveIn(dir.cwd, { ECSDB_WAL_FLUSH_INTERVAL_MS: '30' }, { wal: { flushIntervalMs: 40 } });
    expect(entry(config, 'wal.flushIntervalMs')).toEqual({ value: 40, source: 'open()' });
  });

  it('an option given as undefined does not override anything', async () => {
    const config = await resolveIn(dir.cwd, { ECSDB_SNAPSHOT_KEEP: '5' }, { snapshot: { keep: undefined } });
    expect(entry(config, 'snapshot.keep')).toEqual({ value: 5, source: 'env ECSDB_SNAPSHOT_KEEP' });
  });

  it('each setting keeps the source of the highest layer that sets it', async () => {
    const path = await dir.write(
      'ecsdb.toml',
      '[storage]\ndurability = "strict"\n[snapshot]\nkeep = 3\nevery_ms = 0\n[archive]\ncompress = true\nsegment_count_max = 2\n',
    );
    const config = await resolveIn(dir.cwd, { ECSDB_SNAPSHOT_KEEP: '4', ECSDB_ARCHIVE_COMPRESS: 'false' }, { archive: { compress: true } });
    expect(entry(config, 'storage.durability')).toEqual({ value: 'strict', source: `file ${path}` });
    expect(entry(config, 'snapshot.everyMs')).toEqual({ value: 0, source: `file ${path}` });
    expect(entry(config, 'snapshot.keep')).toEqual({ value: 4, source: 'env ECSDB_SNAPSHOT_KEEP' });
    expect(entry(config, 'archive.compress')).toEqual({ value: true, source: 'open()' });
    expect(entry(config, 'archive.segmentCountMax')).toEqual({ value: 2, source: `file ${path}` });
    expect(entry(config, 'archive.sizeBytesMax')).toEqual({ value: 0, source: 'default' });
  });

  it('durability defaults to buffered once any layer sets a dir', async () => {
    await dir.write('ecsdb.toml', '[storage]\ndir = "data"\n');
    const config = await resolveIn(dir.cwd);
    expect(entry(config, 'storage.durability')).toEqual({ value: 'buffered', source: 'default' });
  });
});

describe('relative dir', () => {
  it('in ecsdb.toml is relative to the file, wherever the process runs', async () => {
    const path = await dir.write('other.toml', '[storage]\ndir = "data"\n');
    const config = await resolveIn('/', {}, { config: path });
    expect(entry(config, 'storage.dir')?.value).toBe(join(dir.cwd, 'data'));
  });

  it('in the environment and in open() options is relative to the working directory', async () => {
    expect(entry(await resolveIn(dir.cwd, { ECSDB_STORAGE_DIR: 'from-env' }), 'storage.dir')?.value).toBe(join(dir.cwd, 'from-env'));
    expect(entry(await resolveIn(dir.cwd, {}, { dir: 'from-open' }), 'storage.dir')?.value).toBe(join(dir.cwd, 'from-open'));
  });
});

describe('which configuration file is read', () => {
  it('ECSDB_CONFIG names a file that is read instead of ./ecsdb.toml', async () => {
    await dir.write('ecsdb.toml', '[snapshot]\nkeep = 3\n');
    const named = await dir.write('named.toml', '[snapshot]\nkeep = 7\n');
    const config = await resolveIn(dir.cwd, { ECSDB_CONFIG: 'named.toml' });
    expect(config.file).toBe(named);
    expect(entry(config, 'snapshot.keep')).toEqual({ value: 7, source: `file ${named}` });
  });

  it('open({ config }) wins over ECSDB_CONFIG', async () => {
    await dir.write('from-env.toml', '[snapshot]\nkeep = 3\n');
    const named = await dir.write('from-open.toml', '[snapshot]\nkeep = 9\n');
    const config = await resolveIn(dir.cwd, { ECSDB_CONFIG: 'from-env.toml' }, { config: 'from-open.toml' });
    expect(config.file).toBe(named);
    expect(entry(config, 'snapshot.keep')?.value).toBe(9);
  });

  it('open({ config: false }) reads no file, neither ./ecsdb.toml nor ECSDB_CONFIG', async () => {
    await dir.write('ecsdb.toml', '[snapshot]\nkeep = 3\n');
    await dir.write('named.toml', '[snapshot]\nkeep = 7\n');
    const config = await resolveIn(dir.cwd, { ECSDB_CONFIG: 'named.toml' }, { config: false });
    expect(config.file).toBeUndefined();
    expect(entry(config, 'snapshot.keep')).toEqual({ value: 2, source: 'default' });
  });

  it('a named file that does not exist is CONFIG_INVALID, from open() or from ECSDB_CONFIG', async () => {
    const fromOpen = await configInvalid(resolveIn(dir.cwd, {}, { config: 'missing.toml' }), 'missing-file');
    expect(fromOpen.message).toContain(join(dir.cwd, 'missing.toml'));
    expect(fromOpen.message).toContain('open() option config');
    const fromEnv = await configInvalid(resolveIn(dir.cwd, { ECSDB_CONFIG: 'gone.toml' }), 'missing-file');
    expect(fromEnv.message).toContain('ECSDB_CONFIG');
  });

  it('a named path that is a directory is CONFIG_INVALID', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, {}, { config: '.' }), 'missing-file');
    expect(error.message).toContain('is a directory');
  });

  it('a config option that is neither a path nor false is CONFIG_INVALID', async () => {
    await configInvalid(resolveIn(dir.cwd, {}, { config: true }), 'wrong-type');
  });
});
