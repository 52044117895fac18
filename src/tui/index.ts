/**
 * The Ink dashboard: `runDashboard` for the CLI, `App` and the data/action types for wiring.
 * Only the CLI imports this module (lazily): nothing else depends on the TUI.
 */
export { App, type AppProps, DEFAULT_FRAME_MS } from "./App.js"
export { runDashboard, type RunDashboardOptions } from "./runDashboard.js"
export type { DashboardActions, DashboardInfo, DashboardSource, RemoteView, WorkflowInfo } from "./types.js"
