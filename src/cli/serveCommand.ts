/**
 * `effect-agents serve`: the API on `--host`/`--port` until SIGTERM (or Ctrl-C), then a graceful
 * shutdown — stop accepting connections, let running workflows finish for up to
 * `SHUTDOWN_GRACE_SECONDS`, cancel (and record) the rest — durable runs are left to the engine,
 * which resumes them on the next worker — write the history, and exit 0 on SIGTERM.
 * SSE clients stay connected through the drain, so they see how the last runs ended.
 */
import { Console, Duration, Effect } from "effect"
import { RunService } from "../agents/RunService.js"
import * as Server from "../api/server.js"
import { AppConfig } from "../services/AppConfig.js"
import { HistoryRecorder } from "../services/RunHistory.js"
import { endsOn } from "./signals.js"

/** Time for the event feed to hand the last written events to SSE clients. */
const LAST_EVENTS = Duration.millis(300)

export const serve = (options: Server.ServeOptions) =>
  Effect.gen(function*() {
    yield* endsOn("SIGTERM")
    const config = yield* AppConfig
    const runs = yield* RunService
    const recorder = yield* HistoryRecorder
    const server = yield* Server.make(options)
    const url = server.address
    yield* Console.error(`effect-agents serve: listening on ${url} (docs: ${url}/docs, OpenAPI: ${url}/openapi.json)`)
    yield* Effect.logInfo("serving the API").pipe(Effect.annotateLogs({ address: server.address }))

    const shutdown = Effect.gen(function*() {
      yield* server.stopAccepting
      const grace = config.api.shutdownGrace
      const running = yield* runs.running
      yield* Effect.logInfo(`shutting down: no new connections; ${running} running workflow(s) get up to ${Duration.format(grace)}`)
      const drained = yield* runs.drain(grace)
      const unwritten = yield* recorder.flush("10 seconds")
      yield* Effect.sleep(LAST_EVENTS)
      yield* Effect.logInfo(
        `shut down: ${drained.finished} workflow(s) finished, ${drained.cancelled} cancelled` +
          (drained.suspended === 0 ? "" : `, ${drained.suspended} left to resume on the next worker`) +
          (unwritten.length === 0 ? "; history written" : `; ${unwritten.length} run(s) not fully written`)
      )
    })
    return yield* Effect.never.pipe(Effect.onInterrupt(() => shutdown))
  }).pipe(Effect.scoped)
