/**
 * The `effect-agents` bin: the CLI with the built-in workflows (see `cli/Cli.ts`).
 */
import { run } from "./cli/Cli.js"

run()
