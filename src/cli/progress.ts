/**
 * Plain progress lines on stderr for runs without the dashboard (non-TTY stdout or `--no-tui`):
 * one line when a run or step starts or ends, and one per retry, so long work shows it is alive
 * without any terminal control codes.
 */
import { Console, Effect, Fiber, Queue } from "effect"
import { subscribe, type WorkflowEvent } from "../services/WorkflowEvents.js"
import { formatDuration, formatUsd } from "./format.js"

const short = (id: string): string => id.slice(0, 8)

/** The progress line of an event, or `undefined` for events not worth a line. */
export const progressLine = (event: WorkflowEvent): string | undefined => {
  switch (event._tag) {
    case "WorkflowStarted":
      return `[${short(event.runId)}] ${event.workflow} started`
    case "StepStarted":
      return `[${short(event.runId)}]   ${event.label}…`
    case "StepFinished":
      return `[${short(event.runId)}]   ${event.label} ${event.status === "succeeded" ? "done" : event.status} in ${formatDuration(event.durationMs)}${event.cached ? " (cached)" : ""}`
    case "Retrying":
      return `[${event.runId === undefined ? "--------" : short(event.runId)}]   ${event.model}: ${event.reason}, retry ${event.attempt} in ${formatDuration(event.delayMs)}`
    case "WorkflowFinished":
      return `[${short(event.runId)}] ${event.workflow} ${event.status} in ${formatDuration(event.durationMs)} · ${event.usage.inputTokens + event.usage.outputTokens} tokens · ${formatUsd(event.costUsd)}${event.error === undefined ? "" : ` · ${event.error.tag}: ${event.error.message}`}`
    default:
      return undefined
  }
}

const print = (event: WorkflowEvent) => {
  const line = progressLine(event)
  return line === undefined ? Effect.void : Console.error(line)
}

/**
 * Prints progress lines for every event from now on; the returned `flush` prints what is still
 * queued (call it after the work, so the final lines are not lost) and stops printing.
 */
export const printProgress = Effect.gen(function*() {
  const queue = yield* subscribe
  const printer = yield* Queue.take(queue).pipe(Effect.flatMap(print), Effect.forever, Effect.forkScoped)
  const flush = Fiber.interrupt(printer).pipe(
    Effect.zipRight(Queue.takeAll(queue)),
    Effect.flatMap((rest) => Effect.forEach(rest, print, { discard: true }))
  )
  return { flush }
})
