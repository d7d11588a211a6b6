// #/clusters: every cluster the user may see, live from the watch stream.

import { RelativeTime, useNow } from "../components/time";
import { Page, StateBadge } from "../components/page";
import { Table } from "../components/table";
import { useClusterFeed } from "../lib/clusters";
import { agentsText, nodesText, warningCount } from "../lib/format";
import { href } from "../lib/router";
import { useServices } from "../lib/services";
import type { Cluster, Me } from "../lib/types";

export function byName(a: Cluster, b: Cluster): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1;
}

/** When the cluster lost its agents, for the "disconnected since" column. */
export function Since(p: { c: Cluster; now: number }) {
  const { c, now } = p;
  if (c.tunnel.connected) {
    return <span class="muted">connected</span>;
  }
  if (c.tunnel.disconnectedAt) {
    return <RelativeTime iso={c.tunnel.disconnectedAt} now={now} />;
  }
  if (c.lastSeen) {
    return <RelativeTime iso={c.lastSeen} now={now} prefix="before the server started; last status " />;
  }
  return <span class="muted">never connected</span>;
}

export function Clusters(p: { me: Me }) {
  const { feed } = useServices();
  const fs = useClusterFeed(feed);
  const now = useNow(5000);
  const items = [...fs.items].sort(byName);
  const anyProvisioning = items.some((c) => c.provisioning);

  const actions = p.me.admin ? (
    <div class="page-actions">
      <a class="button" href="#/import">
        Import a cluster
      </a>
      <a class="button" href="#/drivers">
        Create with a driver
      </a>
    </div>
  ) : null;

  return (
    <Page title="Clusters" actions={actions}>
      {!fs.received ? (
        <p role="status">Loading clusters…</p>
      ) : items.length === 0 ? (
        <p id="clusters-empty">
          {p.me.admin
            ? "No clusters yet: import one, or create one with a driver."
            : "You are a member of no cluster yet; ask a Drover admin for a binding."}
        </p>
      ) : null}
      {fs.received && items.length > 0 ? (
        <Table id="clusters" caption="Clusters, updated live" columns={["Name", "State", anyProvisioning && "Provisioning", "Agents", "Kubernetes", "Nodes", "Warnings", "Disconnected since"]}>
          {items.map((c) => (
            <tr key={c.id} data-cluster-id={c.id}>
              <th scope="row" data-field="name">
                <a href={href("clusters", c.id)}>{c.name}</a>
              </th>
              <td data-field="state">
                <StateBadge state={c.state} />
              </td>
              {anyProvisioning ? (
                <td data-field="provisioning">{c.provisioning ? c.provisioning.phase : ""}</td>
              ) : null}
              <td data-field="agents">{agentsText(c)}</td>
              <td data-field="version">{c.status?.kubernetesVersion ?? ""}</td>
              <td data-field="nodes">{nodesText(c)}</td>
              <td data-field="warnings">{c.status ? String(warningCount(c)) : ""}</td>
              <td data-field="since">
                <Since c={c} now={now} />
              </td>
            </tr>
          ))}
        </Table>
      ) : null}
    </Page>
  );
}
