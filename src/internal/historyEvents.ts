/**
 * Reads of the run history's event log (`events`), shared by SQLite and PostgreSQL: the events
 * after a position, for the whole store or one run, and the newest position. The writes are in
 * `historyWrites.ts`, next to the rows each event writes.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option, Schema } from "effect"
import type { EventsAfterOptions, LoggedEvent, ToolCallRecord } from "../services/RunHistory.js"
import { WorkflowEvent } from "../services/WorkflowEvents.js"
import { int, num } from "./historyRows.js"

interface EventRow {
  readonly seq: number | string
  readonly body: string
}

const decode = Schema.decodeUnknownOption(WorkflowEvent)

const parse = (body: string): Option.Option<WorkflowEvent> => {
  try {
    return decode(JSON.parse(body))
  } catch {
    return Option.none()
  }
}

/** The event-log reads over `sql`; failures are the driver's. */
export const makeEventReads = (sql: SqlClient.SqlClient) => ({
  eventsAfter: ({ after, limit, runId }: EventsAfterOptions) => {
    const run = runId === undefined ? sql`` : sql`AND run_id = ${runId}`
    return sql<EventRow>`SELECT seq, body FROM events WHERE seq > ${int(after)} ${run}
      ORDER BY seq LIMIT ${Math.max(0, Math.floor(limit))}`.pipe(
      Effect.map((rows) => {
        const out: Array<LoggedEvent> = []
        // A body this version cannot read (a newer version's event) is left out, not fatal.
        for (const row of rows) {
          const event = parse(row.body)
          if (Option.isSome(event)) out.push({ seq: num(row.seq), event: event.value })
        }
        return out
      })
    )
  },
  /** A run's tool calls, from its `ToolCallFinished` events, in the order they finished. */
  toolCalls: (runId: string) =>
    // The LIKE only narrows the rows decoded; the tag is checked on the decoded event.
    sql<EventRow>`SELECT seq, body FROM events WHERE run_id = ${runId} AND body LIKE ${"%ToolCallFinished%"}
      ORDER BY seq`.pipe(
      Effect.map((rows) => {
        const out: Array<ToolCallRecord> = []
        for (const row of rows) {
          const event = parse(row.body)
          if (Option.isNone(event) || event.value._tag !== "ToolCallFinished") continue
          const { _tag, runId: _runId, ...record } = event.value
          out.push(record)
        }
        return out
      })
    ),
  lastEventSeq: sql<{ readonly seq: number | string | null }>`SELECT MAX(seq) AS seq FROM events`.pipe(
    Effect.map((rows) => num(rows[0]?.seq ?? 0))
  ),
  findIdempotent: (key: string) =>
    sql<{ readonly id: string }>`SELECT id FROM runs WHERE idempotency_key = ${key}
      ORDER BY started_at, id LIMIT 1`.pipe(Effect.map((rows) => Option.fromNullable(rows[0]?.id)))
})
