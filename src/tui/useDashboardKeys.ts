/**
 * The keyboard owner: resolves each key press to a command through the keymap, applies it with the
 * pure `handleKey`, and hands the resulting intent to `DashboardActions`.
 */
import { type Key, useApp, useInput } from "ink"
import { type MutableRefObject, useCallback, useRef, useState } from "react"
import { handleKey } from "./handleKey.js"
import { type Keymap, resolveCommand } from "./keymap.js"
import type { DashboardActions } from "./types.js"
import { initialUiState, type KeyContext, type UiState } from "./uiState.js"

/** The UI state, and the screen context the caller refreshes on every render for the next key. */
export interface DashboardKeys {
  readonly ui: UiState
  readonly context: MutableRefObject<KeyContext>
}

const emptyContext: KeyContext = { runs: [], selectedIndex: -1, pageRows: 0, workflows: [] }

export const useDashboardKeys = (keys: Keymap, actions: DashboardActions): DashboardKeys => {
  const { exit } = useApp()
  const [ui, setUi] = useState<UiState>(initialUiState)
  // Key presses can arrive faster than React re-renders; they chain on the latest state, not the
  // state of the last render.
  const uiRef = useRef(ui)
  const context = useRef<KeyContext>(emptyContext)

  const onInput = useCallback((input: string, key: Key) => {
    const current = uiRef.current
    const command = resolveCommand(keys, current.mode, input, key)
    const outcome = handleKey(current, command, input, key, context.current)
    if (outcome.ui !== current) {
      uiRef.current = outcome.ui
      setUi(outcome.ui)
    }
    const intent = outcome.intent
    if (intent === undefined) return
    switch (intent._tag) {
      case "StartRun":
        return actions.startRun(intent.workflow, intent.input)
      case "CancelRun":
        return actions.cancelRun(intent.runId)
      case "ClearFinished":
        return actions.clearFinished()
      case "Quit":
        actions.quit()
        return exit()
      case "Interrupt":
        actions.interrupt()
        return exit()
    }
  }, [keys, actions, exit])
  useInput(onInput)

  return { ui, context }
}
