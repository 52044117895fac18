/**
 * Colours and text styles of the dashboard, switched off as a whole when colour is disabled.
 *
 * Components never write `<Text color="red">` directly: they spread `style(enabled, {...})`, which
 * is empty when colour is off (and a pane's pieces are painted only when it is on), so `NO_COLOR`
 * produces no escape codes at all (not even bold or inverse) and still leaves a readable screen
 * (the selection is also marked with `›`, the badge reads `[SIMULATED]`).
 */
import type { LogLevelLabel } from "../services/LogTail.js"
import type { BreakerState, RunStatus } from "../services/WorkflowEvents.js"

/** The palette the dashboard uses (names Ink's `<Text color>` understands). */
export type ColorName = "red" | "green" | "yellow" | "blue" | "magenta" | "cyan" | "gray" | "white"

/** Text style props (bold, inverse, dim), or none when colour is off. */
export const style = (
  enabled: boolean,
  props: { readonly bold?: boolean; readonly inverse?: boolean; readonly dimColor?: boolean; readonly color?: ColorName }
): { readonly bold?: boolean; readonly inverse?: boolean; readonly dimColor?: boolean; readonly color?: ColorName } =>
  enabled ? props : {}

/** Colour of a run or step status. */
export const statusColor = (status: "running" | RunStatus): ColorName => {
  switch (status) {
    case "running":
      return "cyan"
    case "succeeded":
      return "green"
    case "failed":
      return "red"
    case "cancelled":
      return "yellow"
  }
}

/** Colour of a log level; undefined keeps the terminal's default for INFO. */
export const levelColor = (level: LogLevelLabel): ColorName | undefined => {
  switch (level) {
    case "FATAL":
    case "ERROR":
      return "red"
    case "WARNING":
      return "yellow"
    case "INFO":
      return undefined
    case "DEBUG":
    case "TRACE":
      return "gray"
  }
}

/** Colour of a circuit breaker state. */
export const breakerColor = (state: BreakerState): ColorName => {
  switch (state) {
    case "closed":
      return "green"
    case "half-open":
      return "yellow"
    case "open":
      return "red"
  }
}
