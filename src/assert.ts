/**
 * Invariant checks that stay on in production. A failed assertion is a bug in ecsdb, never a
 * consequence of user input (that gets an EcsdbError), so it throws a plain Error that names
 * the broken invariant.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) invariantFailed(message);
}

/**
 * Throws like a failed `assert`. For checks on hot paths, written `if (!ok) invariantFailed(...)`
 * so the message (often a template string) is built only when the check fails: `assert`'s
 * message argument is evaluated on every call.
 */
export function invariantFailed(message: string): never {
  throw new Error(`ecsdb internal invariant violated: ${message}`);
}
