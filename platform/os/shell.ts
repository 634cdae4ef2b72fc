// Words for /bin/sh: the commands printed as advice (fixes, sudo re-runs, manifest headers) and the runsc
// wrapper scripts written to disk must reach the program as exactly these argv words.

/**
 * `s` as one POSIX shell word: unchanged when every character is one no shell treats specially (letters,
 * digits and `_@%+=:,./-`, the set Python's shlex.quote uses), otherwise in single quotes with each `'`
 * written `'\''`. `~` is quoted (a leading one would become a home directory), so is the empty word.
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
