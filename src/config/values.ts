/**
 * Checking one setting's value against its type in the schema, and parsing environment
 * variables (strings) strictly: integers are digits with an optional minus sign and nothing else,
 * booleans are exactly `true` or `false`.
 *
 * Every failure is CONFIG_INVALID whose message names the setting as its source spells it, the
 * source, the allowed values and what was given; `detail` tells the kinds apart.
 */
import { EcsdbError } from '../errors.js';
import { describeAllowed, type SettingSpec, type SettingValue } from './schema.js';

/** `detail` of the CONFIG_INVALID errors of configuration. */
export type ConfigErrorDetail = 'syntax' | 'missing-file' | 'unknown-key' | 'wrong-type' | 'out-of-range' | 'not-runtime' | 'secret-in-file' | 'key-conflict';

export function configError(detail: ConfigErrorDetail, message: string, cause?: unknown): EcsdbError {
  return new EcsdbError('CONFIG_INVALID', message, { detail, cause });
}

/**
 * Names a setting and its source in a message, e.g. `[wal] flush_interval_ms in /x/ecsdb.toml
 * line 3`; a function when finding the words costs something (the line), to pay only on error.
 */
export type Label = string | (() => string);

function labelText(label: Label): string {
  return typeof label === 'string' ? label : label();
}

/** Checks a value from a TOML file or from options. */
export function checkValue(spec: SettingSpec, raw: unknown, label: Label): SettingValue {
  const type = spec.type;
  const fail = (detail: ConfigErrorDetail): never => {
    throw configError(detail, `${labelText(label)} must be ${describeAllowed(type)}, got ${show(raw)}`);
  };
  switch (type.kind) {
    case 'integer':
      if (typeof raw !== 'number' || !Number.isInteger(raw)) return fail('wrong-type');
      if (raw < type.min || raw > type.max) return fail('out-of-range');
      return raw;
    case 'boolean':
      if (typeof raw !== 'boolean') return fail('wrong-type');
      return raw;
    case 'enum':
      if (typeof raw !== 'string') return fail('wrong-type');
      if (!type.values.includes(raw)) return fail('out-of-range');
      return raw;
    case 'path':
      if (typeof raw !== 'string') return fail('wrong-type');
      if (raw === '') return fail('out-of-range');
      return raw;
    case 'secret':
      // Never echo the value: it is a key or a passphrase.
      if (typeof raw !== 'string' || raw === '') {
        throw configError(typeof raw === 'string' ? 'out-of-range' : 'wrong-type', `${labelText(label)} must be ${describeAllowed(type)}, got ${typeof raw === 'string' ? 'an empty string' : `a ${typeof raw}`}`);
      }
      return raw;
  }
}

/** Parses an environment variable's text as the setting's type, then checks it. */
export function parseEnvValue(spec: SettingSpec, text: string, label: string): SettingValue {
  switch (spec.type.kind) {
    case 'integer':
      if (!/^-?[0-9]+$/.test(text)) {
        throw configError('wrong-type', `${label} must be ${describeAllowed(spec.type)} (digits only), got ${JSON.stringify(text)}`);
      }
      return checkValue(spec, Number(text), label);
    case 'boolean':
      if (text !== 'true' && text !== 'false') {
        throw configError('wrong-type', `${label} must be true or false, got ${JSON.stringify(text)}`);
      }
      return text === 'true';
    default:
      return checkValue(spec, text, label);
  }
}

/** A given value as a message shows it: JSON for plain values, the kind for anything else. */
function show(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'object') return raw instanceof Date ? 'a date' : 'a table';
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return `a ${typeof raw}`;
}
