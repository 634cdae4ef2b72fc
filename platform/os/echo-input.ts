// Input echoed in a message (a flag's value, a tar member's name, a config's path): bounded, so a 100 KB
// value does not become a 100 KB error printed twice, and with control characters escaped, so a value
// cannot move the cursor or recolour the terminal that reads the message.

/** At most this many characters of one input go into a message. */
export const ECHO_MAX = 120;
/** Longest line of an error message or hint printed: past it, a line is input nobody capped. */
export const MESSAGE_LINE_MAX = 1000;

// C0 controls, DEL and C1 controls (ESC starts terminal sequences; CR and NL would forge lines).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function cut(s: string, max: number, keepTab: boolean): string {
  const long = s.length > max;
  // Not between the two halves of a surrogate pair.
  const end = long && /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  const shown = (long ? s.slice(0, end) : s).replace(CONTROL, (c) =>
    c === "\t" ? (keepTab ? c : "\\t") : c === "\n" ? "\\n" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return long ? `${shown}… (${s.length} characters)` : shown;
}

/** `s` as a message shows it: control characters as \n, \t or \xNN, cut to `max` characters with the length said. */
export function echoInput(s: string, max: number = ECHO_MAX): string {
  return cut(s, max, false);
}

/**
 * A whole message as printed (the backstop behind echoInput at each site): each line cut to
 * MESSAGE_LINE_MAX characters, control characters other than newline and tab escaped.
 */
export function boundMessage(s: string): string {
  return s
    .split("\n")
    .map((line) => cut(line, MESSAGE_LINE_MAX, true))
    .join("\n");
}
