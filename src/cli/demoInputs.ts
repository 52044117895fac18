/**
 * Inputs for the dashboard's demo runs: sentences composed from small word lists with a seeded
 * random, so a demo shows varied work. About a third of the inputs repeat a recent one of the same
 * workflow, which is what lets the LLM cache answer some runs (not all, not none).
 */
import { seededRandom } from "../internal/seededRandom.js"

/** Share of inputs that repeat a recent input of the same workflow. */
export const REPEAT_SHARE = 1 / 3

/** How many recent inputs per workflow a repeat is drawn from. */
const RECENT = 8

type Slots = ReadonlyArray<ReadonlyArray<string>>

/** One template per workflow: the slots are filled in order, joined by spaces. */
const templates: Record<string, Slots> = {
  summarize: [
    ["The circuit breaker", "A token bucket", "The LLM cache", "Structured concurrency", "A retry schedule", "The run history", "A fallback model", "The rate limiter"],
    ["keeps", "bounds", "records", "smooths", "isolates", "absorbs"],
    ["provider outages", "cost spikes", "slow upstreams", "bursty traffic", "duplicate prompts", "failed attempts"],
    ["in a busy team.", "under load.", "for every workflow.", "across restarts.", "without extra code.", "at night."]
  ],
  research: [
    ["How do", "Why do", "When should", "How often do"],
    ["small teams", "agent workflows", "batch jobs", "LLM gateways", "support bots", "data pipelines"],
    ["cache answers", "cap their spending", "retry failed calls", "fall back to cheaper models", "queue requests", "record every run"],
    ["in production?", "during an outage?", "at scale?", "on a budget?", "with strict latency goals?"]
  ],
  explore: [
    ["Where does the project", "How does the project", "Which files show how the project"],
    ["retry failed LLM calls", "cache answers", "record run history", "limit its request rate", "open the circuit breaker", "count tool calls"],
    ["?", "and why?", "by default?"]
  ],
  code: [
    ["Write a function that", "Implement a module that", "Sketch a class that"],
    ["merges", "deduplicates", "sorts", "batches", "validates", "paginates"],
    ["overlapping intervals", "log records", "API responses", "user events", "price quotes", "sensor readings"],
    ["in linear time.", "with a size limit in bytes.", "without mutating its input.", "and reports what it dropped."]
  ]
}

/** The workflows the demo has inputs for. */
export const demoWorkflows: ReadonlyArray<string> = Object.keys(templates)

/** Draws demo inputs: `next(workflow)` gives the next one; `fresh` never repeats a recent input. */
export interface DemoInputs {
  readonly next: (workflow: string, options?: { readonly fresh?: boolean }) => string
}

/**
 * A generator of demo inputs; the same `seed` gives the same sequence. Fresh inputs come from the
 * workflow's template (an unknown workflow gets the summarize one).
 */
export const makeDemoInputs = (seed: number): DemoInputs => {
  const random = seededRandom(seed)
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(random() * items.length)]!
  const recent = new Map<string, Array<string>>()
  const compose = (workflow: string): string =>
    (templates[workflow] ?? templates["summarize"]!).map(pick).join(" ")
  return {
    next: (workflow, options) => {
      const seen = recent.get(workflow) ?? []
      const repeat = random() < REPEAT_SHARE
      if (repeat && options?.fresh !== true && seen.length > 0) return pick(seen)
      let input = compose(workflow)
      // A fresh input is one the recent window does not hold (a few tries; the lists are large).
      for (let i = 0; i < 5 && seen.includes(input); i++) input = compose(workflow)
      recent.set(workflow, [...seen.slice(-(RECENT - 1)), input])
      return input
    }
  }
}
