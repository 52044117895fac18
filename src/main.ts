/**
 * effect-agents CLI entry: parse arguments, run the command, map the outcome to an exit code.
 *
 * Exit codes (DESIGN.md): 0 success, 1 a workflow failed, 2 bad usage or configuration,
 * 130 interrupted. Errors are printed here once, as a person-readable message on stderr.
 */
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { cli } from "./cli/Cli.js"
import { ExitCode } from "./cli/CliError.js"
import { plain } from "./cli/PlainConsole.js"

declare const __VERSION__: string | undefined
const version = typeof __VERSION__ === "string" ? __VERSION__ : "0.0.0-dev"

const color = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined

/** Errors the user can act on carry a message; print it and choose the exit code. */
const report = (error: unknown): Effect.Effect<number> => {
  // @effect/cli already printed parse errors together with the usage.
  if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.usage)
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : "Error"
  const message = error instanceof Error ? error.message : String(error)
  const code = tag === "InvalidConfig" || tag === "UsageError" || tag === "MetricsServerError"
    ? ExitCode.usage
    : ExitCode.failed
  return Console.error(`${tag}: ${message}`).pipe(Effect.as(code))
}

const program = Effect.suspend(() => cli(version)(process.argv)).pipe(
  Effect.as(ExitCode.success as number),
  Effect.catchAll(report),
  Effect.provide(NodeContext.layer),
  color ? (self) => self : (self) => Effect.consoleWith((console) => Effect.withConsole(self, plain(console)))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: false,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) onExit(typeof exit.value === "number" ? exit.value : ExitCode.success)
    else onExit(Cause.isInterruptedOnly(exit.cause) ? ExitCode.interrupted : ExitCode.failed)
  }
})
