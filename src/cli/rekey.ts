/**
 * `ecsdb rekey`: key rotation (src/crypto/rekey.ts). Secrets never go on the command line,
 * where other users of the machine can read them: the new key comes from a file or from an
 * environment variable the option names.
 */
import { resolve } from 'node:path';
import type { EncryptionOptions } from '../config/types.js';
import { rekey, type RekeyResult } from '../crypto/rekey.js';
import { CliError, EXIT_OK, EXIT_USAGE, cliKeySource, type CommonOptions } from './common.js';
import type { CliOutput } from './run.js';

export const REKEY_OPTIONS = {
  'new-key-file': { type: 'string' },
  'new-key-env': { type: 'string' },
  'new-passphrase-env': { type: 'string' },
  decrypt: { type: 'boolean' },
} as const;

type RekeyValues = { 'new-key-file'?: string; 'new-key-env'?: string; 'new-passphrase-env'?: string; decrypt?: boolean };

function newKeyOf(values: RekeyValues): EncryptionOptions | undefined {
  const given = (['new-key-file', 'new-key-env', 'new-passphrase-env', 'decrypt'] as const).filter((name) => values[name] !== undefined);
  if (given.length !== 1) throw new CliError(`ecsdb rekey: give exactly one of --new-key-file, --new-key-env, --new-passphrase-env, --decrypt${given.length > 1 ? ` (got ${given.join(', ')})` : ''}`, EXIT_USAGE);
  if (values.decrypt === true) return undefined;
  if (values['new-key-file'] !== undefined) return { keyFile: resolve(values['new-key-file']) };
  const variable = values['new-key-env'] ?? values['new-passphrase-env']!;
  const text = process.env[variable];
  if (text === undefined || text === '') throw new CliError(`ecsdb rekey: environment variable ${variable} is not set`, EXIT_USAGE);
  return values['new-key-env'] !== undefined ? { key: text } : { passphrase: text };
}

export async function rekeyCommand(dir: string, common: CommonOptions, values: RekeyValues, out: CliOutput): Promise<number> {
  const to = newKeyOf(values);
  const source = await cliKeySource(common);
  const from: EncryptionOptions | undefined =
    source === undefined ? undefined : source.kind === 'keyFile' ? { keyFile: source.path } : source.kind === 'key' ? { key: source.text } : { passphrase: source.text };
  const result: RekeyResult = await rekey({ dir, from, to });
  out.stdout(
    common.json === true
      ? `${JSON.stringify(result, null, 2)}\n`
      : `${dir}: ${result.filesRewritten} files (${result.bytesRewritten} bytes) rewritten; the directory is now ${result.encrypted ? 'encrypted under the new key' : 'stored in the clear'}\n`,
  );
  return EXIT_OK;
}
