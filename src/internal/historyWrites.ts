/**
 * The statements each workflow event writes into the run history, shared by SQLite and PostgreSQL.
 *
 * Every write is idempotent, because the recorder retries a batch whose COMMIT failed on the
 * client side — and such a COMMIT may well have committed on the server. Runs and steps are
 * upserts keyed by run id and (run id, step id). An LLM call carries an `event_key`, unique in
 * `llm_calls`: the store's owner id and a number the store gives each event object the first time
 * it sees it, so applying the same event again inserts nothing. A run's tokens and cost are then
 * recomputed from its calls rather than incremented, so a replay never counts a call twice.
 *
 * Every statement also stamps the run's `updated_at` with the time of the write (`now`), which is
 * what a reader following other processes' runs asks about. Every event is also appended to the
 * event log (`events`) in its JSON form, keyed like the calls so a replay appends nothing twice.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schema } from "effect"
import { WorkflowEvent } from "../services/WorkflowEvents.js"
import { int, type Owner, toJson } from "./historyRows.js"

/** Writes one event's rows at `now` (epoch ms); the error is the driver's. */
export type ApplyEvent = (event: WorkflowEvent, now: number) => Effect.Effect<void, unknown>

/** The statements of `owner`'s store over `sql`. */
export const makeApply = (sql: SqlClient.SqlClient, owner: Owner): ApplyEvent => {
  // Keyed by the event object: a retry hands the store the very objects it was given before.
  const keys = new WeakMap<WorkflowEvent, string>()
  let next = 0
  const keyOf = (event: WorkflowEvent): string => {
    const known = keys.get(event)
    if (known !== undefined) return known
    const key = `${owner.id}:${++next}`
    keys.set(event, key)
    return key
  }

  const sumsOf = (runId: string) =>
    sql`(SELECT COALESCE(SUM(input_tokens), 0) FROM llm_calls WHERE run_id = ${runId}),
      (SELECT COALESCE(SUM(output_tokens), 0) FROM llm_calls WHERE run_id = ${runId}),
      (SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE run_id = ${runId})`

  const touch = (runId: string, now: number) => sql`UPDATE runs SET updated_at = ${int(now)} WHERE id = ${runId}`


  const rows = (event: WorkflowEvent, now: number): Effect.Effect<void, unknown> => {
    switch (event._tag) {
      case "WorkflowStarted":
        // A start that arrives after its finish only fills in the input, the trace and the key. A
        // durable run started again (resumed) before it finished now belongs to this process.
        return sql`INSERT INTO runs (id, workflow, status, started_at, input, owner, host, pid, updated_at, trace_id,
            idempotency_key, durable)
          VALUES (${event.runId}, ${event.workflow}, 'running', ${int(event.at)}, ${toJson(event.input)},
            ${owner.id}, ${owner.host}, ${owner.pid}, ${int(now)}, ${event.traceId ?? null}, ${event.idempotencyKey ?? null},
            ${event.durable === true ? 1 : 0})
          ON CONFLICT (id) DO UPDATE SET input = excluded.input, updated_at = excluded.updated_at,
            trace_id = excluded.trace_id, idempotency_key = excluded.idempotency_key, durable = excluded.durable,
            owner = CASE WHEN runs.finished_at IS NULL THEN excluded.owner ELSE runs.owner END,
            host = CASE WHEN runs.finished_at IS NULL THEN excluded.host ELSE runs.host END,
            pid = CASE WHEN runs.finished_at IS NULL THEN excluded.pid ELSE runs.pid END,
            status = CASE WHEN runs.finished_at IS NULL THEN 'running' ELSE runs.status END`
      case "WorkflowFinished":
        return sql`INSERT INTO runs (id, workflow, status, started_at, finished_at, duration_ms,
            input_tokens, output_tokens, cost_usd, output, error_tag, error_message, owner, host, pid, updated_at)
          VALUES (${event.runId}, ${event.workflow}, ${event.status}, ${int(event.at - event.durationMs)},
            ${int(event.at)}, ${event.durationMs}, ${sumsOf(event.runId)},
            ${toJson(event.output)}, ${event.error?.tag ?? null}, ${event.error?.message ?? null},
            ${owner.id}, ${owner.host}, ${owner.pid}, ${int(now)})
          ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
            duration_ms = excluded.duration_ms, input_tokens = excluded.input_tokens,
            output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, output = excluded.output,
            error_tag = excluded.error_tag, error_message = excluded.error_message, updated_at = excluded.updated_at`
      case "StepStarted":
        return Effect.zipRight(
          sql`INSERT INTO steps (run_id, step_id, seq, label, agent, status, started_at)
            VALUES (${event.runId}, ${event.stepId},
              (SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ${event.runId}),
              ${event.label}, ${event.agent ?? null}, 'running', ${int(event.at)})
            ON CONFLICT (run_id, step_id) DO NOTHING`,
          touch(event.runId, now)
        )
      case "StepFinished":
        return Effect.zipRight(
          sql`INSERT INTO steps (run_id, step_id, seq, label, agent, status, started_at, finished_at,
              duration_ms, cached, attempts, calls, input_tokens, output_tokens, cost_usd, output,
              error_tag, error_message)
            VALUES (${event.runId}, ${event.stepId},
              (SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE run_id = ${event.runId}),
              ${event.label}, ${event.agent ?? null}, ${event.status}, ${int(event.at - event.durationMs)},
              ${int(event.at)}, ${event.durationMs}, ${event.cached ? 1 : 0}, ${event.attempts}, ${event.calls},
              ${event.usage.inputTokens}, ${event.usage.outputTokens}, ${event.costUsd}, ${event.output ?? null},
              ${event.error?.tag ?? null}, ${event.error?.message ?? null})
            ON CONFLICT (run_id, step_id) DO UPDATE SET label = excluded.label,
              agent = COALESCE(excluded.agent, steps.agent), status = excluded.status,
              finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, cached = excluded.cached,
              attempts = excluded.attempts, calls = excluded.calls, input_tokens = excluded.input_tokens,
              output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, output = excluded.output,
              error_tag = excluded.error_tag, error_message = excluded.error_message`,
          touch(event.runId, now)
        )
      case "LlmCallFinished": {
        const runId = event.runId
        if (runId === undefined) return Effect.void
        return Effect.zipRight(
          sql`INSERT INTO llm_calls (event_key, run_id, step_id, agent, model, provider, cached, attempts,
              input_tokens, output_tokens, cost_usd, duration_ms, status, error_tag, error_message, at)
            VALUES (${keyOf(event)}, ${runId}, ${event.stepId ?? null}, ${event.agent ?? null}, ${event.model},
              ${event.provider}, ${event.cached ? 1 : 0}, ${event.attempt}, ${event.usage.inputTokens},
              ${event.usage.outputTokens}, ${event.costUsd}, ${event.durationMs}, ${event.status},
              ${event.error?.tag ?? null}, ${event.error?.message ?? null}, ${int(event.at)})
            ON CONFLICT (event_key) DO NOTHING`,
          sql`UPDATE runs SET
              input_tokens = (SELECT COALESCE(SUM(input_tokens), 0) FROM llm_calls WHERE run_id = ${runId}),
              output_tokens = (SELECT COALESCE(SUM(output_tokens), 0) FROM llm_calls WHERE run_id = ${runId}),
              cost_usd = (SELECT COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE run_id = ${runId}),
              updated_at = ${int(now)}
            WHERE id = ${runId}`
        )
      }
      default:
        return Effect.void
    }
  }

  return (event, now) => Effect.zipRight(rows(event, now), appendEvent(sql, keyOf(event), event))
}

/** Appends `event` to the event log under `key`; a key already there appends nothing. */
export const appendEvent = (sql: SqlClient.SqlClient, key: string, event: WorkflowEvent) => {
  const runId = "runId" in event ? event.runId ?? null : null
  return sql`INSERT INTO events (event_key, run_id, at, body)
    VALUES (${key}, ${runId}, ${int(event.at)}, ${bodyOf(event)})
    ON CONFLICT (event_key) DO NOTHING`
}

const encode = Schema.encodeSync(WorkflowEvent)

/**
 * An event's JSON. An input or output JSON cannot represent (a BigInt, a cycle) is kept as text,
 * as the run's own row keeps it, rather than failing the write.
 */
const bodyOf = (event: WorkflowEvent): string => {
  const encoded = encode(event)
  try {
    return JSON.stringify(encoded)
  } catch {
    const fields: Record<string, unknown> = { ...encoded }
    if ("input" in encoded) fields["input"] = toJson(encoded.input)
    if ("output" in encoded) fields["output"] = toJson(encoded.output)
    return JSON.stringify(fields)
  }
}
