/**
 * Checks that a value fits its field exactly before anything is written: no silent wrapping of
 * integers, no f32 overflow to Infinity, no truncated arrays, no dangling entity references.
 */
import { EcsdbError } from '../errors.js';
import { INTEGER_RANGE, describeFieldType, type NumericKind } from '../schema/types.js';
import type { ComponentTable, FieldInfo } from './table.js';

const F32_MAX = 3.4028234663852886e38;

export function checkFieldValue(
  table: ComponentTable,
  field: FieldInfo,
  value: unknown,
  isAliveEntity: (id: number) => boolean,
): void {
  const problem = describeProblem(field, value, isAliveEntity);
  if (problem !== undefined) {
    throw new EcsdbError(
      'INVALID_VALUE',
      `${table.def.name}.${field.name} (${describeFieldType(field.type)}): ${problem}, got ${preview(value)}`,
    );
  }
}

function describeProblem(field: FieldInfo, value: unknown, isAliveEntity: (id: number) => boolean): string | undefined {
  const type = field.type;
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string') return 'expected a string';
      // A lone surrogate has no UTF-8 form: the write set would log U+FFFD instead, and replay
      // would not reproduce the value.
      return isWellFormed(value) ? undefined : 'expected a well-formed string (it contains a lone surrogate)';
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'expected true or false';
    case 'entity':
      if (value === null) return undefined;
      if (typeof value !== 'number' || !isAliveEntity(value)) return 'expected null or the id of a live entity';
      return undefined;
    case 'array': {
      if (value === null || typeof value !== 'object' || typeof (value as ArrayLike<number>).length !== 'number') {
        return `expected an array of ${type.length} numbers`;
      }
      const values = value as ArrayLike<unknown>;
      if (values.length !== type.length) return `expected exactly ${type.length} elements, not ${values.length}`;
      for (let i = 0; i < values.length; i++) {
        const elementProblem = numericProblem(type.element, values[i]);
        if (elementProblem !== undefined) return `element ${i}: ${elementProblem}`;
      }
      return undefined;
    }
    default:
      return numericProblem(type.kind, value);
  }
}

export function numericProblem(kind: NumericKind, value: unknown): string | undefined {
  if (typeof value !== 'number') return 'expected a number';
  const range = INTEGER_RANGE[kind];
  if (range !== undefined) {
    if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
      return `expected an integer from ${range[0]} to ${range[1]}`;
    }
    return undefined;
  }
  if (kind === 'f32' && Number.isFinite(value) && Math.abs(value) > F32_MAX) {
    return `expected a number within the f32 range (±${F32_MAX})`;
  }
  return undefined;
}

/** String.prototype.isWellFormed (Node >= 20), which the ES2022 lib does not declare. */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

function preview(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object' && value !== null) {
    try {
      const text = JSON.stringify(Array.isArray(value) || ArrayBuffer.isView(value) ? Array.from(value as ArrayLike<unknown>) : value);
      return text.length > 60 ? `${text.slice(0, 60)}…` : text;
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}
