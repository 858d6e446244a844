/** Component definitions shared by the tests: the spec's examples plus one with every field type. */
import { defineComponent, t } from '../../src/index.js';

export const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
export const Health = defineComponent('Health', { hp: t.i32 });
export const Name = defineComponent('Name', { value: t.string });
export const Target = defineComponent('Target', { entity: t.entity });
export const Frozen = defineComponent('Frozen', {});

export const AllTypes = defineComponent('AllTypes', {
  i8: t.i8,
  u8: t.u8,
  i16: t.i16,
  u16: t.u16,
  i32: t.i32,
  u32: t.u32,
  f32: t.f32,
  f64: t.f64,
  bool: t.bool,
  string: t.string,
  entity: t.entity,
  vec3: t.array(t.f32, 3),
  bytes: t.array(t.u8, 4),
});

/** The spec's example components, in a fixed order (the order is the schema's component index). */
export const SPEC_COMPONENTS = [Position, Health, Name, Target, Frozen] as const;

/** Every fixture component, in a fixed order. */
export const ALL_COMPONENTS = [Position, Health, Name, Target, Frozen, AllTypes] as const;
