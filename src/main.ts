/**
 * effect-agents CLI entry: parse arguments, run the command, map the outcome to an exit code.
 *
 * Exit codes: 0 success, 1 a workflow failed, 2 bad usage or configuration, 130 interrupted
 * (SIGINT, or `q` / Ctrl-C before the runs finished), 143 SIGTERM, 129 SIGHUP (see `cli/signals.ts`). Errors
 * are printed here once, as a person-readable message on stderr.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { cli } from "./cli/Cli.js"
import { ExitCode, exitCodeFor } from "./cli/CliError.js"
import { plain } from "./cli/PlainConsole.js"
import { runMain } from "./cli/signals.js"
import { type Terminal, TerminalInfo } from "./cli/terminal.js"

declare const __VERSION__: string | undefined
const version = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev"

// Ink draws no live frames when CI is set (it assumes a log, not a person). With a terminal on both
// ends a person is watching, whatever the environment inherited.
if (process.stdin.isTTY === true && process.stdout.isTTY === true && process.env["CI"] !== undefined) {
  process.env["CI"] = "false"
}

const noColor = process.env["NO_COLOR"] !== undefined && process.env["NO_COLOR"] !== ""
const terminal: Terminal = {
  stdinIsTty: process.stdin.isTTY === true,
  stdoutIsTty: process.stdout.isTTY === true,
  stdoutColor: process.stdout.isTTY === true && !noColor,
  stderrColor: process.stderr.isTTY === true && !noColor
}

/** Errors the user can act on carry a message; print it and choose the exit code. */
const report = (error: unknown): Effect.Effect<number> => {
  // @effect/cli already printed parse errors together with the usage.
  if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.usage)
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
  const message = error instanceof Error ? error.message : String(error)
  // A failed run already printed its progress and error; say it once more, briefly.
  return Console.error(`${tag}: ${message}`).pipe(Effect.as(exitCodeFor(tag)))
}

const program = Effect.suspend(() => cli(version)(process.argv)).pipe(
  Effect.as(ExitCode.success as number),
  Effect.catchAll(report),
  Effect.provideService(TerminalInfo, terminal),
  // Only what the CLI uses (not NodeContext, whose workers and command executor cost start-up time).
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
  terminal.stdoutColor ? (self) => self : (self) => Effect.consoleWith((console) => Effect.withConsole(self, plain(console)))
)

runMain(program, {
  disableErrorReporting: false,
  // Our Logging layer is the logger; runMain's pretty logger would print every line twice.
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) onExit(typeof exit.value === "number" ? exit.value : ExitCode.success)
    else onExit(Cause.isInterruptedOnly(exit.cause) ? ExitCode.interrupted : ExitCode.failed)
  }
})
