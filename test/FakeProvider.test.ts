/**
 * The loopback fake provider itself: it must answer as scripted, record what it saw, and let go of
 * hanging requests when it closes, or the provider tests built on it prove nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as FakeProvider from "./support/FakeProvider.js"

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    })
    return { status: res.status, headers: res.headers, text: await res.text() }
  })

describe("FakeProvider", () => {
  it.scopedLive("answers queued behaviours in order, then the fallback, and records each request", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({
        script: [FakeProvider.status(429, { retryAfter: "2" }), FakeProvider.ok("{\"a\":1}", { usage: { cost: 0.5 } })]
      })
      const url = `${fake.openaiUrl}/chat/completions`
      const body = { model: "m/x", messages: [{ role: "user", content: "hi" }] }
      const first = yield* post(url, body, { authorization: "Bearer k" })
      const second = yield* post(url, body)
      const third = yield* post(url, body)
      expect(first.status).toBe(429)
      expect(first.headers.get("retry-after")).toBe("2")
      expect(JSON.parse(second.text)).toMatchObject({
        object: "chat.completion",
        model: "m/x",
        choices: [{ message: { role: "assistant", content: "{\"a\":1}" } }],
        usage: { cost: 0.5 }
      })
      expect(JSON.parse(third.text).choices[0].message.content).toBe("The fake provider answered.")
      expect(fake.requests).toHaveLength(3)
      expect(fake.requests[0]).toMatchObject({ path: "/v1/chat/completions", model: "m/x", body, api: "chat" })
      expect(fake.requests[0]!.headers["authorization"]).toBe("Bearer k")
    }))

  it.scopedLive("speaks Gemini generateContent with usageMetadata", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("Bonjour") })
      const res = yield* post(`${fake.url}/v1beta/models/gemini-x:generateContent`, { contents: [{ parts: [{ text: "hello" }] }] })
      const json = JSON.parse(res.text)
      expect(json.candidates[0].content.parts[0].text).toBe("Bonjour")
      expect(json.usageMetadata).toMatchObject({ promptTokenCount: 2, candidatesTokenCount: 2, totalTokenCount: 4 })
      expect(fake.requests[0]).toMatchObject({ api: "gemini", model: "gemini-x" })
    }))

  it.scopedLive("a seeded fault mix gives the same sequence for the same seed", () =>
    Effect.gen(function*() {
      const mix = { seed: 9, rate429: 0.3, rate500: 0.2 }
      const sequence = () => {
        const responder = FakeProvider.faults(mix)
        const request: FakeProvider.RecordedRequest = { method: "POST", path: "/", headers: {}, body: {}, model: "m", api: "chat" }
        return Array.from({ length: 200 }, (_, i) => {
          const b = responder(request, i)
          return b._tag === "Status" ? b.status : b._tag
        })
      }
      const a = sequence()
      expect(sequence()).toEqual(a)
      const share429 = a.filter((x) => x === 429).length / a.length
      expect(share429).toBeGreaterThan(0.15)
      expect(share429).toBeLessThan(0.45)
      expect(a).toContain("Ok")
      expect(a).toContain(500)
    }))

  it.live("closing the server releases a hanging request", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.promise(() => FakeProvider.start({ script: FakeProvider.hang }))
      const pending = fetch(`${fake.openaiUrl}/chat/completions`, { method: "POST", body: "{}" }).then(
        () => "answered",
        () => "failed"
      )
      // Wait for the request to arrive (a loaded machine may take a while), then close.
      for (let i = 0; i < 100 && fake.count() === 0; i++) yield* Effect.sleep("50 millis")
      expect(fake.count()).toBe(1)
      yield* Effect.promise(() => fake.close())
      expect(yield* Effect.promise(() => pending)).toBe("failed")
    }))
})
