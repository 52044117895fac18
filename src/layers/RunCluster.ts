/**
 * RunCluster — the durable engine under `serve`: `@effect/workflow` on `@effect/cluster`.
 *
 * Where the engine keeps its messages follows the run history (`DATABASE_URL`):
 * - SQLite (the default): an embedded single-node cluster in `engine.sqlite` beside the history —
 *   nothing to run. One worker per data directory.
 * - PostgreSQL: every `serve` pointed at the same database is a runner of one cluster. Runners find
 *   each other through the database, reach each other at `RUNNER_HOST:RUNNER_PORT`, and the
 *   engine's sharding spreads runs over them and moves a dead runner's runs to the living.
 *
 * Cancelling a run is a message to a small entity (`effect-agents/RunControl`) addressed like the
 * run itself, so the cluster delivers it to the worker that executes the run.
 */
import { dirname, join } from "node:path"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as Entity from "@effect/cluster/Entity"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import type { LanguageModel } from "@effect/ai"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type { MessageStorage } from "@effect/cluster/MessageStorage"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Duration, Effect, Either, Layer, Option, Redacted, Schedule, Schema } from "effect"
import * as DurableRuns from "../agents/durableRuns.js"
import type { WorkflowRegistry } from "../agents/registry.js"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { RunHistoryError } from "../services/RunHistory.js"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import { reasonOf } from "../internal/historySql.js"
import { targetOf } from "./RunHistoryFromConfig.js"

/** Routes a cancel to the worker executing the run (same entity id as the run's workflow entity). */
const RunControl = Entity.make("effect-agents/RunControl", [
  Rpc.make("cancel", { payload: { runId: Schema.String }, success: Schema.Boolean })
])

const controlLayer = RunControl.toLayer(Effect.gen(function*() {
  const local = yield* DurableRuns.LocalRuns
  return { cancel: (request) => local.cancel(request.payload.runId) }
}))

const SUBMIT_RETRY = Schedule.exponential(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(6)))

/** The engine's execution id of run `runId`: it depends on the run id alone (the workflow's idempotency key). */
const executionIdOf = (runId: string) => DurableRuns.RunWorkflow.executionId({ runId, workflow: "", input: null })

const durableRunsLayer = Layer.effect(
  DurableRuns.DurableRuns,
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine
    const makeClient = yield* RunControl.client
    return DurableRuns.DurableRuns.of({
      // The engine dies rather than fails when it cannot take a message yet (a worker that just
      // started, shards moving between runners): tried again, which is safe — a run's start is
      // stored once, under its execution id.
      submit: (payload) =>
        DurableRuns.RunWorkflow.execute(payload, { discard: true }).pipe(
          Effect.provideService(WorkflowEngine, engine),
          Effect.asVoid,
          Effect.sandbox,
          Effect.retry(SUBMIT_RETRY),
          Effect.catchAll((cause) => Effect.zipRight(Effect.logError("could not submit a run to the engine", cause), Effect.failCause(cause))),
          Effect.unsandbox,
          Effect.orDie
        ),
      cancel: (runId) =>
        Effect.flatMap(executionIdOf(runId), (id) => makeClient(id).cancel({ runId })).pipe(
          Effect.catchAll((error) => Effect.as(Effect.logWarning("could not deliver a cancel", error), false))
        )
    })
  })
)

/**
 * A runner looks for messages it has not seen (runs left by a dead runner) every second, drops a
 * silent runner after a few seconds, and on shutdown waits only briefly for a run's agent call in
 * flight: the run resumes on the next worker, which makes that one call again.
 */
const tuning = {
  entityMessagePollInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(5),
  shardLockRefreshInterval: Duration.seconds(3),
  shardLockExpiration: Duration.seconds(10),
  entityTerminationTimeout: Duration.seconds(2)
} satisfies Partial<ShardingConfig.ShardingConfig["Type"]>

/** Where this worker's runner listens; all the engine layers below need of the configuration. */
type RunnerConfig = Pick<AppConfigShape, "durable">

const address = (config: RunnerConfig) =>
  Option.some(RunnerAddress.RunnerAddress.make({ host: config.durable.runnerHost, port: config.durable.runnerPort }))

/**
 * The engine's SQLite file, in WAL mode (the driver's default) with `synchronous = NORMAL`, as the
 * history: a stored step survives the process being killed, and no commit waits for the disk.
 */
const engineFile = (filename: string) =>
  Layer.effectDiscard(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`PRAGMA synchronous = NORMAL`)).pipe(
    Layer.provideMerge(SqliteClient.layer({ filename }))
  )

/**
 * One runner over a SQLite file; a fixed address, so a restarted worker takes its runs back at once.
 * Exported for `bench/durable.ts`, which times the engine's storage round trip on it.
 */
export const embedded = (filename: string, config: RunnerConfig) =>
  Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(SqlMessageStorage.layer),
    Layer.provide([SqlRunnerStorage.layer, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer({ ...tuning, runnerAddress: address(config) })),
    Layer.provide(engineFile(filename))
  )

/** A runner of the cluster of every worker on the PostgreSQL database (exported for `bench/durable.ts`). */
export const clustered = (url: Redacted.Redacted<string>, config: RunnerConfig) =>
  SocketRunner.layer.pipe(
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc))),
    Layer.provideMerge(SqlMessageStorage.layer),
    Layer.provide(SqlRunnerStorage.layer),
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(ShardingConfig.layer({ ...tuning, runnerAddress: address(config) })),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provide(PgClient.layer({ url, maxConnections: 8, applicationName: "effect-agents-engine" }))
  )

const clusterOf = (
  config: AppConfigShape
): Layer.Layer<Sharding.Sharding | Runners.Runners | MessageStorage, unknown> => {
  const target = targetOf(Option.map(config.databaseUrl, Redacted.value), config.dataDir)
  if (Either.isLeft(target)) return Layer.fail(target.left)
  if (target.right._tag === "Postgres") return clustered(Option.getOrThrow(config.databaseUrl), config)
  const history = target.right.filename
  return embedded(history === ":memory:" ? ":memory:" : join(dirname(history), "engine.sqlite"), config)
}

/** Why the engine could not start (exit 2): its database, or the runner's port. */
const startupFailure = (error: unknown) =>
  new RunHistoryError({
    operation: "open engine",
    reason: (typeof error === "string" ? error : reasonOf(error)).replace(/postgres(ql)?:\/\/\S+/gi, "<redacted url>")
  })

/**
 * The durable engine with the `effect-agents/run` handler registered: `DurableRuns` to submit and
 * cancel runs, `LocalRuns` for the runs this worker executes.
 */
export const layer: Layer.Layer<
  DurableRuns.DurableRuns | DurableRuns.LocalRuns,
  RunHistoryError,
  AppConfig | WorkflowRegistry | LanguageModel.LanguageModel | WorkflowEvents
> = Layer.unwrapEffect(Effect.map(AppConfig, (config) => {
  // Workers started together race to create the engine's tables (PostgreSQL refuses one of two
  // concurrent CREATEs): the loser tries again.
  const engine = ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(clusterOf(config)),
    // The engine's migrations die rather than fail: made a failure, so that it is retried.
    Layer.catchAllCause((cause) => Layer.fail(Cause.squash(cause))),
    Layer.retry(Schedule.spaced(Duration.millis(500)).pipe(Schedule.intersect(Schedule.recurs(4))))
  )
  const handlers = Layer.mergeAll(DurableRuns.layerHandler, controlLayer)
  return Layer.mergeAll(durableRunsLayer, handlers).pipe(
    Layer.provideMerge(DurableRuns.layerLocalRuns),
    Layer.provide(engine),
    Layer.mapError(startupFailure)
  )
}))
