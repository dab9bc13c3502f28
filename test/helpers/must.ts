/**
 * `value`, or a thrown error saying what was missing. For indexing in tests (`must(lines[0])`): under
 * `noUncheckedIndexedAccess` an element may be `undefined`, and a bare `!` would turn a missing one into a confusing
 * TypeError further on; this fails the test where the value was expected, with `what` in the message.
 */
export function must<T>(value: T | undefined, what = 'a value'): T {
  if (value === undefined) throw new Error(`expected ${what}, got undefined`);
  return value;
}
