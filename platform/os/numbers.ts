// Numbers as a person writes them on a command line or in a request, and the limits of a timer: shared by the
// CLI's flags (src/args.ts) and the exec request (platform/exec/options.ts), so both reject the same input.
import { echoInput } from "./echo-input.ts";
import { UsageError } from "./errors.ts";

/** The longest delay a timer holds: 2^31-1 ms (~24.8 days); setTimeout fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The most seconds any `--timeout`/`--interval` flag takes (2147483, ~24.8 days). */
export const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

export interface NumberRange {
  min: number;
  max: number;
  /** Whole numbers only (no fraction). */
  integer?: boolean;
  /** What the value is, for the message: "a number of seconds", "a whole number". */
  what: string;
}

/**
 * A number as a person writes it on a command line: decimal digits with an optional fraction — no sign,
 * hex (`0x10`), exponent, `Infinity` or spaces — inside `range`. Every numeric flag goes through here.
 */
export function parseDecimal(flag: string, spec: string, range: NumberRange, hint?: string): number {
  const n = (range.integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(spec) ? Number(spec) : NaN;
  if (!(n >= range.min && n <= range.max)) {
    throw new UsageError(`${flag} ${echoInput(spec)}: expected ${range.what} from ${range.min} to ${range.max}`, hint);
  }
  return n;
}
