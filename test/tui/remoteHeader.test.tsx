/**
 * A dashboard attached to a server (`dashboard --attach`) says in its header which server it
 * follows and whether the event stream is up, and labels a simulated server as such once its LLM
 * calls have said so.
 */
import { render } from "ink-testing-library"
import { describe, expect, it, vi } from "vitest"
import { App } from "../../src/tui/App.js"
import type { RemoteView } from "../../src/tui/types.js"
import { fakeSource, NOW, recordedActions, stateOf, testInfo } from "./helpers.js"

const remoteInfo = testInfo({ provider: "remote", model: "?", simulated: false })

const view = (overrides: Partial<RemoteView> = {}): RemoteView => ({
  server: "127.0.0.1:18181",
  connection: "connected",
  note: undefined,
  provider: undefined,
  model: undefined,
  ...overrides
})

/** Renders the dashboard over a source whose remote view the test sets. */
const renderRemote = (initial: RemoteView) => {
  let remote = initial
  const base = fakeSource({ state: stateOf(), logs: [] })
  const source = { ...base, getRemote: () => remote }
  const instance = render(
    <App source={source} actions={recordedActions().actions} info={remoteInfo} frameMs={0} clock={() => NOW} width={120} height={20} />
  )
  return {
    header: () => (instance.lastFrame() ?? "").split("\n")[0] ?? "",
    set: (next: RemoteView) => {
      remote = next
      base.set(stateOf())
    },
    unmount: instance.unmount
  }
}

/** Waits until the header contains `text`: the frame after a change comes when the machine gets to it. */
const shows = (app: ReturnType<typeof renderRemote>, text: string) =>
  vi.waitFor(() => expect(app.header()).toContain(text), { timeout: 3_000, interval: 5 })

describe("remote dashboard header", () => {
  it("names the server and shows the connection live: connecting, connected, reconnecting with the next attempt", async () => {
    const app = renderRemote(view({ connection: "connecting" }))
    await shows(app, "connecting to 127.0.0.1:18181")
    app.set(view())
    await shows(app, "● connected to 127.0.0.1:18181")
    app.set(view({ connection: "reconnecting", note: "(attempt 2, next in 1.0s: ECONNREFUSED)" }))
    await shows(app, "↻ reconnecting to 127.0.0.1:18181… (attempt 2, next in 1.0s: ECONNREFUSED)")
    app.unmount()
  })

  it("shows the server's provider and model once seen, with the SIMULATED badge for a simulated one", async () => {
    const app = renderRemote(view())
    await shows(app, "remote · ?")
    expect(app.header()).not.toContain("SIMULATED")
    app.set(view({ provider: "simulated", model: "simulated-1" }))
    await shows(app, "[SIMULATED]")
    await shows(app, "simulated · simulated-1")
    app.unmount()
  })
})
