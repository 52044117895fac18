/**
 * What the CLI knows about its terminal, decided once in `Cli.run` (the only place that reads the
 * process environment) and passed down.
 */
import { Context, Effect } from "effect"

export interface Terminal {
  /** stdin is a terminal: the dashboard needs it for keys (raw mode). */
  readonly stdinIsTty: boolean
  /** stdout is a terminal: logs default to the pretty format; with stdin a TTY, the dashboard may take it. */
  readonly stdoutIsTty: boolean
  /** stderr is a terminal and `NO_COLOR` is unset: console logs may use colour. */
  readonly stderrColor: boolean
  /** stdout is a terminal and `NO_COLOR` is unset. */
  readonly stdoutColor: boolean
}

/** The terminal facts as a service, provided by `Cli.run` to the command handlers. */
export class TerminalInfo extends Context.Tag("effect-agents/cli/Terminal")<TerminalInfo, Terminal>() {}

/**
 * Waits until the dashboard that `shown` settles closes. Interruption (a signal) aborts it first and
 * waits until the terminal is restored, so nothing is printed over the alternate screen.
 */
export const untilClosed = (shown: Promise<unknown>, abort: AbortController): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    void shown.then(() => resume(Effect.void), () => resume(Effect.void))
    return Effect.promise(() => {
      abort.abort()
      return shown
    })
  })
