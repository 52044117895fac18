/**
 * A real terminal for end-to-end tests: a tmux session runs the built CLI through a small shell
 * wrapper that records the CLI's pid and exit code in files, so a test can signal exactly that
 * process and read how it ended; the screen is read with capture-pane.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { binPath } from "./cli.js"

/** tmux is installed; CI must have it (tests run there whatever this says). */
export const hasTmux = spawnSync("tmux", ["-V"]).status === 0

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** One tmux session running `effect-agents ...args` in `cwd` with `env`. */
export interface TmuxCli {
  /** The visible screen. */
  readonly screen: () => string
  /** The whole pane, scrollback included, wrapped lines joined. */
  readonly scrollback: () => string
  /** A tmux format of the pane, e.g. `#{alternate_on}`. */
  readonly format: (spec: string) => string
  readonly sendKeys: (...keys: ReadonlyArray<string>) => void
  /** The CLI's pid (it is the process `kill` should reach). */
  readonly pid: () => Promise<number>
  /** Waits for the CLI to exit and returns its exit code. */
  readonly exitCode: (timeoutMs?: number) => Promise<number>
  /** Polls the screen until `predicate` holds; fails with the last screen after `timeoutMs`. */
  readonly waitFor: (predicate: (text: string) => boolean, what: string, timeoutMs?: number) => Promise<string>
  readonly close: () => void
}

/** Starts the CLI in a new 150x40 tmux session named `name`. */
export const startInTmux = (
  name: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: Readonly<Record<string, string>> }
): TmuxCli => {
  const pidFile = join(options.cwd, "cli.pid")
  const rcFile = join(options.cwd, "cli.rc")
  const env = Object.entries(options.env).map(([k, v]) => `${k}=${quote(v)}`).join(" ")
  const command = `exec env ${env} ${quote(process.execPath)} ${quote(binPath)} ${args.map(quote).join(" ")}`
  const wrapper = join(options.cwd, "wrapper.sh")
  writeFileSync(
    wrapper,
    // exec keeps the pid written by the inner shell; the outer shell stays for the prompt.
    `#!/bin/sh\nsh -c ${quote(`echo $$ > ${quote(pidFile)}; ${command}`)}\necho $? > ${quote(rcFile)}\necho "EXITED rc=$(cat ${quote(rcFile)})"\nsleep 120\n`
  )
  const tmux = (...a: ReadonlyArray<string>): string => execFileSync("tmux", a, { encoding: "utf8" })
  tmux("new-session", "-d", "-s", name, "-x", "150", "-y", "40", "-c", options.cwd, `sh ${quote(wrapper)}`)
  const screen = () => tmux("capture-pane", "-t", name, "-p")
  const poll = async <A>(read: () => A | undefined, what: string, timeoutMs: number): Promise<A> => {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const value = read()
      if (value !== undefined) return value
      await sleep(100)
    }
    throw new Error(`timed out waiting for ${what}; screen was:\n${screen()}`)
  }
  return {
    screen,
    scrollback: () => tmux("capture-pane", "-t", name, "-p", "-J", "-S", "-"),
    format: (spec) => tmux("display-message", "-p", "-t", name, spec).trim(),
    sendKeys: (...keys) => void tmux("send-keys", "-t", name, ...keys),
    pid: () => poll(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) || undefined : undefined), "the pid", 10_000),
    exitCode: (timeoutMs = 30_000) =>
      poll(() => (existsSync(rcFile) && readFileSync(rcFile, "utf8").trim() !== "" ? Number(readFileSync(rcFile, "utf8")) : undefined), "the CLI to exit", timeoutMs),
    waitFor: (predicate, what, timeoutMs = 30_000) => poll(() => {
      const text = screen()
      return predicate(text) ? text : undefined
    }, what, timeoutMs),
    close: () => void spawnSync("tmux", ["kill-session", "-t", name])
  }
}
