/** A command called the wrong way: it exits with code 2, like an unknown command. */
export class UsageError extends Error {}
