/**
 * Server-Sent Events of the event log: each entry is one SSE message whose `id` is its position in
 * the log (what a client sends back as `Last-Event-ID` to resume), `event` the event's tag and
 * `data` its JSON. A comment line every 15 s keeps idle connections open through proxies and lets a
 * dead client be noticed. A stream that fails (a subscriber dropped for being too slow, a store
 * that stopped answering) ends with an `error` message the client can read before it reconnects.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Schema, Stream } from "effect"
import type { LoggedEvent } from "../services/RunHistory.js"
import { errorInfo, WorkflowEvent } from "../services/WorkflowEvents.js"

const encodeEvent = Schema.encodeSync(WorkflowEvent)
const encoder = new TextEncoder()

/** One SSE message. */
export const message = (entry: LoggedEvent): string =>
  `id: ${entry.seq}\nevent: ${entry.event._tag}\ndata: ${JSON.stringify(encodeEvent(entry.event))}\n\n`

const HEARTBEAT = "15 seconds"

/** The position a client resumes after: its `Last-Event-ID`, when that is one of ours. */
export const lastEventId = (header: string | undefined): number | undefined => {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined
  return Number(header.trim())
}

/** A streaming `text/event-stream` response of `entries`. */
export const response = <E>(entries: Stream.Stream<LoggedEvent, E>): HttpServerResponse.HttpServerResponse => {
  const messages = entries.pipe(
    Stream.map(message),
    Stream.catchAll((error) =>
      Stream.succeed(`event: error\ndata: ${JSON.stringify(errorInfo(error))}\n\n`).pipe(
        Stream.tap(() => Effect.logWarning(`event stream ended: ${errorInfo(error).message}`))
      )
    )
  )
  const heartbeat = Stream.tick(HEARTBEAT).pipe(Stream.as(": keep-alive\n\n"))
  const body = Stream.merge(Stream.succeed(": connected\n\n").pipe(Stream.concat(messages)), heartbeat, { haltStrategy: "left" })
  return HttpServerResponse.stream(Stream.map(body, (text) => encoder.encode(text)), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
}
