/**
 * Agents with tools on every provider we support, through the whole resilient stack, against the
 * loopback fake provider: the tools reach the wire, the model's tool calls come back, the results
 * go out in the provider's own shape, and the final answer arrives.
 */
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as FakeProvider from "./support/FakeProvider.js"
import * as Stack from "./support/resilientStack.js"

const Weather = Tool.make("weather", {
  description: "Current temperature of a city in Celsius",
  parameters: { city: Schema.String },
  success: Schema.Struct({ celsius: Schema.Number })
})
const toolkit = Toolkit.make(Weather)
const handlers = toolkit.toLayer({ weather: ({ city }) => Effect.succeed({ celsius: city === "Oslo" ? 3 : 20 }) })

const forecaster = Agent.make({
  name: "forecaster",
  instructions: "Answer with the weather.",
  input: Schema.String,
  output: "text",
  tools: toolkit
})

const providers: ReadonlyArray<readonly [string, (fake: FakeProvider.FakeProvider) => Record<string, string>]> = [
  ["openai", () => ({})],
  ["openrouter", () => ({ LLM_PROVIDER: "openrouter", OPENROUTER_API_KEY: Stack.API_KEY })],
  ["google", (fake) => ({ LLM_PROVIDER: "google", GOOGLE_API_KEY: Stack.API_KEY, LLM_BASE_URL: fake.url })]
]

/** The tool results the second request sent back, in the provider's shape. */
const sentResults = (request: FakeProvider.RecordedRequest): unknown => {
  const body = request.body as {
    messages?: ReadonlyArray<{ role: string; tool_call_id?: string; content?: unknown }>
    contents?: ReadonlyArray<{ parts?: ReadonlyArray<{ functionResponse?: { name: string; response: unknown } }> }>
  }
  if (request.api === "gemini") {
    return body.contents?.flatMap((c) => c.parts ?? []).flatMap((p) => (p.functionResponse === undefined ? [] : [p.functionResponse]))
  }
  return body.messages?.filter((m) => m.role === "tool").map((m) => ({ id: m.tool_call_id, content: m.content }))
}

type ToolEntry = { function?: { name: string }; functionDeclarations?: ReadonlyArray<{ name: string }> }

/** The names of the tools a request offered (chat completions list them, Gemini declares them). */
const toolNamesSent = (request: FakeProvider.RecordedRequest): ReadonlyArray<string> => {
  const tools = (request.body as { tools?: ReadonlyArray<ToolEntry> | ToolEntry }).tools ?? []
  return (Array.isArray(tools) ? tools : [tools]).flatMap((t: ToolEntry) =>
    t.function !== undefined ? [t.function.name] : (t.functionDeclarations ?? []).map((d) => d.name)
  )
}

describe("agents with tools on each provider, through the resilient stack", () => {
  for (const [name, env] of providers) {
    it.scopedLive(`${name}: offers the tools, runs the calls and sends their results back`, () =>
      Effect.gen(function*() {
        const fake = yield* FakeProvider.make()
        fake.enqueue(
          FakeProvider.toolCalls({ id: "call_a", name: "weather", args: { city: "Oslo" } }, { id: "call_b", name: "weather", args: { city: "Rome" } }),
          FakeProvider.ok("Oslo 3°C, Rome 20°C")
        )
        const answer = yield* forecaster.run("Weather in Oslo and Rome?").pipe(
          Effect.provide(Layer.merge(Stack.layer(fake.openaiUrl, env(fake)), handlers))
        )
        expect(answer).toBe("Oslo 3°C, Rome 20°C")
        expect(fake.requests).toHaveLength(2)
        expect(toolNamesSent(fake.requests[0]!)).toEqual(["weather"])
        expect(sentResults(fake.requests[1]!)).toMatchObject(
          name === "google"
            ? [{ name: "weather", response: { celsius: 3 } }, { name: "weather", response: { celsius: 20 } }]
            : [{ id: "call_a", content: "{\"celsius\":3}" }, { id: "call_b", content: "{\"celsius\":20}" }]
        )
      }))
  }

  it.scopedLive("a second run asks the model again for the tool step and gets the final answer from the cache", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make()
      const stack = Layer.merge(Stack.layer(fake.openaiUrl), handlers)
      fake.setScript((_request, index) =>
        index % 2 === 0 ? FakeProvider.toolCalls({ id: "call_a", name: "weather", args: { city: "Oslo" } }) : FakeProvider.ok("3°C")
      )
      const twice = Effect.zip(forecaster.run("Oslo?"), forecaster.run("Oslo?"))
      const [first, second] = yield* twice.pipe(Effect.provide(stack))
      expect([first, second]).toEqual(["3°C", "3°C"])
      // The tool step is sent again (its handler must run again); the answer to the same results is a hit.
      expect(fake.requests).toHaveLength(3)
    }))
})
