/**
 * Finding, reading and parsing the configuration file (TOML, parsed by smol-toml).
 *
 * Which file is read, first rule that applies:
 *   1. `open({ config: false })`: none.
 *   2. `open({ config: 'path.toml' })`: that file (relative to the working directory); it must exist.
 *   3. `ECSDB_CONFIG=path.toml` in the environment: that file; it must exist.
 *   4. `ecsdb.toml` in the working directory, if there is one.
 *
 * The file is read through the storage seam given to resolveConfig; open() gives it the real
 * file system even when a test injects a simulated storage for the data directory, because the
 * file is the process's configuration, like its environment, not part of the database.
 */
import { resolve } from 'node:path';
import { TomlError, parse } from 'smol-toml';
import { EcsdbError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { configError } from './values.js';

export const CONFIG_FILE_NAME = 'ecsdb.toml';
export const CONFIG_ENV_VAR = 'ECSDB_CONFIG';

export interface ConfigFileChoice {
  readonly path: string;
  /** What named it, for messages: `open() option config`, `ECSDB_CONFIG`, or the default lookup. */
  readonly namedBy: string | undefined;
}

export interface ConfigFile {
  readonly path: string;
  readonly text: string;
  readonly table: Record<string, unknown>;
}

/** Which file to read (see the header), or undefined for none. */
export function chooseConfigFile(config: unknown, env: Readonly<Record<string, string | undefined>>, cwd: string): ConfigFileChoice | undefined {
  if (config === false) return undefined;
  if (config !== undefined) {
    if (typeof config !== 'string' || config === '') {
      throw configError('wrong-type', `open() option config must be a path to a TOML file or false (no file), got ${JSON.stringify(config)}`);
    }
    return { path: resolve(cwd, config), namedBy: 'open() option config' };
  }
  const fromEnv = env[CONFIG_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(cwd, fromEnv), namedBy: `environment variable ${CONFIG_ENV_VAR}` };
  return { path: resolve(cwd, CONFIG_FILE_NAME), namedBy: undefined };
}

/** Reads and parses the chosen file; undefined when the default file is absent. */
export async function readConfigFile(storage: Storage, choice: ConfigFileChoice): Promise<ConfigFile | undefined> {
  const { path, namedBy } = choice;
  // One read, no stat first: open() runs this every time, and most often finds no file.
  let bytes: Uint8Array;
  try {
    bytes = await storage.readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' && namedBy === undefined) return undefined;
    if (code === 'ENOENT') throw configError('missing-file', `the configuration file ${path} named by ${namedBy} does not exist`);
    if (code === 'EISDIR') throw configError('missing-file', `the configuration file ${path} is a directory`);
    if (error instanceof EcsdbError || typeof code !== 'string') throw error;
    throw new EcsdbError('IO_FAILED', `reading the configuration file ${path} failed: ${code} (${(error as Error).message})`, { cause: error });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw configError('syntax', `${path} is not valid UTF-8 text; a TOML file must be UTF-8`, error);
  }
  return { path, text, table: parseToml(text, path) };
}

function parseToml(text: string, path: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // smol-toml's message is "Invalid TOML document: <reason>\n\n<code block>".
    const reason = error.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    throw configError('syntax', `${path}:${error.line}:${error.column}: not valid TOML: ${reason}\n\n${error.codeblock.trimEnd()}`, error);
  }
}


/**
 * The 1-based line of `key` in `[section]` (or of `section.key` at the top level), for messages
 * about a file that parsed; undefined when it is written in a form this simple scan misses.
 */
export function findKeyLine(text: string, section: string | undefined, key: string): number | undefined {
  const lines = text.split(/\r?\n/);
  let table = '';
  const keyPattern = (name: string): RegExp => new RegExp(`^\\s*("${escape(name)}"|'${escape(name)}'|${escape(name)})\\s*=`);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const header = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header !== null) {
      table = header[1];
      continue;
    }
    const here = section === undefined ? keyPattern(key).test(line) && table === '' : table === section && keyPattern(key).test(line);
    const dotted = section !== undefined && table === '' && keyPattern(`${section}.${key}`).test(line);
    if (here || dotted) return index + 1;
  }
  return undefined;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
