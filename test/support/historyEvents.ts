/**
 * Event sequences a workflow run publishes, for the run-history tests (SQLite and PostgreSQL).
 */
import {
  LlmCallFinished,
  LlmCallStarted,
  Retrying,
  StepFinished,
  StepStarted,
  type WorkflowEvent,
  WorkflowFinished,
  WorkflowStarted
} from "../../src/services/WorkflowEvents.js"

// ---------------------------------------------------------------------------------------------
// Event builders: the sequences a workflow run publishes
// ---------------------------------------------------------------------------------------------

export interface CallSpec {
  readonly input: number
  readonly output: number
  readonly cost: number
  readonly cached?: boolean
  readonly attempts?: number
  readonly error?: { readonly tag: string; readonly message: string }
}

export const call = (runId: string, stepId: string, agent: string, at: number, spec: CallSpec) =>
  new LlmCallFinished({
    runId,
    stepId,
    agent,
    model: "simulated-1",
    provider: "simulated",
    cached: spec.cached ?? false,
    attempt: spec.attempts ?? 1,
    usage: { inputTokens: spec.input, outputTokens: spec.output },
    costUsd: spec.cost,
    durationMs: 40,
    status: spec.error === undefined ? "success" : "error",
    ...(spec.error === undefined ? {} : { error: spec.error }),
    at
  })

/** A run of one step per entry of `steps`, each making the given calls, ending as `status`. */
export const runEvents = (options: {
  readonly runId: string
  readonly workflow?: string
  readonly start: number
  readonly status: "succeeded" | "failed" | "cancelled"
  readonly steps: ReadonlyArray<{ readonly agent: string; readonly calls: ReadonlyArray<CallSpec> }>
  readonly finish?: boolean
}): Array<WorkflowEvent> => {
  const { runId, start, status } = options
  const workflow = options.workflow ?? "research"
  const events: Array<WorkflowEvent> = [new WorkflowStarted({ runId, workflow, input: { question: `q-${runId}` }, at: start })]
  let at = start
  let runIn = 0
  let runOut = 0
  let runCost = 0
  options.steps.forEach((step, i) => {
    const stepId = `s${i + 1}`
    const stepStart = (at += 5)
    events.push(new StepStarted({ runId, stepId, label: `step ${i + 1}`, agent: step.agent, at: stepStart }))
    let inTok = 0
    let outTok = 0
    let cost = 0
    let attempts = 0
    for (const spec of step.calls) {
      events.push(new LlmCallStarted({ runId, stepId, agent: step.agent, model: "simulated-1", provider: "simulated", attempt: 1, at: at += 1 }))
      if ((spec.attempts ?? 1) > 1) {
        events.push(new Retrying({ runId, stepId, agent: step.agent, model: "simulated-1", attempt: 1, delayMs: 10, reason: "RateLimited", at: at += 1 }))
      }
      events.push(call(runId, stepId, step.agent, at += 40, spec))
      inTok += spec.input
      outTok += spec.output
      cost += spec.cost
      if (spec.cached !== true) attempts += spec.attempts ?? 1
    }
    runIn += inTok
    runOut += outTok
    runCost += cost
    const last = i === options.steps.length - 1
    const stepStatus = last ? status : "succeeded"
    events.push(new StepFinished({
      runId,
      stepId,
      label: `step ${i + 1}`,
      agent: step.agent,
      status: stepStatus,
      durationMs: (at += 2) - stepStart,
      cached: step.calls.length > 0 && step.calls.every((c) => c.cached === true),
      attempts,
      calls: step.calls.length,
      usage: { inputTokens: inTok, outputTokens: outTok },
      costUsd: cost,
      ...(stepStatus === "succeeded" ? { output: `out-${stepId}` } : {}),
      ...(stepStatus === "failed" ? { error: { tag: "OutputParseError", message: "bad JSON" } } : {}),
      ...(stepStatus === "cancelled" ? { error: { tag: "Interrupted", message: "cancelled" } } : {}),
      at
    }))
  })
  if (options.finish !== false) {
    events.push(new WorkflowFinished({
      runId,
      workflow,
      status,
      ...(status === "succeeded" ? { output: { answer: `a-${runId}`, n: 1 } } : {}),
      ...(status === "failed" ? { error: { tag: "OutputParseError", message: "bad JSON" } } : {}),
      ...(status === "cancelled" ? { error: { tag: "Interrupted", message: "cancelled" } } : {}),
      usage: { inputTokens: runIn, outputTokens: runOut },
      costUsd: runCost,
      durationMs: (at += 3) - start,
      at
    }))
  }
  return events
}

export const twoSteps = [
  { agent: "planner", calls: [{ input: 100, output: 20, cost: 0.001 }] },
  { agent: "writer", calls: [{ input: 300, output: 80, cost: 0.004, attempts: 3 }, { input: 50, output: 10, cost: 0, cached: true }] }
]

