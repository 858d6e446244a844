/**
 * A tiny seeded pseudo-random generator (mulberry32) for deterministic tests and fault injection.
 * Every simulated crash, torn write and injected failure draws from one of these, so a failing
 * case replays exactly from its seed. It is not cryptographic and must never be used as if it were.
 */
import { assert } from '../assert.js';

/** Returns floats in [0, 1). */
export type Random = () => number;

const UINT32_RANGE = 4294967296;

/** A generator whose whole sequence is fixed by `seed` (an integer; only its low 32 bits count). */
export function createRandom(seed: number): Random {
  assert(Number.isInteger(seed), `random seed must be an integer, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / UINT32_RANGE;
  };
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  assert(Number.isInteger(n) && n > 0, `randomInt needs a positive integer bound, got ${n}`);
  return Math.floor(random() * n);
}

/** True with the given probability. */
export function randomBool(random: Random, probability = 0.5): boolean {
  return random() < probability;
}

/** A seed for a child generator, so independent streams can be split off one parent. */
export function deriveSeed(random: Random): number {
  return Math.floor(random() * UINT32_RANGE);
}
