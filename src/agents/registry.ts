/**
 * registry — the workflows a program offers by name: `effect-agents workflows`, `run`, `batch`,
 * the dashboard's new-run picker and the demo all look them up in the `WorkflowRegistry` service.
 *
 * The CLI provides the built-ins by default; a user's own bin passes its own list
 * (`Cli.run({ workflows: [triage, ...Workflows.builtin] })`) and the stock CLI adds the workflows of
 * a module (`--workflows ./my-workflows.js`). Entries are erased: each decodes its input from raw
 * text or JSON itself, so the commands need not know any workflow's types.
 */
import type { LanguageModel } from "@effect/ai"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { WorkflowEvents } from "../services/WorkflowEvents.js"
import { code } from "./workflows/code.js"
import { explore } from "./workflows/explore.js"
import { research } from "./workflows/research.js"
import { summarize } from "./workflows/summarize.js"
import { type AnyWorkflow, type Erasable, erase, type RunOptions, type RunReport, type WorkflowInputError } from "./Workflow.js"

/**
 * A workflow made with `Workflow.make` that the CLI can run: it needs nothing but a language model
 * and the event bus. A workflow that needs more services does not type-check here: run it from
 * your own program with those services provided.
 */
export interface RunnableWorkflow {
  readonly name: string
  readonly description: string
  readonly decodeInput: (raw: unknown) => Effect.Effect<unknown, WorkflowInputError>
  // `never`: any input type fits; the registry only ever passes what `decodeInput` gave.
  readonly runReport: (
    input: never,
    options?: RunOptions
  ) => Effect.Effect<RunReport<unknown>, WorkflowInputError, LanguageModel.LanguageModel | WorkflowEvents>
}

/** What a registry accepts: a workflow from `Workflow.make`, or one already erased. */
export type RegistryEntry = RunnableWorkflow | AnyWorkflow

/** Two different workflows were given the same name. */
export class DuplicateWorkflow extends Schema.TaggedError<DuplicateWorkflow>()("DuplicateWorkflow", {
  name: Schema.String
}) {
  override get message(): string {
    return `two different workflows are named '${this.name}'; workflow names must be unique`
  }
}

/** The workflows of a program, by name. */
export interface WorkflowRegistryService {
  /** Every workflow, in the order they were given (the order `effect-agents workflows` lists). */
  readonly workflows: ReadonlyArray<AnyWorkflow>
  /** The workflow called `name`. */
  readonly find: (name: string) => Option.Option<AnyWorkflow>
  /** Their names, in order (for "available: ..." messages). */
  readonly names: ReadonlyArray<string>
}

/** The workflows the commands and the dashboard offer. */
export class WorkflowRegistry extends Context.Tag("effect-agents/WorkflowRegistry")<
  WorkflowRegistry,
  WorkflowRegistryService
>() {}

const isFunction = (u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function"

const isErased = (entry: RegistryEntry): entry is AnyWorkflow =>
  "runReportUnknown" in entry && isFunction(entry.runReportUnknown)

/**
 * Whether `u` looks like a workflow (for values of unknown origin, such as a module's exports): a
 * name, a description and the functions a registry calls.
 */
export const isRegistryEntry = (u: unknown): u is RegistryEntry => {
  if (typeof u !== "object" || u === null) return false
  const w = u as Record<string, unknown>
  if (typeof w["name"] !== "string" || w["name"] === "" || typeof w["description"] !== "string") return false
  return (isFunction(w["decodeInput"]) && isFunction(w["runReport"])) ||
    (isFunction(w["validateInput"]) && isFunction(w["runReportUnknown"]))
}

// One erased form per workflow, so the same workflow reached twice (a bin's list and a module) is one.
const erased = new WeakMap<RunnableWorkflow, AnyWorkflow>()

/** `entry` as the commands call it: raw input decoded by its own Schema, then run. */
export const eraseEntry = (entry: RegistryEntry): AnyWorkflow => {
  if (isErased(entry)) return entry
  const known = erased.get(entry)
  if (known !== undefined) return known
  // Sound: `erase` passes `runReport` only what the workflow's own `decodeInput` produced.
  const workflow = erase(entry as unknown as Erasable<unknown, unknown>)
  erased.set(entry, workflow)
  return workflow
}

/**
 * A registry of `entries`, in order. The same workflow given twice counts once; two different
 * workflows with one name fail with `DuplicateWorkflow`.
 */
export const make = (entries: Iterable<RegistryEntry>): Effect.Effect<WorkflowRegistryService, DuplicateWorkflow> =>
  Effect.suspend(() => {
    const byName = new Map<string, AnyWorkflow>()
    for (const entry of entries) {
      const workflow = eraseEntry(entry)
      const known = byName.get(workflow.name)
      if (known === undefined) byName.set(workflow.name, workflow)
      else if (known !== workflow) return Effect.fail(new DuplicateWorkflow({ name: workflow.name }))
    }
    const workflows = Array.from(byName.values())
    return Effect.succeed<WorkflowRegistryService>({
      workflows,
      find: (name) => Option.fromNullable(byName.get(name)),
      names: workflows.map((w) => w.name)
    })
  })

/** A layer of the registry of `entries` (see `make`). */
export const layer = (entries: Iterable<RegistryEntry>): Layer.Layer<WorkflowRegistry, DuplicateWorkflow> =>
  Layer.effect(WorkflowRegistry, make(entries))

/** The workflows effect-agents ships, in the order `effect-agents workflows` lists them. */
export const builtin: ReadonlyArray<AnyWorkflow> = [code, explore, research, summarize].map(eraseEntry)

/** The shipped workflows. Kept for existing callers: it is `builtin`. */
export const workflows: ReadonlyArray<AnyWorkflow> = builtin

/** The shipped workflow called `name`. */
export const find = (name: string): Option.Option<AnyWorkflow> =>
  Option.fromNullable(builtin.find((w) => w.name === name))

/** Names of the shipped workflows. */
export const names: ReadonlyArray<string> = builtin.map((w) => w.name)

/** The registry of the built-ins: what the CLI offers when given nothing else. */
export const layerBuiltin: Layer.Layer<WorkflowRegistry> = Layer.succeed(WorkflowRegistry, {
  workflows: builtin,
  find,
  names
})
