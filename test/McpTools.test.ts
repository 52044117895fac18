/**
 * MCP tools against a real MCP server process (test/support/mcpServer.ts, built with the SDK and
 * started over stdio): its tools become an agent's tools, with the server's JSON schemas, and the
 * agent's tool loop calls the server.
 */
import * as Tool from "@effect/ai/Tool"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { Schema } from "effect"
import * as Agent from "../src/agents/Agent.js"
import * as McpTools from "../src/mcp/McpTools.js"
import * as ScriptedModel from "../src/testing/ScriptedModel.js"

const server: McpTools.StdioServer = {
  command: process.execPath,
  args: ["--import", "tsx", path.join(import.meta.dirname, "support", "mcpServer.ts")],
  cwd: path.join(import.meta.dirname, "..")
}

describe("MCP tools", () => {
  it.scopedLive("lists the server's tools with their own JSON schemas and descriptions", () =>
    Effect.gen(function*() {
      const mcp = yield* McpTools.connect(server)
      expect(mcp.names).toEqual(["add", "lookup", "explode"])
      const add = mcp.toolkit.tools["add"]!
      expect(add.description).toBe("Adds two numbers")
      expect(Tool.getJsonSchema(add)).toEqual({
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"]
      })
    }), 30_000)

  it.scopedLive("an agent calls the server's tools; text, structured content and tool errors go back to the model", () =>
    Effect.gen(function*() {
      const mcp = yield* McpTools.connect(server)
      const agent = Agent.make({
        name: "mcp-user",
        instructions: "Use the tools.",
        input: Schema.String,
        output: "text",
        tools: mcp.toolkit,
        maxSteps: 2
      })
      const error = yield* Effect.flip(agent.run("add 2 and 3, look up Oslo, explode").pipe(
        Effect.provide(mcp.handlers),
        Effect.provide(ScriptedModel.layer([
          ScriptedModel.toolCalls([
            { name: "add", params: { a: 2, b: 3 } },
            { name: "lookup", params: { city: "Oslo" } },
            { name: "explode", params: {} }
          ]),
          ScriptedModel.toolCalls([{ name: "add", params: { a: 1, b: 1 } }])
        ]))
      ))
      // The transcript shows exactly what went back to the model after the first step.
      expect(error._tag).toBe("MaxStepsExceeded")
      if (error._tag !== "MaxStepsExceeded") return
      const tool = error.transcript.find((m) => (m as { role: string }).role === "tool") as {
        content: ReadonlyArray<{ name: string; isFailure: boolean; result: unknown }>
      }
      expect(tool.content.map((p) => [p.name, p.isFailure, p.result])).toEqual([
        ["add", false, "5"],
        ["lookup", false, { city: "Oslo", country: "Norway" }],
        ["explode", true, { _tag: "McpToolError", tool: "explode", message: "the tool blew up" }]
      ])
    }), 30_000)

  it.scopedLive("a server that cannot start fails with McpError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(McpTools.connect({ command: path.join(import.meta.dirname, "no-such-server") }))
      expect(error._tag).toBe("McpError")
      expect(error.operation).toBe("start")
    }), 30_000)
})
