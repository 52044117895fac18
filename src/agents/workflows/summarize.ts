/**
 * summarize — the smallest workflow: one agent, text in, summary out. The summary is streamed, so
 * the dashboard and the API's event stream show it as it is written.
 */
import { Schema, Stream } from "effect"
import * as Agent from "../Agent.js"
import * as Workflow from "../Workflow.js"

/** Summarises a text in a few sentences. */
export const summarizer = Agent.make({
  name: "summarizer",
  instructions:
    "You summarise texts. Answer with a concise summary of the user's text in at most five sentences, " +
    "keeping names, numbers and conclusions. Do not add facts that are not in the text.",
  input: Schema.String,
  output: "text"
})

/** Text in, summary out. */
export const summarize = Workflow.make(
  "summarize",
  "Summarise a text in a few sentences (one agent)",
  Schema.String.pipe(Schema.nonEmptyString()),
  (text) => Workflow.step("summarize", Stream.mkString(summarizer.stream(text)), { agent: summarizer.name })
)
