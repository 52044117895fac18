import { EventEmitter } from "node:events"
import { describe, expect, it, vi } from "vitest"
import { runDashboard } from "../../src/tui/runDashboard.js"
import { fakeSource, keys, recordedActions, started, stateOf, testInfo, tick } from "./helpers.js"

/** A terminal's output side: records everything written. */
class FakeTerminalOut extends EventEmitter {
  readonly isTTY = true
  columns = 100
  rows = 30
  written = ""
  write = (data: string) => {
    this.written += data
    return true
  }
}

/** A terminal's input side in raw mode, fed by `type`. */
class FakeTerminalIn extends EventEmitter {
  readonly isTTY = true
  private data: string | null = null
  type = (data: string) => {
    this.data = data
    this.emit("readable")
  }
  read = () => {
    const data = this.data
    this.data = null
    return data
  }
  rawMode = false
  setEncoding() {}
  setRawMode(on: boolean) {
    this.rawMode = on
  }
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

const start = (signal?: AbortSignal) => {
  const stdout = new FakeTerminalOut()
  const stdin = new FakeTerminalIn()
  const { actions, calls } = recordedActions()
  const done = runDashboard(
    fakeSource({ state: stateOf(started("run-1", "code", 0)), logs: [] }),
    actions,
    testInfo(),
    {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: stdin as unknown as NodeJS.ReadStream,
      stderr: stdout as unknown as NodeJS.WriteStream,
      ...(signal === undefined ? {} : { signal })
    }
  )
  return { stdout, stdin, calls, done }
}

describe("runDashboard", () => {
  it("draws on the alternate screen of a terminal", async () => {
    const { done, stdin, stdout } = start()
    await vi.waitFor(() => expect(stdout.written).toContain("run-1"), { timeout: 3_000 })
    expect(stdout.written.startsWith("\u001b[?1049h")).toBe(true)
    stdin.type("q")
    await done
  })

  it("calls quit on q, then restores the screen and the cursor before resolving", async () => {
    const { calls, done, stdin, stdout } = start()
    await vi.waitFor(() => expect(stdout.written).toContain("run-1"), { timeout: 3_000 })
    await tick()
    stdin.type("q")
    await done
    expect(calls).toEqual([["quit"]])
    expect(stdout.written.endsWith("\u001b[?1049l\u001b[?25h")).toBe(true)
  })

  it("routes Ctrl-C through interrupt instead of killing the app, and turns raw mode off", async () => {
    const { calls, done, stdin, stdout } = start()
    await vi.waitFor(() => expect(stdout.written).toContain("run-1"), { timeout: 3_000 })
    await tick()
    stdin.type(keys.ctrlC)
    await done
    expect(calls).toEqual([["interrupt"]])
    expect(stdin.rawMode).toBe(false)
  })

  it("restores the terminal when the process exits while it is up", async () => {
    const { done, stdin, stdout } = start()
    await vi.waitFor(() => expect(stdin.rawMode).toBe(true), { timeout: 3_000 })
    // What process.exit() (a second signal) does: "exit" listeners run, nothing else.
    process.emit("exit", 143)
    expect(stdin.rawMode).toBe(false)
    expect(stdout.written.endsWith("\u001b[?1049l\u001b[?25h")).toBe(true)
    stdin.type("q")
    await done
  })

  it("closes when the signal aborts, without calling quit", async () => {
    const controller = new AbortController()
    const { calls, done, stdout } = start(controller.signal)
    await vi.waitFor(() => expect(stdout.written).toContain("run-1"), { timeout: 3_000 })
    controller.abort()
    await done
    expect(calls).toEqual([])
    expect(stdout.written.endsWith("\u001b[?1049l\u001b[?25h")).toBe(true)
  })
})
