/**
 * Component definitions. A definition is plain, immutable metadata (a name and typed fields);
 * it owns no storage, so one definition can be used by any number of open databases, each of
 * which keeps its own columns for it.
 */
import { EcsdbError } from '../errors.js';
import {
  ARRAY_FIELD_LENGTH_MAX,
  describeFieldType,
  isNumericKind,
  type BoolFieldType,
  type Entity,
  type EntityFieldType,
  type FieldInput,
  type FieldType,
  type FieldValue,
  type StringFieldType,
} from './types.js';

export type FieldsSpec = Readonly<Record<string, FieldType>>;

/** The value of a whole component, as `get` returns it. */
export type ComponentValue<S extends FieldsSpec> = { [K in keyof S]: FieldValue<S[K]> };

/**
 * What `add` and `set` accept: any subset of the fields, and nothing else. A tag component
 * accepts only `{}`: TypeScript skips its excess-property check for the empty type `{}`, so the
 * tag case is spelled as an object whose every key is `never`.
 */
export type ComponentInput<S extends FieldsSpec> = [keyof S] extends [never]
  ? { readonly [key: string]: never }
  : { [K in keyof S]?: FieldInput<S[K]> };

export interface ComponentDef<S extends FieldsSpec = FieldsSpec> {
  readonly name: string;
  readonly fields: S;
  /** Field names in declaration order; a field's index here is its index on disk. */
  readonly fieldNames: readonly string[];
}

export type AnyComponentDef = ComponentDef<FieldsSpec>;

/** Most fields one component may declare: field masks are 31-bit integers (fast bitwise or). */
export const COMPONENT_FIELD_COUNT_MAX = 31;
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

/**
 * Declares a component type. `defineComponent('Frozen', {})` declares a tag component.
 * Throws INVALID_SCHEMA for a bad name, an unknown field type or too many fields.
 */
export function defineComponent<S extends FieldsSpec>(name: string, fields: S): ComponentDef<S> {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new EcsdbError(
      'INVALID_SCHEMA',
      `component name ${JSON.stringify(name)} is invalid: use 1 to 128 characters, starting with a letter or _, then letters, digits or _ . : -`,
    );
  }
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    throw new EcsdbError('INVALID_SCHEMA', `component ${name}: fields must be an object of field types, e.g. { x: t.f32 }`);
  }
  const fieldNames = Object.keys(fields);
  if (fieldNames.length > COMPONENT_FIELD_COUNT_MAX) {
    throw new EcsdbError(
      'INVALID_SCHEMA',
      `component ${name} declares ${fieldNames.length} fields; at most ${COMPONENT_FIELD_COUNT_MAX} are supported (split it into several components)`,
    );
  }
  for (const fieldName of fieldNames) {
    checkFieldType(name, fieldName, fields[fieldName]);
  }
  return Object.freeze({ name, fields: Object.freeze({ ...fields }) as S, fieldNames: Object.freeze(fieldNames) });
}

function checkFieldType(componentName: string, fieldName: string, type: FieldType | undefined): void {
  const where = `component ${componentName}, field ${fieldName}`;
  if (!NAME_PATTERN.test(fieldName)) {
    throw new EcsdbError('INVALID_SCHEMA', `${where}: invalid field name`);
  }
  if (type === null || typeof type !== 'object' || typeof type.kind !== 'string') {
    throw new EcsdbError('INVALID_SCHEMA', `${where}: not a field type; use one of t.i8 … t.f64, t.bool, t.string, t.entity, t.array(...)`);
  }
  if (type.kind === 'array') {
    if (!isNumericKind(type.element)) {
      throw new EcsdbError('INVALID_SCHEMA', `${where}: array elements must be numeric (t.i8 … t.f64)`);
    }
    if (!Number.isInteger(type.length) || type.length < 1 || type.length > ARRAY_FIELD_LENGTH_MAX) {
      throw new EcsdbError('INVALID_SCHEMA', `${where}: array length must be an integer from 1 to ${ARRAY_FIELD_LENGTH_MAX}`);
    }
    return;
  }
  if (!isNumericKind(type.kind) && type.kind !== 'bool' && type.kind !== 'string' && type.kind !== 'entity') {
    throw new EcsdbError('INVALID_SCHEMA', `${where}: unknown field type ${describeFieldType(type)}`);
  }
}

/**
 * What `tx.setColumns` takes: for each field written, one value per entity, in the order of the
 * entities (array fields: `length` numbers per entity, flattened). Numeric columns may be any
 * array-like of numbers; a typed array of the field's own storage kind skips the range checks.
 */
export type ComponentColumns<S extends FieldsSpec> = { [K in keyof S]?: FieldColumn<S[K]> };

export type FieldColumn<F extends FieldType> = F extends BoolFieldType
  ? ArrayLike<boolean>
  : F extends StringFieldType
    ? ArrayLike<string>
    : F extends EntityFieldType
      ? ArrayLike<Entity | null>
      : ArrayLike<number>;
