/**
 * Following a server's event stream through what real servers do to connections: a stream that
 * ends with an `error` message, a server that replays what was already sent, a `retry` hint, a
 * connection that goes silent, a token refused after a restart. A small loopback HTTP server plays
 * each script; the follower is the real one over a real socket.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { Chunk, Effect, Either, Stream } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import * as RemoteEvents from "../src/cli/remoteEvents.js"

/** One answer per connection, in order; the last one repeats. */
type Script = ReadonlyArray<(request: IncomingMessage, response: ServerResponse) => void>

const event = (seq: number, runId = "run-1") =>
  `id: ${seq}\nevent: WorkflowStarted\ndata: ${JSON.stringify({ _tag: "WorkflowStarted", runId: `${runId}-${seq}`, workflow: "w", input: "x", at: seq })}\n\n`

const sse = (body: string, keepOpen = false) => (_: IncomingMessage, response: ServerResponse) => {
  response.writeHead(200, { "content-type": "text/event-stream" })
  response.write(": connected\n\n")
  response.write(body)
  if (!keepOpen) response.end()
}

/** Serves `script`, follows it until `take` items, and returns them with the Last-Event-ID of each connection. */
const follow = (script: Script, take: number, options: Partial<RemoteEvents.FollowOptions> = {}) =>
  Effect.gen(function*() {
    const sent: Array<string | undefined> = []
    const server = createServer((request, response) => {
      const last = request.headers["last-event-id"]
      sent.push(Array.isArray(last) ? last[0] : last)
      script[Math.min(sent.length, script.length) - 1]!(request, response)
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () => Effect.sync(() => server.close()).pipe(Effect.zipRight(Effect.sync(() => server.closeAllConnections())))
    )
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const client = yield* HttpClient.HttpClient
    const items = yield* RemoteEvents.follow({ client, server: url, after: 0, initialDelay: "20 millis", maxDelay: "100 millis", ...options }).pipe(
      Stream.take(take),
      Stream.runCollect,
      Effect.either
    )
    return { items: Either.map(items, Chunk.toReadonlyArray), sent }
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici), Effect.runPromise)

const tags = (items: ReadonlyArray<RemoteEvents.FollowItem>) =>
  items.map((i) => (i._tag === "Event" ? `event ${i.seq}` : i._tag === "Status" ? i.status.state : `notice: ${i.message}`))

describe("following a server's event stream", () => {
  it("reconnects after an error message with the last id, and drops what the server sends twice", async () => {
    const { items, sent } = await follow([
      sse(event(1) + event(2) + `event: error\ndata: {"tag":"SubscriberTooSlow","message":"fell behind"}\n\n`),
      sse(event(2) + event(3), true)
    ], 7)
    expect(sent).toEqual(["0", "2"])
    expect(tags(Either.getOrThrow(items))).toEqual([
      "connecting",
      "connected",
      "event 1",
      "event 2",
      "notice: the server ended the event stream: fell behind",
      "reconnecting",
      "connected"
    ])
  })

  it("says why it is reconnecting, and backs off further each failed attempt", async () => {
    const refuse = (_: IncomingMessage, response: ServerResponse) => void response.writeHead(503).end()
    const { items } = await follow([refuse], 7, { initialDelay: "10 millis", maxDelay: "10 seconds" })
    const waits = Either.getOrThrow(items).flatMap((i) => (i._tag === "Status" && i.status.state === "reconnecting" ? [i.status] : []))
    expect(waits.map((w) => w.reason)).toEqual(Array(waits.length).fill("the server answered 503"))
    expect(waits.map((w) => w.attempt)).toEqual([1, 2, 3, 4, 5, 6])
    // Doubling with ±20 % jitter: each wait is over 1.3 times the previous one (2 × 0.8 / 1.2).
    for (let i = 1; i < waits.length; i++) expect(waits[i]!.retryInMs!).toBeGreaterThan(waits[i - 1]!.retryInMs! * 1.3)
  })

  it("takes the server's retry hint as the first delay", async () => {
    const { items } = await follow([sse("retry: 1000\n\n"), sse(event(1), true)], 4, { maxDelay: "5 seconds" })
    const wait = Either.getOrThrow(items).find((i) => i._tag === "Status" && i.status.state === "reconnecting")
    expect(wait?._tag === "Status" && wait.status.retryInMs).toBeGreaterThanOrEqual(800)
  })

  it("treats a silent connection as dead and reconnects", async () => {
    const { items, sent } = await follow([sse(event(1), true), sse(event(2), true)], 6, { idleTimeout: "300 millis" })
    expect(sent).toEqual(["0", "1"])
    expect(tags(Either.getOrThrow(items))).toEqual(["connecting", "connected", "event 1", "reconnecting", "connected", "event 2"])
  })

  it("stops with Unauthorized when the server refuses the token, instead of retrying", async () => {
    const { items } = await follow([sse(event(1)), (_, response) => void response.writeHead(401).end()], 10)
    expect(Either.isLeft(items) && items.left._tag).toBe("Unauthorized")
  })
})
