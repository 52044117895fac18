/**
 * Captures the log lines an effect writes, to assert on warnings and on what never gets logged.
 */
import { HashMap, Logger } from "effect"
import { annotateLogger } from "../../src/services/WorkflowContext.js"

/** A captured line: level label, message text and annotations. */
export interface CapturedLine {
  readonly level: string
  readonly text: string
  readonly annotations: Record<string, unknown>
}

/** `lines` fills as the effect given `layer` logs (added next to the other loggers). */
export const captureLogs = () => {
  const lines: Array<CapturedLine> = []
  // Annotated as the logging layer's own logger is: with the run, step and agent of each line.
  const logger = annotateLogger(Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      text: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  }))
  return { lines, layer: Logger.add(logger) }
}
