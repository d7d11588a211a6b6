// A destructive action with a confirm step in the page (not
// window.confirm): the button turns into a question with Confirm and
// Cancel, focus goes to Confirm, Escape or Cancel goes back.

import { useEffect, useRef, useState } from "preact/hooks";

export function ConfirmButton(p: {
  label: string;
  /** The button's accessible name when the visible label is short ("Revoke token t-1"). */
  ariaLabel?: string;
  question: string;
  confirmLabel: string;
  className?: string;
  confirmClassName?: string;
  onConfirm: () => Promise<void> | void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const startRef = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);

  useEffect(() => {
    if (asking) {
      confirmRef.current?.focus();
    } else if (returnFocus.current) {
      returnFocus.current = false;
      startRef.current?.focus();
    }
  }, [asking]);

  const cancel = () => {
    returnFocus.current = true;
    setAsking(false);
  };

  if (!asking) {
    return (
      <button
        type="button"
        ref={startRef}
        class={p.className}
        aria-label={p.ariaLabel}
        disabled={p.disabled}
        onClick={() => setAsking(true)}
      >
        {p.label}
      </button>
    );
  }
  return (
    <span
      class="confirm"
      role="group"
      aria-label={p.question}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          cancel();
        }
      }}
    >
      <span class="confirm-question">{p.question}</span>{" "}
      <button
        type="button"
        ref={confirmRef}
        class={["danger", p.confirmClassName].filter(Boolean).join(" ")}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await p.onConfirm();
          } finally {
            setBusy(false);
            returnFocus.current = true;
            setAsking(false);
          }
        }}
      >
        {p.confirmLabel}
      </button>{" "}
      <button type="button" onClick={cancel} disabled={busy}>
        Cancel
      </button>
    </span>
  );
}
