#!/usr/bin/env node
// The CLI entry: runs the bundled dist/bin/main.js (built by `npm run build`, which `npm ci` runs).
import { readFileSync } from "node:fs"

// React (behind the dashboard) must run its production build: the development one is slower and
// keeps more memory in a long-running terminal UI.
process.env.NODE_ENV ??= "production"

// A module of the user's own workflows imports `effect-agents`, i.e. dist/index.js: they must run
// on those very modules, not on the bundle's copy of the library. Asked for with --workflows or
// WORKFLOWS_MODULE (in the environment or .env), the CLI starts from dist/ instead (slower to start).
const inDotenv = () => {
  try {
    return /^\s*(export\s+)?WORKFLOWS_MODULE\s*=\s*\S/m.test(readFileSync(".env", "utf8"))
  } catch {
    return false
  }
}
const ownWorkflows = process.argv.some((arg) => arg === "--workflows" || arg.startsWith("--workflows=")) ||
  (process.env.WORKFLOWS_MODULE ?? "") !== "" || inDotenv()

await import(ownWorkflows ? "../dist/main.js" : "../dist/bin/main.js")
