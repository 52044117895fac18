/**
 * Metrics — every metric the README lists, defined once (the names are a contract).
 *
 * These are Effect `Metric`s; `layers/Telemetry.ts` exports them through OpenTelemetry to the
 * Prometheus exposition. Names here are the contract users' dashboards depend on: change none.
 * Labels are bounded (agent, model, workflow, status, reason, key, breaker names), never ids or
 * prompts. Counters are `incremental` so they export as Prometheus counters.
 */
import { Effect, type Fiber, FiberRef, Metric, MetricBoundaries, MetricLabel } from "effect"

const seconds = MetricBoundaries.fromIterable([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300
])

/** Bucket boundaries of the OpenTelemetry GenAI semantic conventions. */
const genAiDurationBuckets = MetricBoundaries.fromIterable([
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92
])
const genAiTokenBuckets = MetricBoundaries.fromIterable([
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864
])

// LLM calls — tags: agent, model (+ status | type | reason)
export const llmRequestsTotal = Metric.counter("llm_requests_total", {
  description: "LLM requests by outcome (status: success | error)",
  incremental: true
})
export const llmRequestDurationSeconds = Metric.histogram(
  "llm_request_duration_seconds",
  seconds,
  "LLM request duration in seconds, including retries"
)
export const llmTokensTotal = Metric.counter("llm_tokens_total", {
  description: "LLM tokens by type (input | output)",
  incremental: true
})
export const llmCostUsdTotal = Metric.counter("llm_cost_usd_total", {
  description: "LLM cost in US dollars",
  incremental: true
})
export const llmCacheHitsTotal = Metric.counter("llm_cache_hits_total", {
  description: "LLM cache hits",
  incremental: true
})
export const llmCacheMissesTotal = Metric.counter("llm_cache_misses_total", {
  description: "LLM cache misses",
  incremental: true
})
export const llmRetriesTotal = Metric.counter("llm_retries_total", {
  description: "LLM call retries by reason",
  incremental: true
})

// Workflows and agents
export const workflowExecutionsTotal = Metric.counter("workflow_executions_total", {
  description: "Workflow runs by status",
  incremental: true
})
export const workflowDurationSeconds = Metric.histogram(
  "workflow_duration_seconds",
  seconds,
  "Workflow run duration in seconds"
)
export const agentExecutionsTotal = Metric.counter("agent_executions_total", {
  description: "Agent runs by status",
  incremental: true
})
export const agentExecutionDurationSeconds = Metric.histogram(
  "agent_execution_duration_seconds",
  seconds,
  "Agent run duration in seconds"
)

// Tool calls — tags: agent, tool (+ status). Never the arguments: they may hold user data.
export const agentToolCallsTotal = Metric.counter("agent_tool_calls_total", {
  description: "Tool calls made by agents, by outcome (status: success | error | cancelled)",
  incremental: true
})
export const agentToolCallDurationSeconds = Metric.histogram(
  "agent_tool_call_duration_seconds",
  seconds,
  "Tool call duration in seconds"
)
export const activeWorkflows = Metric.gauge("active_workflows", {
  description: "Workflows running now"
})

// Resilience
export const rateLimiterWaitSeconds = Metric.histogram(
  "rate_limiter_wait_seconds",
  seconds,
  "Time spent waiting for a rate-limit permit, in seconds"
)
export const circuitBreakerState = Metric.gauge("circuit_breaker_state", {
  description: "Circuit breaker state: 0 closed, 1 half-open, 2 open"
})

// OpenTelemetry GenAI semantic conventions. The instruments are `gen_ai.client.operation.duration`
// (unit s) and `gen_ai.client.token.usage` (unit {token}); these are their Prometheus names as the
// OTel compatibility rules spell them (dots → underscores, unit "s" → `_seconds`, annotation units
// dropped). They carry the suffix themselves because the Prometheus exporter appends only `_total`,
// never unit suffixes. Tags: gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model
// (+ gen_ai_token_type for token usage).
export const genAiClientOperationDuration = Metric.histogram(
  "gen_ai_client_operation_duration_seconds",
  genAiDurationBuckets,
  "GenAI operation duration in seconds"
)
export const genAiClientTokenUsage = Metric.histogram(
  "gen_ai_client_token_usage",
  genAiTokenBuckets,
  "Number of input and output tokens used"
)

/** Tags metrics with several labels at once: `withTags(metric, { agent, model })`. */
export const withTags = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  tags: Readonly<Record<string, string>>
): Metric.Metric<Type, In, Out> =>
  Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), metric)

/** An update of a metric under fixed tags (see `fixedTags`). */
export type FixedTagged<In> = (input: In) => Effect.Effect<void>

/** What `updateAll` needs of a `FixedTagged`: its metric, stable labels and tagged form. */
interface Target {
  readonly metric: Metric.Metric<any, any, any>
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly tagged: Metric.Metric<any, any, any>
}
const targets = new WeakMap<FixedTagged<any>, Target>()

/**
 * An update of `metric` under fixed `tags`. `Metric.tagged` merges its tags into a new array on
 * every update, which defeats Effect's per-tag-array lookup cache and costs a registry lookup with
 * key hashing (~10 µs) each time; passing one stable label array keeps that cache hot. The fiber's
 * own metric labels, when it has any, take the ordinary path.
 */
export const fixedTags = <In>(
  metric: Metric.Metric<any, In, any>,
  tags: Readonly<Record<string, string>>
): FixedTagged<In> => {
  const target: Target = {
    metric,
    labels: Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v)),
    tagged: withTags(metric, tags)
  }
  const update: FixedTagged<In> = (input) => updateAll([[update, input]])
  targets.set(update, target)
  return update
}

/** Several `fixedTags` updates as one effect: one read of the fiber's metric labels, one step. */
export const updateAll = (updates: ReadonlyArray<readonly [FixedTagged<any>, unknown]>): Effect.Effect<void> =>
  updateAllAs(updates, undefined)

/** `updateAll`, succeeding with `value` (no separate step to hand it on). */
export const updateAllAs = <A>(updates: ReadonlyArray<readonly [FixedTagged<any>, unknown]>, value: A): Effect.Effect<A> =>
  Effect.withFiberRuntime((fiber) => {
    const rest = updateAllNow(fiber, updates)
    return rest === undefined ? Effect.succeed(value) : Effect.as(rest, value)
  })

/**
 * For code already holding its fiber (inside `Effect.withFiberRuntime`): without fiber metric
 * labels the updates are applied at once, as `Metric.update` would apply them, and `undefined` is
 * returned; with labels, the effect that applies them under those labels.
 */
export const updateAllNow = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  updates: ReadonlyArray<readonly [FixedTagged<any>, unknown]>
): Effect.Effect<void> | undefined => {
  if (fiber.getFiberRef(FiberRef.currentMetricLabels).length > 0) {
    return Effect.forEach(updates, ([update, input]) => Metric.update(targets.get(update)!.tagged, input), { discard: true })
  }
  for (const [update, input] of updates) {
    const target = targets.get(update)!
    target.metric.unsafeUpdate(input, target.labels)
  }
  return undefined
}

/** `Metric.update(metric, input)` applied now, under the fiber's metric labels (inside `withFiberRuntime`). */
export const updateIn = <In>(fiber: Fiber.RuntimeFiber<unknown, unknown>, metric: Metric.Metric<any, In, any>, input: In): void =>
  metric.unsafeUpdate(input, fiber.getFiberRef(FiberRef.currentMetricLabels))
