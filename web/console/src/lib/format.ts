// How times and cluster facts are written for people.

import type { Cluster } from "./types";

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago"; "in 4 min" for the future. */
export function relativeTime(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) {
    return "";
  }
  const diff = Math.round((now - t) / 1000);
  const future = diff < 0;
  const s = Math.abs(diff);
  let text: string;
  if (s < 5) {
    return "just now";
  } else if (s < 60) {
    text = `${s} s`;
  } else if (s < 3600) {
    text = `${Math.floor(s / 60)} min`;
  } else if (s < 86400) {
    text = `${Math.floor(s / 3600)} h`;
  } else {
    const d = Math.floor(s / 86400);
    text = d === 1 ? "1 day" : `${d} days`;
  }
  return future ? `in ${text}` : `${text} ago`;
}

/** A date and time in the reader's locale and zone. */
export function dateTime(iso: string | undefined): string {
  if (!iso) {
    return "";
  }
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) {
    return "";
  }
  return new Date(t).toLocaleString();
}

/** Which agents are connected: "1 cluster agent, 3 node agents", or who carries the cluster without one. */
export function agentsText(c: Cluster): string {
  const t = c.tunnel;
  if (!t.connected) {
    return t.refused ? `none (refused: ${t.refused})` : "none";
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const clusterAgents = t.clusterAgents ?? 0;
  const nodeAgents = t.nodeAgents ?? 0;
  if (clusterAgents === 0) {
    return `no cluster agent; carried by ${count(nodeAgents, "node agent")}`;
  }
  return `${count(clusterAgents, "cluster agent")}, ${count(nodeAgents, "node agent")}`;
}

/** "3/3 ready", or "" when no status was gathered. */
export function nodesText(c: Cluster): string {
  const nodes = c.status?.nodes;
  if (!nodes) {
    return "";
  }
  const ready = nodes.filter((n) => n.ready).length;
  return `${ready}/${nodes.length} ready`;
}

export function warningCount(c: Cluster): number {
  return c.status?.warnings?.length ?? 0;
}
