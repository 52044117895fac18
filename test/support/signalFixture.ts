/**
 * A process that runs the CLI's `runMain` on a program whose cleanup takes as long as argv[2] says
 * (`forever` or milliseconds), for the tests of the signal policy. Prints `ready` once its
 * listeners are in place and `cleaned up` when the cleanup ends.
 */
import { Effect } from "effect"
import { runMain } from "../../src/cli/signals.js"

const cleanup = process.argv[2] === "forever" ? Effect.never : Effect.sleep(Number(process.argv[2] ?? "0"))

// `ready` only after a yield: `runMain` installs its listeners right after it forks the program, and a
// signal that arrives before them would kill the process by default.
runMain(
  Effect.yieldNow().pipe(
    Effect.zipRight(Effect.sync(() => process.stdout.write("ready\n"))),
    Effect.zipRight(Effect.never),
    Effect.onInterrupt(() => cleanup.pipe(Effect.zipRight(Effect.sync(() => process.stdout.write("cleaned up\n")))))
  ),
  { disableErrorReporting: true, disablePrettyLogger: true }
)
