/**
 * Plain progress lines on stderr for runs without the dashboard (non-TTY stdout or `--no-tui`):
 * one line when a run or step starts or ends, and one per retry, so long work shows it is alive
 * without any terminal control codes.
 */
import { Chunk, Console, Effect, Fiber, Queue } from "effect"
import { subscribe, type WorkflowEvent } from "../services/WorkflowEvents.js"
import { formatDuration, formatUsd } from "./format.js"

const short = (id: string): string => id.slice(0, 8)

/** The progress line of an event, or `undefined` for events not worth a line. */
export const progressLine = (event: WorkflowEvent): string | undefined => {
  switch (event._tag) {
    case "WorkflowStarted":
      return `[${short(event.runId)}] ${event.workflow} started${event.traceId === undefined ? "" : ` · trace ${event.traceId}`}`
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

const GROUP = 256
const POLL = "50 millis"

/**
 * Prints progress lines for every event from now on, until the scope closes. `flush` prints what
 * is still queued and stops printing (call it after the work, before the results); closing the
 * scope does the same, so the lines of runs cancelled by a signal are printed too.
 *
 * A group of lines that reports runs finished is printed after `historyFlush`, so a run shown as
 * finished is already in the history. Taking and printing a group is never interrupted midway
 * (an interrupted `take` may swallow an element), which is why an empty queue is polled.
 */
export const printProgress = (historyFlush: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const queue = yield* subscribe
    const printGroup = (events: ReadonlyArray<WorkflowEvent>) => {
      const lines = events.flatMap((event) => {
        const line = progressLine(event)
        return line === undefined ? [] : [line]
      })
      const finished = events.some((event) => event._tag === "WorkflowFinished")
      return Effect.zipRight(
        finished ? historyFlush : Effect.void,
        Effect.forEach(lines, (line) => Console.error(line), { discard: true })
      )
    }
    const step = Effect.uninterruptible(
      Effect.flatMap(Queue.takeUpTo(queue, GROUP), (chunk) => Effect.as(printGroup(Chunk.toReadonlyArray(chunk)), chunk.length))
    )
    const printer = yield* Effect.forkScoped(Effect.forever(
      Effect.flatMap(step, (taken) => (taken === 0 ? Effect.sleep(POLL) : Effect.void))
    ))
    const flush = Fiber.interrupt(printer).pipe(
      Effect.zipRight(Queue.takeAll(queue)),
      Effect.flatMap((rest) => printGroup(Chunk.toReadonlyArray(rest)))
    )
    yield* Effect.addFinalizer(() => flush)
    return { flush }
  })
