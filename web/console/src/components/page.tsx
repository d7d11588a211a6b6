// A page: its one <h1> (focused after navigation, so a screen reader
// announces where the person landed) and the document title.

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function Page(p: { title: string; children?: ComponentChildren; actions?: ComponentChildren }) {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${p.title} · Drover`;
  }, [p.title]);
  useEffect(() => {
    // On arrival (the app keys pages by route), and only after an in-page
    // navigation: on first load focus stays at the top.
    if (document.activeElement && document.activeElement !== document.body) {
      h1.current?.focus();
    }
  }, []);
  return (
    <>
      <div class="page-head">
        <h1 ref={h1} tabIndex={-1}>
          {p.title}
        </h1>
        {p.actions}
      </div>
      {p.children}
    </>
  );
}

/** A cluster's state as a badge; the word itself carries the meaning, colour only helps. */
export function StateBadge(p: { state: string; id?: string; live?: boolean }) {
  const known = ["active", "unhealthy", "disconnected", "provisioning", "waiting-for-agent", "updating", "removing", "error"];
  const cls = known.includes(p.state) ? `state state-${p.state}` : "state";
  return (
    <span id={p.id} class={cls} aria-live={p.live ? "polite" : undefined}>
      {p.state || "unknown"}
    </span>
  );
}

/** What a failed load shows in place of the content. */
export function LoadError(p: { message: string; id?: string }) {
  return (
    <p id={p.id} class="error-box" role="alert">
      {p.message}
    </p>
  );
}
