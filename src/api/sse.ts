/**
 * Server-Sent Events of the event log: each entry is one SSE message whose `id` is its position in
 * the log (what a client sends back as `Last-Event-ID` to resume), `event` the event's tag and
 * `data` its JSON. A comment line every 15 s keeps idle connections open through proxies and lets a
 * dead client be noticed. A stream that fails (a subscriber dropped for being too slow, a store
 * that stopped answering) ends with an `error` message the client can read before it reconnects.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Chunk, Effect, Schema, Stream } from "effect"
import type { LoggedEvent } from "../services/RunHistory.js"
import { errorInfo, WorkflowEvent } from "../services/WorkflowEvents.js"

const encodeEvent = Schema.encodeSync(WorkflowEvent)
const encoder = new TextEncoder()

/** One SSE message. */
export const message = (entry: LoggedEvent): string =>
  `id: ${entry.seq}\nevent: ${entry.event._tag}\ndata: ${JSON.stringify(encodeEvent(entry.event))}\n\n`

// The feed hands one entry object to every subscriber: its bytes are made once, not per client.
const bytesOf = new WeakMap<LoggedEvent, Uint8Array>()
const messageBytes = (entry: LoggedEvent): Uint8Array => {
  let bytes = bytesOf.get(entry)
  if (bytes === undefined) {
    bytes = encoder.encode(message(entry))
    bytesOf.set(entry, bytes)
  }
  return bytes
}

const HEARTBEAT = "15 seconds"
const connected = encoder.encode(": connected\n\n")
const keepAlive = encoder.encode(": keep-alive\n\n")

/** The position a client resumes after: its `Last-Event-ID`, when that is one of ours. */
export const lastEventId = (header: string | undefined): number | undefined => {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined
  return Number(header.trim())
}

/** A streaming `text/event-stream` response of `entries`; what arrives together is written at once. */
export const response = <E>(entries: Stream.Stream<LoggedEvent, E>): HttpServerResponse.HttpServerResponse => {
  const messages = entries.pipe(
    Stream.mapChunks((chunk) => Chunk.of(Buffer.concat(Chunk.toReadonlyArray(Chunk.map(chunk, messageBytes))))),
    Stream.catchAll((error) =>
      Stream.succeed(encoder.encode(`event: error\ndata: ${JSON.stringify(errorInfo(error))}\n\n`)).pipe(
        Stream.tap(() => Effect.logWarning(`event stream ended: ${errorInfo(error).message}`))
      )
    )
  )
  const heartbeat = Stream.tick(HEARTBEAT).pipe(Stream.as(keepAlive))
  const body = Stream.merge(Stream.succeed(connected).pipe(Stream.concat(messages)), heartbeat, { haltStrategy: "left" })
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
}
