/**
 * How the CLI process ends on SIGINT and SIGTERM: the same way for every command.
 *
 * The first signal interrupts the main fiber, so everything unwinds through its finalizers: runs
 * are interrupted (and recorded `cancelled`), the dashboard restores the terminal, results of runs
 * that finished are printed, the history is flushed. The process then exits 130 (SIGINT) or 143
 * (SIGTERM) whatever the program returned. A second signal exits at once with the same code.
 *
 * `@effect/platform-node`'s `runMain` removes its listeners after the first signal; Ink's
 * `signal-exit` then sees itself alone and re-raises the signal, killing the process before any
 * finalizer ran (the terminal stayed in the alternate screen). Our listeners stay installed until
 * the process exits, which keeps `signal-exit` out of the way.
 */
import { makeRunMain } from "@effect/platform/Runtime"

/** Exit codes of the signals the CLI handles: 128 + the signal number, as shells report them. */
export const signalExitCode = { SIGINT: 130, SIGTERM: 143 } as const

type HandledSignal = keyof typeof signalExitCode

/**
 * Runs the CLI's main effect with the signal policy above. `teardown` maps the main fiber's exit
 * to an exit code when no signal came; like `runMain`, a clean success lets Node end by itself.
 */
export const runMain = makeRunMain(({ fiber, teardown }) => {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let received: HandledSignal | undefined

  const onSignal = (signal: HandledSignal) => {
    if (received !== undefined) {
      // Nothing more is waited for; listeners of "exit" (the dashboard's) restore the terminal.
      process.stderr.write(`\neffect-agents: second ${signal}, exiting now\n`)
      process.exit(signalExitCode[received])
    }
    received = signal
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onSigint = () => onSignal("SIGINT")
  const onSigterm = () => onSignal("SIGTERM")
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)

  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    teardown(exit, (code) => {
      if (received !== undefined) return process.exit(signalExitCode[received])
      if (code !== 0) return process.exit(code)
      process.removeListener("SIGINT", onSigint)
      process.removeListener("SIGTERM", onSigterm)
    })
  })
})
