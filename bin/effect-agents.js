#!/usr/bin/env node
// The CLI entry: runs the bundled dist/bin/main.js (built by `npm run build`, which `npm ci` runs).
import "../dist/bin/main.js"
