/**
 * Checking and writing a component's field values, the hot path of every `add` and `set`.
 *
 * The generic functions walk the given object and look each key up by name. For components
 * whose fields are all plain (numbers, bools, strings, entity references) a specialised pair of
 * functions is generated once per table, with the field names as constant property accesses and
 * the range checks inlined; it is several times faster in the W2 tick. The generated check only
 * accepts what the generic one accepts: on anything unusual (an unknown key, a value out of
 * range, a key set to undefined) it defers to the generic check, which throws the precise error.
 *
 * Field names are validated identifiers-or-punctuation (see schema/component.ts) and are embedded
 * as JSON string literals, so generated code cannot be injected through a name.
 */
import { EcsdbError } from '../errors.js';
import { INTEGER_RANGE, type NumericKind } from '../schema/types.js';
import { NULL_ENTITY, defaultValue, writeField, type ComponentTable } from './table.js';
import { checkFieldValue } from './validate-value.js';

export type IsAliveEntity = (id: number) => boolean;

export interface FieldAccess {
  /** Validates every given field; returns the mask of the fields given. Throws on bad input. */
  check(values: object, isAlive: IsAliveEntity): number;
  /** Writes the given (validated) fields at `slot`. */
  writeGiven(slot: number, values: object): void;
  /** Writes every field at `slot`: given values, defaults for the rest. */
  writeAll(slot: number, values: object): void;
}

export function fieldAccessOf(table: ComponentTable): FieldAccess {
  const plain = table.fields.every((field) => field.type.kind !== 'array');
  return plain && table.fields.length > 0 ? compiledAccess(table) : genericAccess(table);
}

/** Validates every given field by name; returns the mask of the fields given. */
export function checkInputGeneric(table: ComponentTable, values: unknown, isAlive: IsAliveEntity): number {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new EcsdbError('INVALID_VALUE', `${table.def.name}: expected an object of field values, got ${String(values)}`);
  }
  const input = values as Record<string, unknown>;
  let mask = 0;
  for (const key in input) {
    const fieldIndex = table.fieldIndexByName.get(key);
    if (fieldIndex === undefined) throw unknownField(table, key);
    const value = input[key];
    if (value === undefined) continue;
    checkFieldValue(table, table.fields[fieldIndex], value, isAlive);
    mask |= 1 << fieldIndex;
  }
  return mask;
}

function genericAccess(table: ComponentTable): FieldAccess {
  return {
    check: (values, isAlive) => checkInputGeneric(table, values, isAlive),
    writeGiven(slot, values) {
      const input = values as Record<string, unknown>;
      for (const key in input) {
        const value = input[key];
        if (value !== undefined) writeField(table, table.fieldIndexByName.get(key)!, slot, value);
      }
    },
    writeAll(slot, values) {
      const input = values as Record<string, unknown>;
      for (const field of table.fields) {
        const value = input[field.name];
        writeField(table, field.index, slot, value === undefined ? defaultValue(field) : value);
      }
    },
  };
}

const F32_MAX = 3.4028234663852886e38;

/**
 * Generated source: true when the value in variable `v` (not undefined) is not a valid value of a
 * field of `kind`, exactly as checkFieldValue would refuse it. Entity fields call `isAlive`.
 */
export function invalidValueSource(kind: string, index: number, v = 'v'): string {
  switch (kind) {
    case 'string':
      return `typeof ${v} !== "string" || !${v}.isWellFormed()`;
    case 'bool':
      return `typeof ${v} !== "boolean"`;
    case 'entity':
      return `${v} !== null && (typeof ${v} !== "number" || !isAlive(${v}))`;
    case 'f64':
      return `typeof ${v} !== "number"`;
    case 'f32':
      return `typeof ${v} !== "number" || ((${v} > ${F32_MAX} || ${v} < -${F32_MAX}) && ${v} !== Infinity && ${v} !== -Infinity)`;
    default: {
      const [min, max] = INTEGER_RANGE[kind as NumericKind]!;
      return `!(${v} >= ${min} && ${v} <= ${max} && Math.floor(${v}) === ${v}) /* field ${index} */`;
    }
  }
}

/** Generated source: what a column of a field of `kind` stores for the valid value in variable `v`. */
export function storedValueSource(kind: string, v = 'v'): string {
  if (kind === 'bool') return `${v} ? 1 : 0`;
  if (kind === 'entity') return `${v} === null ? ${NULL_ENTITY} : ${v}`;
  return v;
}

function compiledAccess(table: ComponentTable): FieldAccess {
  const fields = table.fields;
  const checks = fields.map(
    (field, i) =>
      `v = values[${JSON.stringify(field.name)}];\n` +
      `if (v !== undefined) { given++; if (${invalidValueSource(field.type.kind, i)}) return generic(table, values, isAlive); mask |= ${1 << i}; }`,
  );
  const checkSource =
    `return function check(values, isAlive) {\n` +
    `if (values === null || typeof values !== "object" || Array.isArray(values)) return generic(table, values, isAlive);\n` +
    `let mask = 0, given = 0, v;\n${checks.join('\n')}\n` +
    `let keys = 0; for (const key in values) keys++;\n` +
    `if (keys !== given) return generic(table, values, isAlive);\nreturn mask;\n};`;
  const writes = fields.map(
    (field, i) => `v = values[${JSON.stringify(field.name)}]; if (v !== undefined) table.columnList[${i}][slot] = ${storedValueSource(field.type.kind)};`,
  );
  const writeAlls = fields.map((field, i) => {
    const fallback = JSON.stringify(field.type.kind === 'string' ? '' : field.type.kind === 'entity' ? NULL_ENTITY : 0);
    return `v = values[${JSON.stringify(field.name)}]; table.columnList[${i}][slot] = v === undefined ? ${fallback} : ${storedValueSource(field.type.kind)};`;
  });
  const makeCheck = new Function('table', 'generic', checkSource) as (
    t: ComponentTable,
    g: typeof checkInputGeneric,
  ) => FieldAccess['check'];
  const makeWrite = new Function('table', `return function write(slot, values) { let v;\n${writes.join('\n')}\n};`) as (
    t: ComponentTable,
  ) => FieldAccess['writeGiven'];
  const makeWriteAll = new Function('table', `return function writeAll(slot, values) { let v;\n${writeAlls.join('\n')}\n};`) as (
    t: ComponentTable,
  ) => FieldAccess['writeAll'];
  return { check: makeCheck(table, checkInputGeneric), writeGiven: makeWrite(table), writeAll: makeWriteAll(table) };
}

function unknownField(table: ComponentTable, key: string): EcsdbError {
  const known = table.fields.map((field) => field.name).join(', ');
  return new EcsdbError(
    'UNKNOWN_FIELD',
    `${table.def.name} has no field ${JSON.stringify(key)} (fields: ${known === '' ? 'none, it is a tag component' : known})`,
  );
}
