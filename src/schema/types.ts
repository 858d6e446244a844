/**
 * Field types of component tables. Each type is a small frozen descriptor object; `t` is the
 * public namespace users build component definitions from. The descriptors carry their kind as
 * a literal type so TypeScript can infer the value shape of a component from its definition.
 */

/** Numeric element kinds, stored in typed-array columns. */
export type NumericKind = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64';

export interface NumericFieldType<K extends NumericKind = NumericKind> {
  readonly kind: K;
}
export interface BoolFieldType {
  readonly kind: 'bool';
}
export interface StringFieldType {
  readonly kind: 'string';
}
/** A reference to another entity, or null. */
export interface EntityFieldType {
  readonly kind: 'entity';
}
/** A fixed-length array of one numeric kind, stored inline in one typed-array column. */
export interface ArrayFieldType<K extends NumericKind = NumericKind, N extends number = number> {
  readonly kind: 'array';
  readonly element: K;
  readonly length: N;
}

export type FieldType = NumericFieldType | BoolFieldType | StringFieldType | EntityFieldType | ArrayFieldType;
export type FieldKind = FieldType['kind'];

/** An entity id: a non-negative safe integer that encodes slot and generation (see world/entity-id.ts). */
export type Entity = number;

/** The JavaScript value a field of type F holds. */
export type FieldValue<F extends FieldType> = F extends NumericFieldType
  ? number
  : F extends BoolFieldType
    ? boolean
    : F extends StringFieldType
      ? string
      : F extends EntityFieldType
        ? Entity | null
        : F extends ArrayFieldType
          ? number[]
          : never;

/** What a value of type F may be given as when written (arrays may be any array-like of numbers). */
export type FieldInput<F extends FieldType> = F extends ArrayFieldType ? ArrayLike<number> : FieldValue<F>;

const numeric = <K extends NumericKind>(kind: K): NumericFieldType<K> => Object.freeze({ kind });

/** Largest supported length of an array field; keeps a lying length from costing memory. */
export const ARRAY_FIELD_LENGTH_MAX = 4096;

export const t = Object.freeze({
  i8: numeric('i8'),
  u8: numeric('u8'),
  i16: numeric('i16'),
  u16: numeric('u16'),
  i32: numeric('i32'),
  u32: numeric('u32'),
  f32: numeric('f32'),
  f64: numeric('f64'),
  bool: Object.freeze({ kind: 'bool' }) as BoolFieldType,
  string: Object.freeze({ kind: 'string' }) as StringFieldType,
  entity: Object.freeze({ kind: 'entity' }) as EntityFieldType,
  /** A fixed-length numeric array, e.g. `t.array(t.f32, 3)`. */
  array<K extends NumericKind, N extends number>(element: NumericFieldType<K>, length: N): ArrayFieldType<K, N> {
    return Object.freeze({ kind: 'array', element: element.kind, length });
  },
});

export const NUMERIC_KINDS: readonly NumericKind[] = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'f32', 'f64'];

export function isNumericKind(kind: string): kind is NumericKind {
  return (NUMERIC_KINDS as readonly string[]).includes(kind);
}

export type TypedArrayOf<K extends NumericKind> = K extends 'i8'
  ? Int8Array
  : K extends 'u8'
    ? Uint8Array
    : K extends 'i16'
      ? Int16Array
      : K extends 'u16'
        ? Uint16Array
        : K extends 'i32'
          ? Int32Array
          : K extends 'u32'
            ? Uint32Array
            : K extends 'f32'
              ? Float32Array
              : Float64Array;

export type NumericArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

type NumericArrayConstructor = { new (length: number): NumericArray; readonly BYTES_PER_ELEMENT: number };

export const TYPED_ARRAY_OF: Readonly<Record<NumericKind, NumericArrayConstructor>> = {
  i8: Int8Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
};

/** Inclusive integer ranges of the integer kinds. */
export const INTEGER_RANGE: Readonly<Partial<Record<NumericKind, readonly [number, number]>>> = {
  i8: [-128, 127],
  u8: [0, 255],
  i16: [-32768, 32767],
  u16: [0, 65535],
  i32: [-2147483648, 2147483647],
  u32: [0, 4294967295],
};

/** A short human name of a field type, used in messages and in the self-describing schema. */
export function describeFieldType(type: FieldType): string {
  return type.kind === 'array' ? `array<${type.element}, ${type.length}>` : type.kind;
}
