import { describe, expect, it } from "vitest"
import {
  cell,
  cellRight,
  clip,
  formatCompact,
  formatCost,
  formatCount,
  formatDuration,
  formatPercent,
  formatTokens,
  statusIcon
} from "../../src/tui/format.js"

describe("dashboard number formats", () => {
  it("shows costs below a dollar with 4 decimals", () => {
    expect(formatCost(0.0123)).toBe("$0.0123")
    expect(formatCost(0)).toBe("$0.0000")
    expect(formatCost(0.99994)).toBe("$0.9999")
  })

  it("shows costs from a dollar on with 2 decimals", () => {
    expect(formatCost(1)).toBe("$1.00")
    expect(formatCost(12.345)).toBe("$12.35")
  })

  it("abbreviates token counts", () => {
    expect(formatTokens(950)).toBe("950")
    expect(formatTokens(1000)).toBe("1k")
    expect(formatTokens(12_345)).toBe("12.3k")
    expect(formatTokens(123_456)).toBe("123k")
    expect(formatTokens(1_234_567)).toBe("1.2M")
  })

  it("shows durations as ms, tenths of seconds, then minutes and seconds", () => {
    expect(formatDuration(350)).toBe("350ms")
    expect(formatDuration(1_234)).toBe("1.2s")
    expect(formatDuration(59_999)).toBe("59.9s")
    expect(formatDuration(184_000)).toBe("3m04s")
    expect(formatDuration(3_720_000)).toBe("1h02m")
  })

  it("groups counts by thousands and abbreviates them from 10,000 on", () => {
    for (const n of [0, 7, 999, 1_000, 9_999, 12_345, 1_234_567, -1_234, 1_234.6]) {
      expect(formatCount(n)).toBe(Math.round(n).toLocaleString("en-US"))
    }
    expect(formatCompact(9_999)).toBe("9,999")
    expect(formatCompact(12_345)).toBe("12.3k")
  })

  it("shows shares as whole percentages", () => {
    expect(formatPercent(0.336)).toBe("34%")
    expect(formatPercent(0)).toBe("0%")
  })

  it("gives every status its glyph and cycles the spinner while running", () => {
    expect(statusIcon("succeeded")).toBe("✔")
    expect(statusIcon("failed")).toBe("✖")
    expect(statusIcon("cancelled")).toBe("⊘")
    expect(statusIcon("running", 0)).not.toBe(statusIcon("running", 1))
    expect(statusIcon("running", 10)).toBe(statusIcon("running", 0))
  })

  it("cuts long cells with an ellipsis and pads short ones to the exact width", () => {
    expect(clip("research-workflow", 8)).toBe("researc…")
    expect(cell("code", 6)).toBe("code  ")
    expect(cellRight("1.2k", 6)).toBe("  1.2k")
    expect(cell("summarize", 4)).toHaveLength(4)
  })
})
