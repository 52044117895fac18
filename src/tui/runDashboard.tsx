/**
 * runDashboard — mounts the dashboard on the terminal and resolves when it is closed.
 *
 * Ctrl-C does not kill Ink (`exitOnCtrlC: false`): it is a key like `q`, so quitting always goes
 * through `actions.quit` and running workflows get interrupted and recorded as cancelled. On a TTY
 * the dashboard draws on the alternate screen (like htop or k9s) and leaves it on exit, so the
 * user's scrollback is exactly as it was; the cursor is shown again whatever happened.
 */
import { render } from "ink"
import { App } from "./App.js"
import type { DashboardActions, DashboardInfo, DashboardSource } from "./types.js"

const enterAlternateScreen = "\u001b[?1049h\u001b[H"
const leaveAlternateScreen = "\u001b[?1049l"
const showCursor = "\u001b[?25h"

/** Where and how to draw; every field defaults to the process's terminal. */
export interface RunDashboardOptions {
  readonly stdout?: NodeJS.WriteStream
  readonly stdin?: NodeJS.ReadStream
  readonly stderr?: NodeJS.WriteStream
  /** Draw on the alternate screen; default: when stdout is a TTY. */
  readonly alternateScreen?: boolean
  /** Minimum milliseconds between frames (default 66, ≤ 15 fps). */
  readonly frameMs?: number
  /** Closes the dashboard from outside (e.g. SIGTERM); `actions.quit` is not called. */
  readonly signal?: AbortSignal
}

/**
 * Renders the dashboard until the user quits (`q` / Ctrl-C, which call `actions.quit` first) or
 * `signal` aborts, then restores the terminal. Resolves once the terminal is restored.
 */
export const runDashboard = async (
  source: DashboardSource,
  actions: DashboardActions,
  info: DashboardInfo,
  options: RunDashboardOptions = {}
): Promise<void> => {
  const stdout = options.stdout ?? process.stdout
  const alternate = options.alternateScreen ?? stdout.isTTY === true
  if (alternate) stdout.write(enterAlternateScreen)
  const instance = render(
    <App source={source} actions={actions} info={info} {...(options.frameMs === undefined ? {} : { frameMs: options.frameMs })} />,
    {
      stdout,
      stdin: options.stdin ?? process.stdin,
      stderr: options.stderr ?? process.stderr,
      exitOnCtrlC: false,
      // Stray console output would be drawn over by the next frame; Ink keeps it above instead.
      patchConsole: true,
      maxFps: 15
    }
  )
  const onAbort = () => instance.unmount()
  if (options.signal?.aborted === true) onAbort()
  else options.signal?.addEventListener("abort", onAbort, { once: true })
  try {
    await instance.waitUntilExit()
  } finally {
    options.signal?.removeEventListener("abort", onAbort)
    instance.cleanup()
    stdout.write((alternate ? leaveAlternateScreen : "") + showCursor)
  }
}
