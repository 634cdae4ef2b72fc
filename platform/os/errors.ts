// Exit codes are part of the public API (see README).
export const EXIT = {
  OK: 0,
  /** A check failed, or an action failed. */
  FAILED: 1,
  /** Usage or internal error. */
  USAGE: 2,
  /** Fixes applied but a restart is still pending. */
  RESTART_PENDING: 3,
} as const;

/** A mistake in how the tool was called: exit 2 with a one-line hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** An action failed in a way we can explain: exit 1 with the message (and hint). */
export class ActionError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly code: number = EXIT.FAILED,
  ) {
    super(message);
  }
}
