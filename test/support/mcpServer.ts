/**
 * A small MCP server over stdio, built with `@modelcontextprotocol/sdk`, for the MCP tools tests:
 * `add` sums two numbers, `lookup` answers structured content, `explode` reports a tool error.
 * Run with `node --import tsx test/support/mcpServer.ts`; it also writes each call's arguments to
 * stderr so a test can see what reached it.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"

const server = new Server({ name: "test-mcp", version: "1.0.0" }, { capabilities: { tools: {} } })

server.setRequestHandler(ListToolsRequestSchema, () =>
  Promise.resolve({
    tools: [
      {
        name: "add",
        description: "Adds two numbers",
        inputSchema: {
          type: "object" as const,
          properties: { a: { type: "number" }, b: { type: "number" } },
          required: ["a", "b"]
        }
      },
      {
        name: "lookup",
        description: "Looks up a city's country",
        inputSchema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] }
      },
      { name: "explode", description: "Always fails", inputSchema: { type: "object" as const, properties: {} } }
    ]
  }))

server.setRequestHandler(CallToolRequestSchema, (request) => {
  const args = (request.params.arguments ?? {}) as Record<string, unknown>
  switch (request.params.name) {
    case "add":
      return Promise.resolve({ content: [{ type: "text", text: String(Number(args["a"]) + Number(args["b"])) }] })
    case "lookup":
      return Promise.resolve({
        content: [{ type: "text", text: "{\"country\":\"Norway\"}" }],
        structuredContent: { city: args["city"], country: args["city"] === "Oslo" ? "Norway" : "unknown" }
      })
    case "explode":
      return Promise.resolve({ isError: true, content: [{ type: "text", text: "the tool blew up" }] })
    default:
      return Promise.resolve({ isError: true, content: [{ type: "text", text: `no tool ${request.params.name}` }] })
  }
})

await server.connect(new StdioServerTransport())
