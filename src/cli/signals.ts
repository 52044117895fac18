/**
 * How the CLI process ends on SIGINT, SIGTERM and SIGHUP: the same way for every command.
 *
 * The first signal interrupts the main fiber, so everything unwinds through its finalizers: runs
 * are interrupted (and recorded `cancelled`), the dashboard restores the terminal, results of runs
 * that finished are printed, the history is flushed. The process then exits 130 (SIGINT), 143
 * (SIGTERM) or 129 (SIGHUP) whatever the program returned. A second SIGINT or SIGTERM exits at once
 * with the same code.
 *
 * `@effect/platform-node`'s `runMain` removes its listeners after the first signal; Ink's
 * `signal-exit` then sees itself alone and re-raises the signal, killing the process before any
 * finalizer ran (the terminal stayed in the alternate screen). Our listeners stay installed until
 * the process exits, which keeps `signal-exit` out of the way.
 */
import { makeRunMain } from "@effect/platform/Runtime"
import { Cause, Effect, Exit } from "effect"

/**
 * Exit codes of the signals the CLI handles: 128 + the signal number, as shells report them.
 * SIGHUP is a closed terminal or SSH session: the same clean end, with nothing left to draw on.
 */
export const signalExitCode = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const

type HandledSignal = keyof typeof signalExitCode

// Signals the running command ends on by design, shutting down cleanly (`serve` on SIGTERM).
const expected = new Set<HandledSignal>()

/**
 * Declares that the running command treats `signal` as its normal way to end: when its shutdown
 * completes (it ends interrupted and nothing else), the process exits 0 rather than 128 + n.
 */
export const endsOn = (signal: HandledSignal): Effect.Effect<void> => Effect.sync(() => void expected.add(signal))

/**
 * Runs the CLI's main effect with the signal policy above. `teardown` maps the main fiber's exit
 * to an exit code when no signal came; like `runMain`, a clean success lets Node end by itself.
 */
export const runMain = makeRunMain(({ fiber, teardown }) => {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let received: HandledSignal | undefined

  const onSignal = (signal: HandledSignal) => {
    if (received !== undefined) {
      // A closing terminal may hang up more than once (tmux and the kernel both send SIGHUP, and
      // every failed write reports it too); only a person's second SIGINT / SIGTERM forces the exit.
      if (signal === "SIGHUP") return
      // Nothing more is waited for; listeners of "exit" (the dashboard's) restore the terminal.
      process.stderr.write(`\neffect-agents: second ${signal}, exiting now\n`)
      process.exit(signalExitCode[received])
    }
    received = signal
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onSighup = () => onSignal("SIGHUP")
  const onSigint = () => onSignal("SIGINT")
  const onSigterm = () => onSignal("SIGTERM")
  // A write to a terminal that is gone fails with EIO (to a closed pipe, EPIPE), often before the
  // SIGHUP arrives: that is a hang-up too, not a crash in the middle of the cleanup.
  const onOutputError = (error: NodeJS.ErrnoException) => {
    if (error.code !== "EIO" && error.code !== "EPIPE") throw error
    onSignal("SIGHUP")
  }
  process.on("SIGHUP", onSighup)
  process.on("SIGINT", onSigint)
  process.on("SIGTERM", onSigterm)
  process.stdout.on("error", onOutputError)
  process.stderr.on("error", onOutputError)

  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    teardown(exit, (code) => {
      if (received === "SIGHUP") {
        // Ending by the signal itself: a normal exit would have Node restore the terminal modes of
        // a terminal that is gone, which fails an assertion in Node 20 (an abort instead of 129).
        process.removeAllListeners("SIGHUP")
        return process.kill(process.pid, "SIGHUP")
      }
      if (received !== undefined) {
        const clean = expected.has(received) && Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
        return process.exit(clean ? 0 : signalExitCode[received])
      }
      if (code !== 0) return process.exit(code)
      process.removeListener("SIGHUP", onSighup)
      process.removeListener("SIGINT", onSigint)
      process.removeListener("SIGTERM", onSigterm)
    })
  })
})
