/**
 * The REST + SSE API of `effect-agents serve`, as one `HttpApi` definition: the server, the
 * OpenAPI document (`/openapi.json`), the docs page and the typed client of the remote dashboard
 * are all derived from it.
 *
 * Bodies and parameters are Schemas, so a bad request is a 400 listing the Schema's issues before
 * any handler runs. A run's JSON is what the CLI prints with `--json`, with the run's input, steps
 * and LLM calls besides.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiError from "@effect/platform/HttpApiError"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { ShuttingDown, UnknownWorkflow } from "../agents/RunService.js"
import { WorkflowInputError } from "../agents/Workflow.js"
import { HistoryStatus, RunDetail, RunHistoryError, RunSummary } from "../services/RunHistory.js"
import { Usage } from "../services/WorkflowEvents.js"

/** The body of `POST /v1/runs`. */
export const StartRun = Schema.Struct({
  workflow: Schema.String.pipe(Schema.minLength(1)),
  /** The workflow's input: a JSON value, or text the workflow decodes. */
  input: Schema.Unknown,
  maxCostUsd: Schema.optional(Schema.Number.pipe(Schema.positive()))
})

export const StartedRun = Schema.Struct({
  id: Schema.String,
  /** True when an earlier request with the same `Idempotency-Key` started it. */
  existing: Schema.Boolean
})

/** A run as the API shows it: the history's record and the CLI's `--json` fields. */
export const RunJson = Schema.Struct({ ...RunDetail.fields, usage: Usage })
export type RunJson = typeof RunJson.Type

export const RunPage = Schema.Struct({
  runs: Schema.Array(RunSummary),
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor: Schema.optional(Schema.String)
})

export const WorkflowInfo = Schema.Struct({ name: Schema.String, description: Schema.String })

export const Cancelled = Schema.Struct({ id: Schema.String, status: Schema.Literal("cancelled") })

/** No run has that id. */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", { id: Schema.String }, HttpApiSchema.annotations({ status: 404 })) {
  override get message(): string {
    return `no run with id ${this.id}`
  }
}

/** The run cannot be cancelled here: it has finished, or another process runs it. */
export class RunNotCancellable extends Schema.TaggedError<RunNotCancellable>()("RunNotCancellable", {
  id: Schema.String,
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 409 })) {
  override get message(): string {
    return `run ${this.id} cannot be cancelled: ${this.reason}`
  }
}

/** A store the API needs does not answer. */
export class NotReady extends Schema.TaggedError<NotReady>()("NotReady", { checks: Schema.Record({ key: Schema.String, value: Schema.String }) }, HttpApiSchema.annotations({ status: 503 })) {}

/** `Authorization: Bearer <API_TOKEN>` on every endpoint but the health checks. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("effect-agents/Authorization", {
  failure: HttpApiError.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

const historyDown = { status: 503 } as const

const EventStream = HttpApiSchema.Text({ contentType: "text/event-stream" })

/** The cursor and filters of `GET /v1/runs`. */
export const ListParams = Schema.Struct({
  status: Schema.optional(HistoryStatus),
  workflow: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1_000))),
  cursor: Schema.optional(Schema.String)
})

export class RunsGroup extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.post("start", "/v1/runs")
      .setPayload(StartRun)
      .setHeaders(Schema.Struct({ "idempotency-key": Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))) }))
      .addSuccess(StartedRun, { status: 202 })
      .addError(UnknownWorkflow, { status: 404 })
      .addError(WorkflowInputError, { status: 400 })
      .addError(ShuttingDown, { status: 503 })
      .addError(RunHistoryError, historyDown)
  )
  .add(
    HttpApiEndpoint.get("list", "/v1/runs")
      .setUrlParams(ListParams)
      .addSuccess(RunPage)
      .addError(HttpApiError.BadRequest)
      .addError(RunHistoryError, historyDown)
  )
  .add(
    HttpApiEndpoint.get("get", "/v1/runs/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(RunJson)
      .addError(RunNotFound)
      .addError(RunHistoryError, historyDown)
  )
  .add(
    HttpApiEndpoint.del("cancel", "/v1/runs/:id")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(Cancelled)
      .addError(RunNotFound)
      .addError(RunNotCancellable)
      .addError(RunHistoryError, historyDown)
  )
  .add(
    HttpApiEndpoint.get("runEvents", "/v1/runs/:id/events")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(EventStream)
      .addError(RunNotFound)
  )
  .add(HttpApiEndpoint.get("events", "/v1/events").addSuccess(EventStream))
  .add(HttpApiEndpoint.get("workflows", "/v1/workflows").addSuccess(Schema.Array(WorkflowInfo)))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })))
  .middleware(Authorization)
{}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready"), checks: Schema.Record({ key: Schema.String, value: Schema.String }) }))
      .addError(NotReady)
  )
{}

/** The whole API. */
export class Api extends HttpApi.make("effect-agents").add(RunsGroup).add(HealthGroup).annotateContext(
  OpenApi.annotations({
    title: "effect-agents",
    description: "Start, follow and cancel multi-agent LLM workflow runs; SSE streams resume with Last-Event-ID."
  })
) {}
