/**
 * Quoting for the remote shell. Every value that reaches a command line on a node passes through
 * `shellQuote`, so a name can never become shell syntax; names are also validated where they
 * enter (see the validators next to each input), because a quoted but absurd name still makes
 * Docker do something nobody asked for.
 */

/** Single-quotes `s` for a POSIX shell: the result is one word whatever `s` holds. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
