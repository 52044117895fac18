/**
 * WorkflowInput — a workflow's input checked against its Schema, whoever gives it.
 *
 * Raw input (the CLI's `--input`, a JSONL line, an API body) is decoded: a string that does not
 * decode as is is tried once more as JSON. A typed caller's input (`run`, `runReport`) is validated
 * on the Schema's decoded side, because the type system cannot see refinements such as
 * `NonEmptyString`. Either way a rejection is one `WorkflowInputError` listing every issue.
 */
import { Effect, ParseResult, Schema } from "effect"

/** The input given to a workflow did not decode with its input Schema. */
export class WorkflowInputError extends Schema.TaggedError<WorkflowInputError>()("WorkflowInputError", {
  workflow: Schema.String,
  /** The Schema's report, as a tree (several lines). */
  issues: Schema.String,
  /** The same on one line: each failing path with its message (`["task"]: Expected string, actual 42`). */
  summary: Schema.String
}) {
  override get message(): string {
    return `invalid input for workflow ${this.workflow}: ${this.issues}`
  }
}

/** How a workflow checks its input. */
export interface InputChecks<I> {
  /** Raw input (JSON value, or text that may be JSON) decoded to the input type. */
  readonly decode: (raw: unknown) => Effect.Effect<I, WorkflowInputError>
  /** An input of the input type that must also satisfy the Schema's refinements. */
  readonly validate: (input: I) => Effect.Effect<I, WorkflowInputError>
}

/** The input checks of workflow `workflow` with input Schema `schema`. */
export const make = <I>(workflow: string, schema: Schema.Schema<I, unknown>): InputChecks<I> => {
  const decodeUnknown = Schema.decodeUnknown(schema)
  const validateUnknown = Schema.validate(schema)
  const rejected = (error: ParseResult.ParseError) =>
    new WorkflowInputError({ workflow, issues: ParseResult.TreeFormatter.formatErrorSync(error), summary: summaryOf(error) })
  return {
    decode: (raw) =>
      decodeUnknown(raw).pipe(
        Effect.catchAll((first) =>
          typeof raw === "string"
            ? Effect.flatMap(parseJson(raw), decodeUnknown).pipe(Effect.mapError(() => first))
            : Effect.fail(first)
        ),
        Effect.mapError(rejected)
      ),
    validate: (input) => Effect.mapError(validateUnknown(input), rejected)
  }
}

const parseJson = (text: string): Effect.Effect<unknown, ParseResult.ParseError> =>
  Schema.decode(Schema.parseJson())(text)

/** A parse error on one line: `path: message` per issue (the path left out at the top level). */
const summaryOf = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.map((key) => `[${JSON.stringify(key)}]`).join("")}: ${issue.message}`))
    .join("; ")
