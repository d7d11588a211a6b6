// A button that copies a text (a command, a token) with the clipboard API,
// and says in a live region whether it worked. Where the clipboard is
// refused, it selects the text so that the person can copy it.

import { useState } from "preact/hooks";

export function CopyButton(p: { id: string; text: string; targetId: string; label?: string }) {
  const [said, setSaid] = useState("");
  const copy = async () => {
    try {
      if (!navigator.clipboard) {
        throw new Error("no clipboard");
      }
      await navigator.clipboard.writeText(p.text);
      setSaid("Copied to the clipboard.");
    } catch {
      selectText(p.targetId);
      setSaid("Copying was refused: the text is selected, copy it with Ctrl+C (⌘C).");
    }
  };
  return (
    <span class="copy">
      <button type="button" id={p.id} onClick={() => void copy()}>
        {p.label ?? "Copy"}
      </button>
      <span class="copy-status" role="status" aria-live="polite">
        {said}
      </span>
    </span>
  );
}

function selectText(id: string): void {
  const el = document.getElementById(id);
  const sel = window.getSelection();
  if (!el || !sel) {
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(el);
  sel.removeAllRanges();
  sel.addRange(range);
}
