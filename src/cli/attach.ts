/**
 * `effect-agents dashboard --attach URL`: the dashboard of a running `serve`, over its API. The
 * screen is the local dashboard's, fed by the server's event stream (`GET /v1/events`, resumed
 * with `Last-Event-ID` after a dropped connection); `n` starts a run with `POST /v1/runs`, `x`
 * cancels one with `DELETE /v1/runs/{id}`, and the new-run picker offers `GET /v1/workflows`.
 *
 * Nothing local is built: no provider, cache, history or log file, so neither keys nor `DATA_DIR`
 * are needed. The log pane shows the client's own lines. Quitting leaves the server's runs running.
 * The server and the token are checked before the screen opens: an unreachable server or a refused
 * token is an error (exit 2), never a screen that waits forever.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Console, Effect, Option, Redacted, Runtime, Stream } from "effect"
import { Interrupted } from "./CliError.js"
import { progressLine } from "./progress.js"
import * as RemoteApi from "./remoteApi.js"
import type { Unauthorized } from "./remoteEvents.js"
import * as RemoteSource from "./remoteSource.js"
import { type Terminal, untilClosed } from "./terminal.js"

/** What `dashboard --attach` was given. */
export interface AttachArgs {
  readonly url: string
  /** `--token`; else `API_TOKEN` from the environment or `.env`. */
  readonly token: Option.Option<Redacted.Redacted<string>>
}

/** Runs the screen opens with: the newest ones, replayed from the server's event log. */
export const RECENT_RUNS = 50

/** How often runs shown running are checked against the server's interrupted ones. */
const SWEEP_INTERVAL = "3 seconds"

/** `host:port` (and path) of a base URL, as the header and the log name the server. */
const hostOf = (server: string): string => server.replace(/^https?:\/\//, "")

type WorkflowList = ReadonlyArray<{ readonly name: string; readonly description: string }>

/** How a session ended: `q`, or Ctrl-C (which means what SIGINT means). */
export type AttachEnding = "quit" | "interrupted"

/** The actions of the remote dashboard: requests to the server, their outcome in the log pane. */
const remoteActions = (api: RemoteApi.RemoteApi, remote: RemoteSource.RemoteSource, runFork: (effect: Effect.Effect<void>) => unknown) => {
  const short = (id: string) => id.slice(0, 8)
  return {
    startRun: (workflow: string, input: string) =>
      void runFork(api.start(workflow, input).pipe(
        Effect.match({
          onSuccess: (id) => remote.log("INFO", `started ${workflow} run ${short(id)}`),
          onFailure: (e) => remote.log("WARNING", `could not start ${workflow}: ${e.message}`)
        })
      )),
    cancelRun: (runId: string) =>
      void runFork(api.cancel(runId).pipe(
        Effect.match({
          onSuccess: () => remote.log("INFO", `cancelled run ${short(runId)}`),
          onFailure: (e) => remote.log("WARNING", `could not cancel run ${short(runId)}: ${e.message}`)
        })
      ))
  }
}

/**
 * The dashboard over `api` until the user quits; fails with `Unauthorized` if the server starts
 * refusing the token (the screen closes first).
 */
export const attachSession = (terminal: Terminal, api: RemoteApi.RemoteApi, workflows: WorkflowList) =>
  Effect.gen(function*() {
    const remote = RemoteSource.make(hostOf(api.server))
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const position = yield* api.recentPosition(RECENT_RUNS).pipe(
      Effect.catchAll((e) => Effect.as(Effect.sync(() => remote.log("WARNING", `recent runs not shown: ${e.message}`)), undefined))
    )
    const abort = new AbortController()
    let refused: Unauthorized | undefined
    yield* api.events(position).pipe(
      Stream.runForEachChunk((chunk) => Effect.sync(() => remote.apply(chunk))),
      Effect.catchAll((e) =>
        Effect.sync(() => {
          refused = e
          abort.abort()
        })
      ),
      Effect.forkScoped
    )
    // A killed server's runs end with no event: its history, once it is back, says they were interrupted.
    yield* api.interrupted(100).pipe(
      Effect.map(remote.settleInterrupted),
      Effect.ignore,
      Effect.when(remote.hasRunning),
      Effect.zipRight(Effect.sleep(SWEEP_INTERVAL)),
      Effect.forever,
      Effect.forkScoped
    )

    let ending = "quit" as AttachEnding
    const actions = {
      ...remoteActions(api, remote, runFork),
      clearFinished: remote.clearFinished,
      quit: () => {
        ending = "quit"
      },
      interrupt: () => {
        ending = "interrupted"
      }
    }
    const tui = yield* Effect.promise(() => import("../tui/index.js"))
    const shown = tui.runDashboard(
      remote.source,
      actions,
      { provider: "remote", model: "(no LLM call seen yet)", simulated: false, workflows, color: terminal.stdoutColor },
      { signal: abort.signal }
    )
    // Interruption (a signal) closes the dashboard and waits until the terminal is restored.
    yield* untilClosed(shown, abort)
    if (refused !== undefined) return yield* Effect.fail(refused)
    return ending
  }).pipe(Effect.scoped)

/**
 * Without a terminal: progress lines on stderr of the server's recent runs, then of its runs as they
 * go, and a line whenever the connection drops or comes back; until interrupted. Starting from a
 * known position (not "from now") is what lets a reconnect fill the gap of an outage.
 */
export const attachHeadless = (api: RemoteApi.RemoteApi) =>
  Effect.gen(function*() {
    const server = hostOf(api.server)
    yield* Console.error(`effect-agents dashboard: not a terminal; printing progress lines of ${server} instead (Ctrl-C stops)`)
    const position = yield* api.recentPosition(RECENT_RUNS).pipe(
      Effect.catchAll((e) => Effect.as(Console.error(`recent runs not shown: ${e.message}`), undefined))
    )
    let last: number | undefined
    return yield* api.events(position).pipe(
      Stream.runForEach((item) => {
        switch (item._tag) {
          case "Event": {
            last = item.seq
            const line = progressLine(item.event)
            return line === undefined ? Effect.void : Console.error(line)
          }
          case "Status":
            return item.status.state === "connecting" ? Effect.void : Console.error(RemoteSource.statusLine(server, item.status, last))
          case "Notice":
            return Console.error(item.message)
        }
      })
    )
  })

/** The token: `--token`, else `API_TOKEN` (environment over `.env`); only this setting is read. */
const tokenOf = (given: Option.Option<Redacted.Redacted<string>>) =>
  Option.isSome(given)
    ? Effect.succeed(given)
    : Effect.flatMap(Effect.promise(() => import("../layers/AppConfigEnv.js")), (config) =>
      Effect.map(config.loadSetting("API_TOKEN"), Option.map((token) => Redacted.make(token))))

/** The `dashboard --attach` command: checks the server and the token, then the screen or the lines. */
export const attach = (terminal: Terminal, args: AttachArgs) =>
  Effect.gen(function*() {
    const server = yield* RemoteApi.parseServer(args.url)
    const api = yield* RemoteApi.make(server, yield* tokenOf(args.token))
    const workflows = yield* api.workflows
    if (!(terminal.stdoutIsTty && terminal.stdinIsTty)) return yield* attachHeadless(api)
    const ending = yield* attachSession(terminal, api, workflows)
    if (ending === "interrupted") {
      return yield* new Interrupted({ message: "Ctrl-C in the dashboard; the server's runs go on" })
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))
