/**
 * explore — one agent with tools: answers a question about the project in the current directory by
 * searching and reading its files (read-only, never outside that directory).
 */
import { Effect, Schema } from "effect"
import * as Agent from "../Agent.js"
import * as Workflow from "../Workflow.js"
import * as FileTools from "./fileTools.js"

/** The explorer's answer: what it found, and the files it is based on. */
export const Findings = Schema.Struct({
  answer: Schema.String,
  sources: Schema.Array(Schema.String)
})

/** Answers questions about a project from its files, with the file tools. */
export const explorer = Agent.make({
  name: "explorer",
  instructions:
    "You answer questions about a software project from its files. Search the files for the question's " +
    "key words, read the most relevant ones, then answer briefly and list the files you used as sources. " +
    "Only state what the files say.",
  input: Schema.String,
  output: Findings,
  tools: FileTools.toolkit,
  maxSteps: 6
})

/** A question in, findings from the project's files out. */
export const explore = Workflow.make(
  "explore",
  "Answer a question about the project in the current directory from its files (an agent with tools)",
  Schema.String.pipe(Schema.nonEmptyString()),
  (question) =>
    Workflow.step("explore", explorer.run(question).pipe(Effect.provide(FileTools.layer("."))), { agent: explorer.name })
)
