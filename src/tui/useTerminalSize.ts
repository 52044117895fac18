/**
 * The terminal's size as a hook.
 */
import { useStdout } from "ink"
import { useEffect, useState } from "react"

/** The terminal size, following `resize`; explicit overrides win (tests, fixed-size renders). */
export const useTerminalSize = (width: number | undefined, height: number | undefined) => {
  const { stdout } = useStdout()
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 })
  const [size, setSize] = useState(read)
  useEffect(() => {
    const onResize = () => setSize(read())
    stdout.on("resize", onResize)
    return () => {
      stdout.off("resize", onResize)
    }
  }, [stdout])
  return { width: width ?? size.columns, height: height ?? size.rows }
}
