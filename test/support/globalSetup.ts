/**
 * Bundles the CLI once before the tests that spawn it, so they exercise the real artifact
 * (`bin/effect-agents.js` → `dist/bin/main.js`) built from the current sources.
 */
import { execFileSync } from "node:child_process"

export default function setup(): void {
  execFileSync(process.execPath, ["scripts/bundle-cli.mjs"], { stdio: "inherit" })
}
