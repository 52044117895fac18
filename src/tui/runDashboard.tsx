/**
 * runDashboard — mounts the dashboard on the terminal and resolves when it is closed.
 *
 * Ctrl-C does not kill Ink (`exitOnCtrlC: false`): it is a key that calls `actions.interrupt`, as
 * `q` calls `actions.quit`, so running workflows get interrupted and recorded as cancelled. On a
 * TTY the dashboard draws on the alternate screen (like htop or k9s) and leaves it on exit, so the
 * user's scrollback is exactly as it was; the cursor is shown and raw mode is off again whatever
 * happened — also when the process exits while the dashboard is up (a second signal).
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
  /** Minimum milliseconds between frames (default `DEFAULT_FRAME_MS`, ≤ 10 fps). */
  readonly frameMs?: number
  /** Closes the dashboard from outside (e.g. SIGTERM); `actions.quit` is not called. */
  readonly signal?: AbortSignal
}

/**
 * Renders the dashboard until the user quits (`q` / Ctrl-C, which call `actions.quit` /
 * `actions.interrupt` first) or `signal` aborts, then restores the terminal. Resolves once the
 * terminal is restored.
 */
export const runDashboard = async (
  source: DashboardSource,
  actions: DashboardActions,
  info: DashboardInfo,
  options: RunDashboardOptions = {}
): Promise<void> => {
  const stdout = options.stdout ?? process.stdout
  const stdin = options.stdin ?? process.stdin
  const alternate = options.alternateScreen ?? stdout.isTTY === true
  let restored = false
  const restore = () => {
    if (restored) return
    restored = true
    if (stdin.isTTY === true) stdin.setRawMode(false)
    stdout.write((alternate ? leaveAlternateScreen : "") + showCursor)
  }
  if (alternate) stdout.write(enterAlternateScreen)
  const instance = render(
    <App source={source} actions={actions} info={info} {...(options.frameMs === undefined ? {} : { frameMs: options.frameMs })} />,
    {
      stdout,
      stdin,
      stderr: options.stderr ?? process.stderr,
      exitOnCtrlC: false,
      // Stray console output would be drawn over by the next frame; Ink keeps it above instead.
      patchConsole: true,
      maxFps: 15
    }
  )
  // process.exit() (a second signal) skips the finally below: unmount first, so Ink's last frame
  // lands on the alternate screen we then leave; TTY writes are synchronous, so this still lands.
  const onExit = () => {
    instance.unmount()
    restore()
  }
  process.once("exit", onExit)
  const onAbort = () => instance.unmount()
  if (options.signal?.aborted === true) onAbort()
  else options.signal?.addEventListener("abort", onAbort, { once: true })
  try {
    await instance.waitUntilExit()
  } finally {
    options.signal?.removeEventListener("abort", onAbort)
    instance.cleanup()
    process.removeListener("exit", onExit)
    restore()
  }
}
