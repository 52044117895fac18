/**
 * An agent and a workflow in a few lines, run on the production Layers:
 *   npx tsx examples/headline.ts "Effect 3.22 ships with faster fibers and a new Schema API"
 * With no provider key set it runs on the simulated provider; set OPENROUTER_API_KEY for a real one.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema } from "effect"
import { Agent, MainLayer, Workflow } from "effect-agents"

// An agent: instructions, an input Schema and a structured output Schema.
export const headliner = Agent.make({
  name: "headliner",
  instructions: "Write a headline and a one-sentence teaser for the user's text.",
  input: Schema.String,
  output: Schema.Struct({ headline: Schema.String, teaser: Schema.String })
})

// A workflow: steps are recorded, evented, metered and priced.
export const headline = Workflow.make("headline", "Headline and teaser for a text", Schema.NonEmptyString, (text) =>
  Workflow.step("headline", headliner.run(text)))

if (import.meta.url === `file://${process.argv[1]}`) {
  const main = headline.runReport(process.argv[2] ?? "Effect makes TypeScript programs robust.").pipe(
    Effect.flatMap((report) => Console.log(JSON.stringify(report, null, 2)))
  )
  main.pipe(
    Effect.provide(MainLayer.layer({ isTty: false, console: true, color: false }).pipe(Layer.provide(NodeContext.layer))),
    NodeRuntime.runMain
  )
}
