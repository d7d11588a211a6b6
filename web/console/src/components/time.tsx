// Relative times that stay current ("disconnected 5 min ago") with one
// shared clock, and the exact time on hover and for assistive technology.

import { useEffect, useState } from "preact/hooks";

import { dateTime, relativeTime } from "../lib/format";

/** Now, in ms, updated every periodMs while the component is shown. */
export function useNow(periodMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export function RelativeTime(p: { iso: string | undefined; now: number; prefix?: string }) {
  if (!p.iso || Number.isNaN(Date.parse(p.iso))) {
    return null;
  }
  const exact = dateTime(p.iso);
  return (
    <time dateTime={p.iso} title={exact}>
      {p.prefix}
      {relativeTime(p.iso, p.now)}
    </time>
  );
}

/** The exact time. */
export function DateTime(p: { iso: string | undefined }) {
  if (!p.iso) {
    return null;
  }
  return <time dateTime={p.iso}>{dateTime(p.iso)}</time>;
}
