/**
 * The `effect-agents` CLI: the command tree, and `run`, which parses the process's arguments, runs
 * the command and maps the outcome to an exit code — for the stock bin and for a user's own.
 *
 * Commands only parse arguments and hand over to handlers in `src/cli/`; handlers that need heavy
 * modules (the TUI, OpenTelemetry, SQLite) import them lazily so `--help` stays fast. The
 * workflows the commands offer come from the `WorkflowRegistry` service (`run`'s `workflows`),
 * plus those of a module named by `--workflows` or `WORKFLOWS_MODULE`.
 *
 * Exit codes: 0 success, 1 a workflow failed, 2 bad usage or configuration, 130 interrupted
 * (SIGINT, or `q` / Ctrl-C before the runs finished), 143 SIGTERM, 129 SIGHUP (see `signals.ts`).
 * Errors are printed once, as a person-readable message on stderr.
 */
import { readFileSync } from "node:fs"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Registry from "../agents/registry.js"
import { ExitCode, exitCodeFor, UsageError } from "./CliError.js"
import { formatTable } from "./format.js"
import { plain } from "./PlainConsole.js"
import { runMain } from "./signals.js"
import { type Terminal, TerminalInfo } from "./terminal.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON on stdout"))
const noTui = Options.boolean("no-tui").pipe(
  Options.withDescription("Plain progress lines on stderr instead of the dashboard (the default when stdout is not a terminal)")
)

const workflowsModule = Options.text("workflows").pipe(
  Options.optional,
  Options.withDescription(
    "ES module whose exported workflows are offered too (a path from the working directory; also WORKFLOWS_MODULE)"
  )
)

/**
 * The registry in context extended with the workflows of `module` (the option, else
 * `WORKFLOWS_MODULE`); a bad module or a name taken twice is bad usage (exit 2).
 */
const withOwnWorkflows = (module: Option.Option<string>, configured: Option.Option<string>) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Registry.WorkflowRegistry
    const specifier = Option.orElse(module, () => configured)
    if (Option.isNone(specifier)) return yield* effect
    const loader = yield* Effect.promise(() => import("./workflowsModule.js"))
    yield* loader.refuseInBundle(specifier.value)
    const own = yield* loader.load(specifier.value, process.cwd())
    const registry = yield* Registry.make([...own, ...base.workflows]).pipe(
      Effect.mapError((e) => new UsageError({ message: `workflows module ${specifier.value}: ${e.message}` }))
    )
    return yield* Effect.provideService(effect, Registry.WorkflowRegistry, registry)
  })

/**
 * Runs a handler of `commands.ts` (loaded on first use) with the terminal facts and, for the
 * commands that run workflows (`workflows` given: the `--workflows` option), the user's own
 * workflows. The configuration is checked first, from its own small chunk: a bad setting or an
 * unusable directory is reported without waiting for the handlers' modules (about a second of
 * loading on a slow machine).
 */
const withCommands = <A, E, R>(
  f: (commands: typeof import("./commands.js"), terminal: Terminal) => Effect.Effect<A, E, R>,
  workflows?: Option.Option<string>
) =>
  Effect.gen(function*() {
    const terminal = yield* TerminalInfo
    const config = yield* Effect.promise(() => import("../layers/AppConfigEnv.js"))
    const loaded = yield* config.load({ isTty: terminal.stdoutIsTty, directories: "check" })
    const commands = yield* Effect.promise(() => import("./commands.js"))
    const handler = f(commands, terminal)
    return yield* workflows === undefined ? handler : handler.pipe(withOwnWorkflows(workflows, loaded.config.workflowsModule))
  })

/**
 * `dashboard --attach URL` reads no configuration but `API_TOKEN` (a remote screen needs neither
 * keys nor `DATA_DIR`), so it skips the configuration check of the local commands.
 */
const attachTo = (url: string, token: Option.Option<Redacted.Redacted<string>>, others: { readonly demo: boolean; readonly workflows: Option.Option<string> }) =>
  Effect.gen(function*() {
    if (others.demo || Option.isSome(others.workflows)) {
      return yield* new UsageError({ message: "--demo and --workflows are for a local dashboard; the attached server runs its own workflows" })
    }
    const terminal = yield* TerminalInfo
    const attach = yield* Effect.promise(() => import("./attach.js"))
    return yield* attach.attach(terminal, { url, token })
  })

const dashboard = Command.make(
  "dashboard",
  {
    demo: Options.boolean("demo").pipe(Options.withDescription("Start a steady stream of demo runs")),
    workflows: workflowsModule,
    attach: Options.text("attach").pipe(
      Options.optional,
      Options.withDescription("Show a running `serve` instead (its URL, e.g. http://127.0.0.1:8080): its runs, started and cancelled through its API")
    ),
    token: Options.redacted("token").pipe(
      Options.optional,
      Options.withDescription("The server's API_TOKEN for --attach (default: API_TOKEN from the environment or .env)")
    )
  },
  ({ attach, demo, token, workflows }) =>
    Effect.gen(function*() {
      if (Option.isSome(attach)) return yield* attachTo(attach.value, token, { demo, workflows })
      if (Option.isSome(token)) return yield* new UsageError({ message: "--token is for --attach" })
      return yield* withCommands((c, terminal) => c.dashboard(terminal, { demo }), workflows)
    })
).pipe(Command.withDescription("The live terminal dashboard (demo runs by default when no provider key is set), or a server's with --attach"))

const runCommand = Command.make(
  "run",
  {
    workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription("Workflow name (see `workflows`)")),
    input: Options.text("input").pipe(Options.withDescription("Input text of the workflow")),
    json,
    noTui,
    maxCost: Options.float("max-cost").pipe(
      Options.optional,
      Options.withDescription("Budget in USD; the run fails with BudgetExceeded before exceeding it")
    ),
    workflows: workflowsModule
  },
  ({ input, json, maxCost, noTui, workflow, workflows }) =>
    withCommands((c, terminal) => c.run(terminal, { workflow, input, json, noTui, maxCostUsd: maxCost }), workflows)
).pipe(Command.withDescription("Run one workflow"))

const batch = Command.make(
  "batch",
  {
    file: Args.file({ name: "file.jsonl", exists: "yes" }).pipe(
      Args.withDescription("One {\"workflow\": ..., \"input\": ...} object per line")
    ),
    concurrency: Options.integer("concurrency").pipe(Options.withDefault(8), Options.withDescription("Runs at once")),
    json,
    noTui,
    workflows: workflowsModule
  },
  ({ concurrency, file, json, noTui, workflows }) =>
    withCommands((c, terminal) => c.batch(terminal, { file, concurrency, json, noTui }), workflows)
).pipe(Command.withDescription("Run many workflows concurrently from a JSONL file"))

// Reads only WORKFLOWS_MODULE: the list never depends on the rest of the configuration or the directories.
const workflows = Command.make("workflows", { workflows: workflowsModule }, ({ workflows }) =>
  Effect.gen(function*() {
    const config = yield* Effect.promise(() => import("../layers/AppConfigEnv.js"))
    const configured = yield* config.loadSetting("WORKFLOWS_MODULE")
    const registry = yield* Registry.WorkflowRegistry.pipe(withOwnWorkflows(workflows, configured))
    yield* Console.log(formatTable(["WORKFLOW", "DESCRIPTION"], registry.workflows.map((w) => [w.name, w.description])))
  })).pipe(
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
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("Interface to bind; a non-loopback one needs API_TOKEN")),
    port: Options.integer("port").pipe(Options.withDefault(8080), Options.withDescription("Port to listen on")),
    workflows: workflowsModule
  },
  ({ host, port, workflows }) => withCommands((c, terminal) => c.serve(terminal, { host, port }), workflows)
).pipe(Command.withDescription("The REST + SSE API (docs at /docs); SIGTERM shuts it down gracefully"))

/** The root command, named `name`, with every subcommand. */
export const root = (name: string) =>
  Command.make(name).pipe(
    Command.withDescription("Multi-agent LLM workflows on Effect, with a live terminal dashboard"),
    Command.withSubcommands([dashboard, runCommand, batch, workflows, history, cache, config, serve])
  )

/** Parses `argv` and runs the chosen command; the workflows come from `WorkflowRegistry`. */
export const cli = (version: string, name = "effect-agents") => Command.run(root(name), { name, version })

declare const __VERSION__: string | undefined

/** The package's version: set by the bundler, else read from `package.json` next to `dist/`. */
const packageVersion = (): string => {
  if (typeof __VERSION__ === "string") return __VERSION__
  try {
    const json: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    const version = typeof json === "object" && json !== null && "version" in json ? json.version : undefined
    return typeof version === "string" ? version : "0.0.0-dev"
  } catch {
    return "0.0.0-dev"
  }
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

/** Options of `run`. */
export interface RunOptions {
  /**
   * The workflows `run`, `batch`, `workflows` and the dashboard offer, in order; default the
   * built-ins (`Workflows.builtin`). Workflows made with `Workflow.make` that need only a
   * language model and the event bus.
   */
  readonly workflows?: ReadonlyArray<Registry.RegistryEntry>
  /** The program's name in `--help` and usage lines; default `effect-agents`. */
  readonly name?: string
  /** What `--version` prints; default the effect-agents package's version. */
  readonly version?: string
  /** The arguments, `process.argv` style (node, script, then the command); default `process.argv`. */
  readonly argv?: ReadonlyArray<string>
}

/**
 * Runs the CLI as the process's main program: parses the arguments, runs the command and exits
 * with its code (0, 1 a workflow failed, 2 bad usage or configuration, 130 / 143 / 129 on
 * signals). For a bin of your own: `Cli.run({ workflows: [triage, ...Workflows.builtin] })`.
 */
export const run = (options: RunOptions = {}): void => {
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
  const registry = options.workflows === undefined ? Registry.layerBuiltin : Registry.layer(options.workflows)
  const program = Effect.suspend(() =>
    cli(options.version ?? packageVersion(), options.name ?? "effect-agents")(options.argv ?? process.argv)
  ).pipe(
    Effect.provide(registry),
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
}
