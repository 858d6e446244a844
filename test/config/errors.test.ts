/**
 * Every kind of configuration error is CONFIG_INVALID naming the setting, its source and what is
 * allowed: malformed TOML (with line and column), unknown keys (with the closest valid one),
 * wrong types and values out of range, from the file and from open() options.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { Position } from '../helpers/fixtures.js';
import { configDir, configInvalid, resolveIn, type ConfigDir } from './config-dir.js';

let dir: ConfigDir;
beforeEach(async () => {
  dir = await configDir();
});
afterEach(async () => {
  await dir.cleanup();
});

describe('a malformed file', () => {
  it('names the file, line and column', async () => {
    const path = await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = = 3\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'syntax');
    expect(error.message).toContain(`${path}:2:21: not valid TOML`);
    expect(error.message).toContain('flush_interval_ms = = 3'); // the code block
  });

  it('names the line of an unterminated string further down', async () => {
    const path = await dir.write('ecsdb.toml', '# comment\n[storage]\n\ndurability = "strict\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'syntax');
    expect(error.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: not valid TOML`));
  });

  it('fails open() before the data directory is touched', async () => {
    await dir.write('ecsdb.toml', '[wal\n');
    const dataDir = join(dir.cwd, 'data');
    await configInvalid(open({ dir: dataDir, components: [Position], cwd: dir.cwd, env: {} }), 'syntax');
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('an unknown key in the file', () => {
  it('names the key, the file and line, and the closest key of its section', async () => {
    const path = await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = 5\nbatch_size_bytes = 10\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'unknown-key');
    expect(error.message).toContain(`unknown key [wal] batch_size_bytes in ${path} line 3`);
    expect(error.message).toContain('did you mean [wal] batch_size_bytes_max?');
  });

  it('written in camelCase points at the snake_case key', async () => {
    await dir.write('ecsdb.toml', '[wal]\nflushIntervalMs = 5\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'unknown-key');
    expect(error.message).toContain('did you mean [wal] flush_interval_ms?');
  });

  it('under the wrong section points at the section that has it', async () => {
    await dir.write('ecsdb.toml', '[wal]\ndurability = "strict"\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'unknown-key');
    expect(error.message).toContain('did you mean [storage] durability?');
  });

  it('outside any section points at its section', async () => {
    await dir.write('ecsdb.toml', 'dir = "data"\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'unknown-key');
    expect(error.message).toContain('unknown key dir');
    expect(error.message).toContain('line 1');
    expect(error.message).toContain('did you mean [storage] dir?');
  });

  it('an unknown section names the closest section', async () => {
    await dir.write('ecsdb.toml', '[wal]\nflush_interval_ms = 5\n\n[snapshots]\nkeep = 3\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'unknown-key');
    expect(error.message).toContain('unknown section [snapshots]');
    expect(error.message).toContain('line 4');
    expect(error.message).toContain('did you mean [snapshot]?');
  });
});

describe('a wrong type or a value out of range in the file', () => {
  it.each([
    ['[wal]\nflush_interval_ms = "100"\n', 'wrong-type', '[wal] flush_interval_ms', 'an integer from 0 to 60000, got "100"'],
    ['[wal]\nflush_interval_ms = 1.5\n', 'wrong-type', '[wal] flush_interval_ms', 'an integer from 0 to 60000, got 1.5'],
    ['[wal]\nflush_interval_ms = 60001\n', 'out-of-range', '[wal] flush_interval_ms', 'an integer from 0 to 60000, got 60001'],
    ['[snapshot]\nkeep = 0\n', 'out-of-range', '[snapshot] keep', 'an integer from 1 to 1000, got 0'],
    ['[snapshot]\ncompress = "yes"\n', 'wrong-type', '[snapshot] compress', 'true or false, got "yes"'],
    ['[archive]\nsegment_count_max = [1]\n', 'wrong-type', '[archive] segment_count_max', 'got an array'],
    ['[snapshot]\nevery_ms = 1979-05-27\n', 'wrong-type', '[snapshot] every_ms', 'got a date'],
    ['[storage]\ndurability = "fast"\n', 'out-of-range', '[storage] durability', 'one of "memory", "buffered", "strict", got "fast"'],
    ['[storage]\ndir = ""\n', 'out-of-range', '[storage] dir', 'a non-empty path'],
  ])('%j is %s', async (text, detail, key, allowed) => {
    const path = await dir.write('ecsdb.toml', text);
    const error = await configInvalid(resolveIn(dir.cwd), detail);
    expect(error.message).toContain(`${key} in ${path} line 2`);
    expect(error.message).toContain(allowed);
  });

  it('a section that is not a table is the wrong type', async () => {
    await dir.write('ecsdb.toml', 'wal = 5\n');
    const error = await configInvalid(resolveIn(dir.cwd), 'wrong-type');
    expect(error.message).toContain('must be a table ([wal])');
  });

  it('is reported even when a later layer overrides the setting', async () => {
    await dir.write('ecsdb.toml', '[snapshot]\nkeep = 0\n');
    await configInvalid(resolveIn(dir.cwd, { ECSDB_SNAPSHOT_KEEP: '2' }, { snapshot: { keep: 2 } }), 'out-of-range');
  });
});

describe('open() options', () => {
  it('an unknown option names the closest one', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, {}, { wal: { flushInterval: 5 } }), 'unknown-key');
    expect(error.message).toContain('unknown open() option wal.flushInterval; did you mean wal.flushIntervalMs?');
  });

  it('a value out of range names the option and the range', async () => {
    const error = await configInvalid(resolveIn(dir.cwd, {}, { wal: { flushIntervalMs: -1 } }), 'out-of-range');
    expect(error.message).toBe('open() option wal.flushIntervalMs must be an integer from 0 to 60000, got -1');
  });

  it('a section that is not an object is the wrong type', async () => {
    await configInvalid(resolveIn(dir.cwd, {}, { snapshot: 5 }), 'wrong-type');
  });

  it('an unknown top-level key of open() names it and the closest valid key, before the directory is touched', async () => {
    const data = join(dir.cwd, 'data');
    const misspelt = await configInvalid(open({ components: [Position], cwd: dir.cwd, env: {}, dri: data } as never), 'unknown-key');
    expect(misspelt.message).toContain('unknown open() option dri; did you mean dir?');
    expect(existsSync(data)).toBe(false);
    const other = await configInvalid(open({ components: [Position], dir: data, cwd: dir.cwd, env: {}, durabilty: 'strict' } as never), 'unknown-key');
    expect(other.message).toContain('unknown open() option durabilty; did you mean durability?');
    expect(existsSync(data)).toBe(false);
    // Every key OpenOptions has is accepted (a database in memory needs no directory).
    const db = await open({ components: [Position], cwd: dir.cwd, env: {}, config: false, durability: 'memory', wal: {}, snapshot: {}, archive: {}, now: () => 0 });
    await db.close();
  });

  it('through open() itself', async () => {
    await configInvalid(open({ components: [Position], cwd: dir.cwd, env: {}, durability: 'eventual' as never }), 'out-of-range');
    await configInvalid(open({ components: [Position], cwd: dir.cwd, env: { ECSDB_WAL_FLUSH_INTERVAL_MS: 'soon' } }), 'wrong-type');
  });
});
