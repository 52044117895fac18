/**
 * An agent and a workflow in a few lines; `main.ts` runs it. The README's "Use it as a library"
 * shows this file as it is (the project's tests keep the two identical).
 */
import { Schema } from "effect"
import { Agent, Workflow } from "effect-agents"

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
