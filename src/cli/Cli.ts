/**
 * The `effect-agents` command tree.
 *
 * Commands only parse arguments and hand over to handlers in `src/cli/`; handlers that need heavy
 * modules (the TUI, OpenTelemetry, SQLite) import them lazily so `--help` stays fast.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Console from "effect/Console"
import { formatTable } from "./format.js"
import { type Terminal, TerminalInfo } from "./terminal.js"
import { UsageError } from "./CliError.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON on stdout"))
const noTui = Options.boolean("no-tui").pipe(
  Options.withDescription("Plain progress lines on stderr instead of the dashboard (the default when stdout is not a terminal)")
)

/**
 * Runs a handler of `commands.ts` (loaded on first use) with the terminal facts. The configuration
 * is checked first, from its own small chunk: a bad setting or an unusable directory is reported
 * without waiting for the handlers' modules (about a second of loading on a slow machine).
 */
const withCommands = <A, E, R>(
  f: (commands: typeof import("./commands.js"), terminal: Terminal) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const terminal = yield* TerminalInfo
    const config = yield* Effect.promise(() => import("../layers/AppConfigEnv.js"))
    yield* config.load({ isTty: terminal.stdoutIsTty, directories: "check" })
    const commands = yield* Effect.promise(() => import("./commands.js"))
    return yield* f(commands, terminal)
  })

const notYetAvailable = (command: string) =>
  Effect.fail(new UsageError({ message: `'${command}' is not yet available in this version` }))

const dashboard = Command.make(
  "dashboard",
  { demo: Options.boolean("demo").pipe(Options.withDescription("Start a steady stream of demo runs")) },
  ({ demo }) => withCommands((c, terminal) => c.dashboard(terminal, { demo }))
).pipe(Command.withDescription("The live terminal dashboard (demo runs by default when no provider key is set)"))

const run = Command.make(
  "run",
  {
    workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription("Workflow name (see `workflows`)")),
    input: Options.text("input").pipe(Options.withDescription("Input text of the workflow")),
    json,
    noTui,
    maxCost: Options.float("max-cost").pipe(
      Options.optional,
      Options.withDescription("Budget in USD; the run fails with BudgetExceeded before exceeding it")
    )
  },
  ({ input, json, maxCost, noTui, workflow }) =>
    withCommands((c, terminal) => c.run(terminal, { workflow, input, json, noTui, maxCostUsd: maxCost }))
).pipe(Command.withDescription("Run one workflow"))

const batch = Command.make(
  "batch",
  {
    file: Args.file({ name: "file.jsonl", exists: "yes" }).pipe(
      Args.withDescription("One {\"workflow\": ..., \"input\": ...} object per line")
    ),
    concurrency: Options.integer("concurrency").pipe(Options.withDefault(8), Options.withDescription("Runs at once")),
    json,
    noTui
  },
  ({ concurrency, file, json, noTui }) =>
    withCommands((c, terminal) => c.batch(terminal, { file, concurrency, json, noTui }))
).pipe(Command.withDescription("Run many workflows concurrently from a JSONL file"))

const workflows = Command.make("workflows", {}, () =>
  Effect.flatMap(Effect.promise(() => import("../agents/registry.js")), (registry) =>
    Console.log(formatTable(["WORKFLOW", "DESCRIPTION"], registry.workflows.map((w) => [w.name, w.description]))))
).pipe(
  Command.withDescription("List the available workflows")
)

const historyShow = Command.make(
  "show",
  { id: Args.text({ name: "id" }), json },
  ({ id, json }) => withCommands((c, terminal) => c.historyShow(terminal, { id, json }))
).pipe(Command.withDescription("One run with its steps and LLM calls"))

const history = Command.make(
  "history",
  { limit: Options.integer("limit").pipe(Options.withDefault(20)), json },
  ({ json, limit }) => withCommands((c, terminal) => c.history(terminal, { limit, json }))
).pipe(
  Command.withDescription("Past runs with status, duration, tokens and cost"),
  Command.withSubcommands([historyShow])
)

const cache = Command.make("cache").pipe(
  Command.withDescription("The LLM response cache"),
  Command.withSubcommands([
    Command.make("stats", { json }, ({ json }) => withCommands((c, terminal) => c.stats(terminal, { json }))).pipe(
      Command.withDescription("Entries, bytes, hits and misses")
    ),
    Command.make("clear", {}, () => withCommands((c, terminal) => c.clear(terminal))).pipe(
      Command.withDescription("Remove every cached response")
    )
  ])
)

const config = Command.make("config", { json }, ({ json }) =>
  Effect.flatMap(Effect.promise(() => import("./configCommand.js")), (m) => m.configCommand({ json }))).pipe(
  Command.withDescription("Show the effective configuration (secrets redacted); exits 2 if invalid")
)

const serve = Command.make(
  "serve",
  {
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1")),
    port: Options.integer("port").pipe(Options.withDefault(8080))
  },
  () => notYetAvailable("serve")
).pipe(Command.withDescription("REST + SSE API"))

/** The root command with every subcommand. */
export const root = Command.make("effect-agents").pipe(
  Command.withDescription("Multi-agent LLM workflows on Effect, with a live terminal dashboard"),
  Command.withSubcommands([dashboard, run, batch, workflows, history, cache, config, serve])
)

/** Parses `argv` and runs the chosen command. */
export const cli = (version: string) =>
  Command.run(root, { name: "effect-agents", version })
