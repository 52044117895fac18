/**
 * A `Console` that drops ANSI colour codes.
 *
 * `@effect/cli` renders help and errors with ANSI styles through Effect's `Console`; when stdout is
 * not a terminal or `NO_COLOR` is set those escapes must not reach the output, so the CLI swaps in
 * this console instead of patching the streams.
 */
import { Console } from "effect"

// CSI sequences (colours, cursor moves) as emitted by @effect/printer-ansi.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g

/** Removes ANSI escape sequences from a string. */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

const clean = (args: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
  args.map((a) => (typeof a === "string" ? stripAnsi(a) : a))

/** Wraps `base` so that `log`, `error`, `info` and `warn` print without colour. */
export const plain = (base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) => base.log(...clean(args)),
  error: (...args) => base.error(...clean(args)),
  info: (...args) => base.info(...clean(args)),
  warn: (...args) => base.warn(...clean(args)),
  unsafe: {
    ...base.unsafe,
    log: (...args) => base.unsafe.log(...clean(args)),
    error: (...args) => base.unsafe.error(...clean(args)),
    info: (...args) => base.unsafe.info(...clean(args)),
    warn: (...args) => base.unsafe.warn(...clean(args))
  }
})
