/**
 * Configuration test helpers: a fresh working directory (real files, since open() reads the
 * configuration file from the real file system) and resolveConfig called the way open() calls it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { resolveConfig, type ResolvedConfig } from '../../src/config/resolve.js';
import type { OptionsInput } from '../../src/config/layers.js';
import { EcsdbError } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';

export interface ConfigDir {
  readonly cwd: string;
  /** Writes `text` to `name` in the directory; returns its path. */
  write(name: string, text: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function configDir(): Promise<ConfigDir> {
  const cwd = await mkdtemp(join(tmpdir(), 'ecsdb-config-'));
  return {
    cwd,
    write: async (name, text) => {
      const path = join(cwd, name);
      await writeFile(path, text);
      return path;
    },
    cleanup: () => rm(cwd, { recursive: true, force: true }),
  };
}

const storage = new FileStorage();

export function resolveIn(
  cwd: string,
  env: Record<string, string | undefined> = {},
  options: OptionsInput & { config?: unknown } = {},
): Promise<ResolvedConfig> {
  return resolveConfig({ options, env, cwd, storage });
}

/** The value and source of one setting (`wal.flushIntervalMs`). */
export function entry(config: ResolvedConfig, id: string): { value: unknown; source: string } | undefined {
  const found = config.entries.get(id as `wal.${string}`);
  return found === undefined ? undefined : { value: found.value, source: found.source };
}

/** Asserts that `promise` rejects with CONFIG_INVALID of `detail`; returns the error. */
export async function configInvalid(promise: Promise<unknown>, detail: string): Promise<EcsdbError> {
  const error = await promise.then(
    () => expect.fail('expected CONFIG_INVALID, but it resolved'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EcsdbError);
  expect((error as EcsdbError).code).toBe('CONFIG_INVALID');
  expect((error as EcsdbError).detail).toBe(detail);
  return error as EcsdbError;
}
