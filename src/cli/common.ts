/**
 * What every `ecsdb` command shares: finding the data directory (`--dir`, else `[storage] dir`
 * of the configuration file / environment, as `open()` resolves it), building component
 * definitions from the stored schema (the CLI runs without the application's code), and the
 * failure type that carries an exit status.
 */
import { resolve } from 'node:path';
import { EcsdbError } from '../errors.js';
import { resolveConfig, storageSettings } from '../config/resolve.js';
import { fileStorage } from '../db/open-persistent.js';
import { open, type Database } from '../db/database.js';
import { type DatabaseMeta, type StoredComponent } from '../meta/meta-file.js';
import type { DataCipher } from '../crypto/cipher.js';
import { keySourceOf } from '../crypto/key-config.js';
import type { KeySource } from '../crypto/keys.js';
import { readMetaWithKey } from '../crypto/meta-seal.js';
import { finishPendingRekey } from '../crypto/rekey-commit.js';
import { defineComponent, type AnyComponentDef } from '../schema/component.js';
import { t, isNumericKind, type FieldType } from '../schema/types.js';

/** Exit statuses of the command line. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure with its exit status and a one-line message for stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface CommonOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly json?: boolean;
  /** `--key-file`: the key of an encrypted directory (else the configuration's / environment's). */
  readonly keyFile?: string;
}

/** The key the command was given: `--key-file`, else `[encryption]` of the configuration / environment. */
export async function cliKeySource(options: CommonOptions, cwd: string = process.cwd()): Promise<KeySource | undefined> {
  if (options.keyFile !== undefined) return { kind: 'keyFile', path: resolve(cwd, options.keyFile), origin: '--key-file' };
  const config = await resolveConfig({ options: options.config === undefined ? {} : { config: options.config }, env: process.env, cwd, storage: fileStorage });
  return keySourceOf(config);
}

/**
 * Finishes a key rotation that committed but did not move all its files (src/crypto/rekey-commit.ts);
 * commands that change the directory call it once they hold the lock, as open() does.
 */
export async function finishKeyRotation(dir: string): Promise<void> {
  await finishPendingRekey(fileStorage, dir);
}

/** The meta file with its schema in the clear, and the directory's cipher (undefined: not encrypted). */
export type CliMeta = DatabaseMeta & { readonly cipher: DataCipher | undefined };

/** The data directory, absolute: `--dir`, else the configuration's `storage.dir`. */
export async function resolveDir(command: string, options: CommonOptions, cwd: string = process.cwd()): Promise<string> {
  if (options.dir !== undefined) {
    if (options.dir === '') throw new CliError(`ecsdb ${command}: --dir needs a path`, EXIT_USAGE);
    return resolve(cwd, options.dir);
  }
  const config = await resolveConfig({ options: options.config === undefined ? {} : { config: options.config }, env: process.env, cwd, storage: fileStorage });
  const { dir } = storageSettings(config);
  if (dir === undefined) {
    throw new CliError(`ecsdb ${command}: --dir <path> is required (or set [storage] dir in the configuration file, or ECSDB_STORAGE_DIR)`, EXIT_USAGE);
  }
  return resolve(cwd, dir);
}

/**
 * The meta file unlocked with the command's key, or a failure saying the directory is not a
 * database (KEY_REQUIRED / KEY_INVALID for an encrypted one without the right key).
 */
export async function requireMeta(dir: string, options: CommonOptions = {}): Promise<CliMeta> {
  const unlocked = await readMetaWithKey(fileStorage, dir, await cliKeySource(options));
  if (unlocked === undefined) throw new EcsdbError('INVALID_ARGUMENT', `${dir} is not an ecsdb directory (no ecsdb.meta)`);
  return { ...unlocked.meta, cipher: unlocked.cipher };
}

function fieldTypeOf(component: string, field: StoredComponent['fields'][number]): FieldType {
  const kind = field.kind;
  if (isNumericKind(kind)) return t[kind];
  if (kind === 'bool' || kind === 'string' || kind === 'entity') return t[kind];
  if (kind === 'array' && field.element !== undefined && isNumericKind(field.element) && typeof field.length === 'number') {
    return t.array(t[field.element], field.length);
  }
  throw new EcsdbError('INVALID_SCHEMA', `the stored schema gives ${component}.${field.name} the unknown type ${JSON.stringify(kind)}`);
}

/** Component definitions equal to the stored schema, in its order. */
export function componentsOf(schema: readonly StoredComponent[]): AnyComponentDef[] {
  return schema.map((component) => {
    const fields: Record<string, FieldType> = {};
    for (const field of component.fields) fields[field.name] = fieldTypeOf(component.name, field);
    return defineComponent(component.name, fields) as unknown as AnyComponentDef;
  });
}

/**
 * Opens the database in `dir` with the stored schema (takes the lock: DB_LOCKED when in use;
 * recovers). Settings other than the directory come from the configuration as for `open()`.
 */
export async function openStored(dir: string, options: CommonOptions): Promise<{ db: Database; components: AnyComponentDef[] }> {
  const meta = await requireMeta(dir, options);
  const components = componentsOf(meta.schema);
  // --key-file overrides a key in the environment instead of conflicting with it.
  const keyFile = options.keyFile === undefined ? {} : { encryption: { keyFile: resolve(options.keyFile) }, env: withoutKeyVariables(process.env) };
  const db = await open({ dir, components, durability: 'buffered', ...(options.config === undefined ? {} : { config: options.config }), ...keyFile });
  return { db, components };
}

/** Plain JSON-able copy of a component value (typed arrays become arrays). */
export function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) out[key] = plain(field);
    return out;
  }
  return value;
}

/** A tiny progress bar on stderr, shown only when stdout is a terminal; otherwise nothing. */
export function progress(label: string, total: number): { tick(done: number): void; end(): void } {
  if (!process.stdout.isTTY || !process.stderr.isTTY || total <= 0) return { tick: () => undefined, end: () => undefined };
  const width = 30;
  let shown = -1;
  return {
    tick(done: number) {
      const filled = Math.min(width, Math.floor((done / total) * width));
      if (filled === shown) return;
      shown = filled;
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    },
    end() {
      if (shown >= 0) process.stderr.write('\r\x1b[K');
    },
  };
}

function withoutKeyVariables(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !['ECSDB_ENCRYPTION_KEY', 'ECSDB_ENCRYPTION_KEY_FILE', 'ECSDB_ENCRYPTION_PASSPHRASE'].includes(name)));
}
