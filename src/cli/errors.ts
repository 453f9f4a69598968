/** Exit codes: 0 ok, 1 evidence problem (or a verify mismatch), 2 usage error. */
export class UsageError extends Error {}
export const EXIT_EVIDENCE = 1;
export const EXIT_USAGE = 2;
