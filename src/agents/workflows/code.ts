/**
 * code — planner → coder → reviewer; a rejected review sends the code back to the coder at most
 * twice. The output keeps the last plan, code and review whether or not it was approved, so a
 * caller can see why the reviewer was unhappy.
 */
import { Effect, Schema } from "effect"
import * as Agent from "../Agent.js"
import * as Workflow from "../Workflow.js"

/** The coder's answer. */
export const CodeDraft = Schema.Struct({
  language: Schema.String,
  code: Schema.String
})
export type CodeDraft = typeof CodeDraft.Type

/** The reviewer's structured verdict. */
export const Review = Schema.Struct({
  approved: Schema.Boolean,
  comments: Schema.Array(Schema.String)
})
export type Review = typeof Review.Type

/** The code workflow's output. */
export const CodeResult = Schema.Struct({
  plan: Schema.String,
  code: Schema.String,
  review: Review
})
export type CodeResult = typeof CodeResult.Type

/** Revisions after the first draft: the reviewer can send the code back at most this often. */
export const MAX_REVISIONS = 2

/** Writes an implementation plan for a programming task. */
export const planner = Agent.make({
  name: "planner",
  instructions:
    "You are a senior engineer. Write a short, numbered implementation plan for the user's programming task: " +
    "the functions to write, edge cases and how to test them. No code.",
  input: Schema.String,
  output: "text"
})

/** Implements the plan, or revises code after review comments. */
export const coder = Agent.make({
  name: "coder",
  instructions:
    "You write correct, idiomatic, complete code for the task following the plan. When review comments are " +
    "given, revise the previous code to address every one. Answer as JSON: {\"language\": string, \"code\": string}.",
  input: Schema.Struct({
    task: Schema.String,
    plan: Schema.String,
    previous: Schema.optional(Schema.Struct({ code: Schema.String, comments: Schema.Array(Schema.String) }))
  }),
  output: CodeDraft
})

/** Reviews code against the task and plan. */
export const reviewer = Agent.make({
  name: "reviewer",
  instructions:
    "You review code for correctness against the task and plan. Approve only code you would merge. " +
    "Answer as JSON: {\"approved\": boolean, \"comments\": [string, ...]} with concrete, actionable comments.",
  input: Schema.Struct({ task: Schema.String, plan: Schema.String, code: Schema.String }),
  output: Review
})

interface Draft {
  readonly code: string
  readonly review: Review | undefined
}

/** Task in; plan, code and the reviewer's verdict out. */
export const code = Workflow.make(
  "code",
  "Plan, write and review code for a task (reviewer may send it back twice)",
  Schema.String.pipe(Schema.nonEmptyString()),
  (task) =>
    Effect.gen(function*() {
      const plan = yield* Workflow.step("plan", planner.run(task), { agent: planner.name })
      const last = yield* Workflow.loop(
        { maxIterations: 1 + MAX_REVISIONS, initial: { code: "", review: undefined } as Draft },
        (draft, iteration) =>
          Effect.gen(function*() {
            const previous = draft.review === undefined
              ? undefined
              : { code: draft.code, comments: draft.review.comments }
            const written = yield* Workflow.step(
              `code #${iteration}`,
              coder.run({ task, plan, ...(previous === undefined ? {} : { previous }) }),
              { agent: coder.name }
            )
            const review = yield* Workflow.step(
              `review #${iteration}`,
              reviewer.run({ task, plan, code: written.code }),
              { agent: reviewer.name }
            )
            return { state: { code: written.code, review }, done: review.approved }
          })
      )
      // The loop runs at least once, so a review exists.
      const review: Review = last.review ?? { approved: false, comments: [] }
      return { plan, code: last.code, review } satisfies CodeResult
    })
)
