import { describe, expect, it } from "vitest";
import { agentsText } from "./format";
import type { Cluster } from "./types";

function cluster(tunnel: Cluster["tunnel"]): Cluster {
  return { id: "c-1", name: "one", state: tunnel.connected ? "active" : "disconnected", createdAt: "", tunnel } as Cluster;
}

describe("agentsText", () => {
  it.each([
    [{ connected: false, sessions: 0 }, "none"],
    [{ connected: false, sessions: 0, refused: "agent too old" }, "none (refused: agent too old)"],
    [{ connected: true, via: "cluster", sessions: 1, clusterAgents: 1, nodeAgents: 0 }, "1 cluster agent, 0 node agents"],
    [{ connected: true, via: "cluster", sessions: 4, clusterAgents: 1, nodeAgents: 3 }, "1 cluster agent, 3 node agents"],
    [{ connected: true, via: "node", sessions: 2, clusterAgents: 0, nodeAgents: 2 }, "no cluster agent; carried by 2 node agents"],
    [{ connected: true, via: "node", sessions: 1, clusterAgents: 0, nodeAgents: 1 }, "no cluster agent; carried by 1 node agent"],
  ])("%j", (tunnel, want) => {
    expect(agentsText(cluster(tunnel as Cluster["tunnel"]))).toBe(want);
  });
});
