/**
 * Streamed answers over real HTTP: the production stack (OpenAI-compatible adapter, resilient
 * layer) against the loopback fake provider answering `stream: true` with server-sent events —
 * retried while no token has come, `StreamInterrupted` with the partial text once one has, and a
 * complete answer cached and replayed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, type Scope, Schema, Stream } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as FakeProvider from "./support/FakeProvider.js"
import * as Stack from "./support/resilientStack.js"

const writer = Agent.make({ name: "writer", instructions: "Write.", input: Schema.String, output: "text" })

const ANSWER = "Streams arrive piece by piece over server-sent events."

const withStack = <A, E>(
  script: FakeProvider.Script,
  body: (fake: FakeProvider.FakeProvider) => Effect.Effect<A, E, Stack.StackServices | Scope.Scope>,
  provider: "openai" | "google" = "openai"
): Effect.Effect<A, E, Scope.Scope> =>
  Effect.flatMap(FakeProvider.make({ script }), (fake) =>
    body(fake).pipe(Effect.provide(
      provider === "openai"
        ? Stack.layer(fake.openaiUrl)
        : Stack.layer(fake.url, { LLM_PROVIDER: "google", GOOGLE_API_KEY: "g-key", LLM_MODEL: "gemini-2.0-flash" })
    )))

const collect = (input: string) =>
  Stream.runFold(writer.stream(input), [] as Array<string>, (all, piece) => [...all, piece])

describe("streaming over HTTP", () => {
  it.scopedLive("asks with stream: true and gives the answer piece by piece", () =>
    withStack(FakeProvider.streamed(ANSWER, { pieceChars: 10, gapMs: 5 }), (fake) =>
      Effect.gen(function*() {
        const pieces = yield* collect("one")
        expect(pieces.join("")).toBe(ANSWER)
        expect(pieces.length).toBeGreaterThan(3)
        expect(fake.requests[0]?.body).toMatchObject({ stream: true })
      })))

  it.scopedLive("a connection dropped before the first token is retried; the reader sees one answer", () =>
    withStack([FakeProvider.streamed("lost", { failAfter: 0 }), FakeProvider.status(503), FakeProvider.streamed(ANSWER)], (fake) =>
      Effect.gen(function*() {
        expect((yield* collect("two")).join("")).toBe(ANSWER)
        expect(fake.count()).toBe(3)
      })))

  it.scopedLive("a connection dropped mid-answer ends the stream with StreamInterrupted and the partial text", () =>
    withStack(FakeProvider.streamed(ANSWER, { pieceChars: 8, failAfter: 2 }), (fake) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(collect("three"))
        // The package reads the cut-off body as an unreadable one: the cause says so.
        expect(error).toMatchObject({ _tag: "StreamInterrupted", partialText: ANSWER.slice(0, 16), cause: { _tag: "MalformedResponse" } })
        expect(fake.count()).toBe(1)
      })))

  it.scopedLive("a complete answer is cached: the same question streams again from the cache", () =>
    withStack(FakeProvider.streamed(ANSWER, { pieceChars: 10 }), (fake) =>
      Effect.gen(function*() {
        const first = (yield* collect("four")).join("")
        const replayed = yield* collect("four")
        expect(replayed).toEqual([ANSWER])
        expect(first).toBe(ANSWER)
        expect(fake.count()).toBe(1)
      })))

  it.scopedLive("Gemini streams too (streamGenerateContent over SSE)", () =>
    withStack(FakeProvider.streamed(ANSWER, { pieceChars: 12 }), (fake) =>
      Effect.gen(function*() {
        const pieces = yield* collect("five")
        expect(pieces.join("")).toBe(ANSWER)
        expect(pieces.length).toBeGreaterThan(1)
        expect(fake.requests[0]?.path).toBe("/v1beta/models/gemini-2.0-flash:streamGenerateContent")
      }), "google"))
})
