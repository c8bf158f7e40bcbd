/**
 * The one time limit in the test suite, and it is not a speed check: a test, hook, child process
 * or browser wait that has run this long has hung. Everything else is sized by counts (cases,
 * steps, images), never by seconds, so that the suite passes on a loaded 2-core machine where a
 * test may take many times its idle duration. CI's own limit bounds the whole run.
 */
export const HANG_GUARD_MS = 30 * 60_000;
