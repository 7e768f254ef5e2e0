/** Exhaustiveness check for switches over a union: a new member fails to compile here. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
