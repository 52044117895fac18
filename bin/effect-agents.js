#!/usr/bin/env node
// The CLI entry: runs the bundled dist/bin/main.js (built by `npm run build`, which `npm ci` runs).
// React (behind the dashboard) must run its production build: the development one is slower and
// keeps more memory in a long-running terminal UI.
process.env.NODE_ENV ??= "production"
await import("../dist/bin/main.js")
