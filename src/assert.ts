/**
 * Invariant checks that stay on in production. A failed assertion is a bug in ecsdb, never a
 * consequence of user input (that gets an EcsdbError), so it throws a plain Error that names
 * the broken invariant.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) {
    throw new Error(`ecsdb internal invariant violated: ${message}`);
  }
}
