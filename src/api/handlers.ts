/**
 * The handlers of the API: thin translations between HTTP and the `RunService`, which the
 * dashboard and the CLI use too. Failures of the history store are answered 503 with the store's
 * operation and reason (never a connection string, never a stack).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiError from "@effect/platform/HttpApiError"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { WorkflowRegistry } from "../agents/registry.js"
import { RunService } from "../agents/RunService.js"
import * as Telemetry from "../layers/Telemetry.js"
import { LlmCache } from "../services/LlmCache.js"
import { HistoryRecorder, type RunDetail, RunHistory, RunHistoryError } from "../services/RunHistory.js"
import { Api, NotReady, type RunJson, RunNotCancellable, RunNotFound } from "./Api.js"
import * as Sse from "./sse.js"

/** The history's failure as the API shows it: what failed and why, nothing else. */
const storeError = (e: RunHistoryError) => new RunHistoryError({ operation: e.operation, reason: e.reason })

const Cursor = Schema.parseJson(Schema.Tuple(Schema.Number, Schema.String))
const encodeCursor = Schema.encodeSync(Cursor)
const decodeCursor = Schema.decodeUnknownEither(Cursor)

const toCursor = (at: { readonly startedAt: number; readonly id: string }) =>
  Buffer.from(encodeCursor([at.startedAt, at.id]), "utf8").toString("base64url")

const fromCursor = (text: string) =>
  Either.map(decodeCursor(Buffer.from(text, "base64url").toString("utf8")), ([startedAt, id]) => ({ startedAt, id }))

/** The longest a `POST /v1/runs` waits for its run to be written before answering anyway. */
const FLUSH_TIMEOUT = "5 seconds"

const toJson = (run: RunDetail): RunJson => ({ ...run, usage: { inputTokens: run.inputTokens, outputTokens: run.outputTokens } })

const runs = HttpApiBuilder.group(Api, "runs", (handlers) =>
  Effect.gen(function*() {
    const service = yield* RunService
    const registry = yield* WorkflowRegistry
    const recorder = yield* HistoryRecorder
    const found = (id: string) =>
      service.get(id).pipe(
        Effect.mapError(storeError),
        Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RunNotFound({ id })), onSome: Effect.succeed }))
      )
    return handlers
      .handle("start", ({ headers, payload }) =>
        service.start({ ...payload, idempotencyKey: headers["idempotency-key"] }).pipe(
          // 202 once the run is in the history: a server killed next still shows it (interrupted),
          // and a retry with its Idempotency-Key finds it rather than starting it twice.
          Effect.tap(({ existing, id }) =>
            existing ? Effect.void : Effect.flatMap(recorder.flush(FLUSH_TIMEOUT), (unwritten) =>
              unwritten.includes(id)
                ? Effect.logWarning(`run ${id} started but is not in the history yet (the store is slow or down)`)
                : Effect.void)
          ),
          Effect.map(({ existing, id }) => ({ id, existing })),
          Effect.catchTag("RunHistoryError", (e) => Effect.fail(storeError(e)))
        ))
      .handle("list", ({ urlParams }) =>
        Effect.gen(function*() {
          const after = urlParams.cursor === undefined ? undefined : fromCursor(urlParams.cursor)
          if (after !== undefined && Either.isLeft(after)) return yield* new HttpApiError.BadRequest()
          const page = yield* service.list({
            limit: urlParams.limit ?? 50,
            ...(urlParams.status === undefined ? {} : { status: urlParams.status }),
            ...(urlParams.workflow === undefined ? {} : { workflow: urlParams.workflow }),
            ...(after === undefined ? {} : { after: after.right })
          }).pipe(Effect.mapError(storeError))
          return {
            runs: page.runs,
            ...(Option.isSome(page.next) ? { nextCursor: toCursor(page.next.value) } : {})
          }
        }))
      .handle("get", ({ path }) => Effect.map(found(path.id), toJson))
      .handle("cancel", ({ path }) =>
        Effect.gen(function*() {
          const outcome = yield* service.cancel(path.id).pipe(Effect.mapError(storeError))
          switch (outcome) {
            case "cancelled":
              return { id: path.id, status: "cancelled" as const }
            case "unknown":
              return yield* new RunNotFound({ id: path.id })
            case "finished":
              return yield* new RunNotCancellable({ id: path.id, reason: "it has finished" })
            case "elsewhere":
              return yield* new RunNotCancellable({ id: path.id, reason: "another process runs it; cancel it there" })
          }
        }))
      .handleRaw("runEvents", ({ path, request }) =>
        Effect.as(
          found(path.id).pipe(Effect.mapError(() => new RunNotFound({ id: path.id }))),
          Sse.response(service.events({ runId: path.id, ...afterOf(request.headers["last-event-id"]) }))
        ))
      .handleRaw("events", ({ request }) =>
        Effect.succeed(Sse.response(service.events(afterOf(request.headers["last-event-id"])))))
      .handle("workflows", () =>
        Effect.succeed(registry.workflows.map((w) => ({ name: w.name, description: w.description }))))
      .handle("metrics", () => Telemetry.scrape)
  }))

const afterOf = (header: string | undefined) => {
  const after = Sse.lastEventId(header)
  return after === undefined ? {} : { after }
}

const health = HttpApiBuilder.group(Api, "health", (handlers) =>
  Effect.gen(function*() {
    const history = yield* RunHistory
    const cache = yield* LlmCache
    const check = <A, E extends { readonly message: string }>(effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.timeout("2 seconds"),
        Effect.as("ok"),
        Effect.catchAll((e) => Effect.succeed(`failing: ${"message" in e ? e.message : String(e)}`))
      )
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        Effect.gen(function*() {
          const checks = yield* Effect.all({ history: check(history.lastEventSeq), cache: check(cache.stats) }, {
            concurrency: "unbounded"
          })
          if (Object.values(checks).some((c) => c !== "ok")) return yield* new NotReady({ checks })
          return { status: "ready" as const, checks }
        }))
  }))

/** Every handler of the API. */
export const layer = Layer.mergeAll(runs, health)
