/**
 * The key source named by the effective configuration (`[encryption]` settings from open()
 * options, the environment or ecsdb.toml): at most one of key, key_file, passphrase.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { configError } from '../config/values.js';
import type { KeySource } from './keys.js';

const SOURCE_KEYS = ['key', 'keyFile', 'passphrase'] as const;

/** undefined when no key is configured (the database is, or is created, in the clear). */
export function keySourceOf(config: ResolvedConfig): KeySource | undefined {
  const given = SOURCE_KEYS.flatMap((key) => {
    const entry = config.entries.get(`encryption.${key}`);
    return entry === undefined ? [] : [{ key, value: entry.value as string, origin: entry.source === 'open()' ? `open() option encryption.${key}` : entry.source }];
  });
  if (given.length === 0) return undefined;
  if (given.length > 1) {
    throw configError(
      'key-conflict',
      `give one key source, not ${given.map((g) => `encryption.${g.key} (${g.origin})`).join(' and ')}; the others must be unset`,
    );
  }
  const { key, value, origin } = given[0];
  if (key === 'keyFile') return { kind: 'keyFile', path: value, origin };
  if (key === 'key') return { kind: 'key', text: value, origin };
  const scryptLogN = config.entries.get('encryption.scryptLogN')?.value as number | undefined;
  return { kind: 'passphrase', text: value, origin, scryptLogN };
}
