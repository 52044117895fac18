/**
 * research — decompose a question into 3–5 sub-questions, answer them in parallel, synthesise.
 */
import { Effect, Schema } from "effect"
import * as Agent from "../Agent.js"
import * as Workflow from "../Workflow.js"

/** The decomposer's answer: between three and five sub-questions. */
export const SubQuestions = Schema.Struct({
  subQuestions: Schema.Array(Schema.String.pipe(Schema.nonEmptyString())).pipe(Schema.minItems(3), Schema.maxItems(5))
})

/** A sub-question and its answer. */
export const Finding = Schema.Struct({ question: Schema.String, answer: Schema.String })
export type Finding = typeof Finding.Type

/** The research workflow's output. */
export const ResearchResult = Schema.Struct({
  question: Schema.String,
  findings: Schema.Array(Finding),
  answer: Schema.String
})
export type ResearchResult = typeof ResearchResult.Type

/** Splits a question into 3–5 sub-questions that together answer it. */
export const decomposer = Agent.make({
  name: "decomposer",
  instructions:
    "You plan research. Split the user's question into between 3 and 5 focused sub-questions that, " +
    "answered together, answer the whole question. Answer as JSON: {\"subQuestions\": [string, ...]}.",
  input: Schema.String,
  output: SubQuestions
})

/** Answers one sub-question in the context of the main question. */
export const researcher = Agent.make({
  name: "researcher",
  instructions:
    "You answer one research sub-question precisely and briefly (at most one paragraph), in the context of " +
    "the main question. Say so when you are unsure.",
  input: Schema.Struct({ question: Schema.String, subQuestion: Schema.String }),
  output: "text",
  prompt: (input) => `Main question: ${input.question}\nSub-question: ${input.subQuestion}`
})

/** Writes the final answer from the findings. */
export const synthesizer = Agent.make({
  name: "synthesizer",
  instructions:
    "You write the final answer to a research question from the findings given, in a few paragraphs. " +
    "Reconcile contradictions and do not invent facts beyond the findings.",
  input: Schema.Struct({ question: Schema.String, findings: Schema.Array(Finding) }),
  output: "text"
})

/** How many sub-questions are answered at once. */
const CONCURRENCY = 5

/** Question in; sub-questions, their answers and a synthesised answer out. */
export const research = Workflow.make(
  "research",
  "Split a question into 3-5 sub-questions, answer them in parallel, synthesise an answer",
  Schema.String.pipe(Schema.nonEmptyString()),
  (question) =>
    Workflow.step("decompose", decomposer.run(question), { agent: decomposer.name }).pipe(
      Effect.flatMap(({ subQuestions }) =>
        Workflow.parallel(
          subQuestions,
          (subQuestion, i) =>
            Workflow.step(`answer ${i + 1}`, researcher.run({ question, subQuestion }), { agent: researcher.name }).pipe(
              Effect.map((answer): Finding => ({ question: subQuestion, answer }))
            ),
          { concurrency: CONCURRENCY }
        )
      ),
      Effect.flatMap((findings) =>
        Workflow.step("synthesise", synthesizer.run({ question, findings }), { agent: synthesizer.name }).pipe(
          Effect.map((answer): ResearchResult => ({ question, findings, answer }))
        )
      )
    )
)
