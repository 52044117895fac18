#!/usr/bin/env node
// The CLI entry: runs the compiled dist/main.js (built by `npm run build`, which `npm ci` runs).
import "../dist/main.js"
