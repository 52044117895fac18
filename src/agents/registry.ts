/**
 * registry — the workflows effect-agents ships, by name (`effect-agents workflows`, `run`, `batch`,
 * the API). Each entry is type-erased: it decodes its input from raw text or JSON itself.
 */
import { Option } from "effect"
import { code } from "./workflows/code.js"
import { research } from "./workflows/research.js"
import { summarize } from "./workflows/summarize.js"
import { type AnyWorkflow, erase } from "./Workflow.js"

/** Every shipped workflow, in the order `effect-agents workflows` lists them. */
export const workflows: ReadonlyArray<AnyWorkflow> = [erase(code), erase(research), erase(summarize)]

/** The shipped workflow called `name`. */
export const find = (name: string): Option.Option<AnyWorkflow> =>
  Option.fromNullable(workflows.find((w) => w.name === name))

/** Names of the shipped workflows. */
export const names: ReadonlyArray<string> = workflows.map((w) => w.name)
