// The read-only parts of a cluster's page: agents, nodes, warning events,
// provisioning progress. Every value is rendered as text.

import { DateTime, RelativeTime } from "../../components/time";
import { StateBadge } from "../../components/page";
import { Table } from "../../components/table";
import type { Cluster, Provisioning } from "../../lib/types";

export function AgentsSection(p: { c: Cluster; now: number }) {
  const t = p.c.tunnel;
  const rollout = p.c.status?.agent;
  return (
    <section class="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <dl id="cluster-agents" class="facts">
        <dt>Connected</dt>
        <dd data-field="connected">{t.connected ? "yes" : "no"}</dd>
        {t.connected ? (
          <>
            <dt>Carried by</dt>
            <dd data-field="via">
              {t.via === "node" ? "a node agent (no cluster agent is connected)" : "the cluster agent"}
            </dd>
            <dt>Since</dt>
            <dd>
              <RelativeTime iso={t.since} now={p.now} />
            </dd>
          </>
        ) : null}
        <dt>Agent sessions</dt>
        <dd data-field="sessions">{String(t.sessions)}</dd>
        {t.agentVersion ? (
          <>
            <dt>Agent version</dt>
            <dd>{t.agentVersion}</dd>
          </>
        ) : null}
        {t.refused ? (
          <>
            <dt>Refused</dt>
            <dd class="error-text">{t.refused}</dd>
          </>
        ) : null}
        {rollout ? (
          <>
            <dt>Agent roll-out</dt>
            <dd>
              {rollout.phase}
              {rollout.targetVersion ? ` (target ${rollout.targetVersion})` : ""}
              {rollout.reason ? `: ${rollout.reason}` : ""}
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

export function NodesSection(p: { c: Cluster }) {
  const nodes = p.c.status?.nodes ?? [];
  return (
    <section class="card" aria-labelledby="nodes-title">
      <h2 id="nodes-title">Nodes</h2>
      {nodes.length === 0 ? (
        <p>{p.c.status ? "No nodes." : "No status has been gathered yet."}</p>
      ) : null}
      <Table id="cluster-nodes" hidden={nodes.length === 0} caption={`Nodes of ${p.c.name}`} columns={["Name", "Ready", "Roles", "Kubelet", "CPU", "Memory", "Pods"]}>
        {nodes.map((n) => (
          <tr key={n.name} data-node={n.name}>
            <th scope="row">{n.name}</th>
            <td>{n.ready ? "ready" : "not ready"}</td>
            <td>{(n.roles ?? []).join(", ")}</td>
            <td>{n.kubeletVersion}</td>
            <td>{n.capacity?.["cpu"] ?? ""}</td>
            <td>{n.capacity?.["memory"] ?? ""}</td>
            <td>{n.capacity?.["pods"] ?? ""}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

export function WarningsSection(p: { c: Cluster; now: number }) {
  const warnings = p.c.status?.warnings ?? [];
  return (
    <section class="card" aria-labelledby="warnings-title">
      <h2 id="warnings-title">Recent warning events</h2>
      <p class="hint">The newest warnings of the namespaces you may read in this cluster.</p>
      <div id="cluster-warnings">
        {warnings.length === 0 ? (
          <p>No recent warning events.</p>
        ) : (
          <Table caption={`Warning events of ${p.c.name}`} columns={["When", "Namespace", "Object", "Reason", "Message", "Count"]}>
            {warnings.map((w, i) => (
              <tr key={`${w.time}-${w.object}-${i}`} class="warning-event">
                <td>
                  <RelativeTime iso={w.time} now={p.now} />
                </td>
                <td>{w.namespace}</td>
                <td>{w.object}</td>
                <td>{w.reason}</td>
                <td class="wrap">{w.message}</td>
                <td>{w.count !== undefined ? String(w.count) : ""}</td>
              </tr>
            ))}
          </Table>
        )}
      </div>
    </section>
  );
}

/** The phases a driver cluster goes through on create, in order. */
export const createPhases = ["provisioning", "waiting-for-agent", "active"];

const phaseText: Record<string, string> = {
  provisioning: "The driver is creating the cluster",
  "waiting-for-agent": "Waiting for Drover's agent to connect",
  active: "Active",
  updating: "The driver is updating the cluster",
  removing: "The driver is removing the cluster",
  error: "Failed",
};

/** A driver cluster's progress; the watch stream updates it. */
export function ProvisioningSection(p: { p: Provisioning; now: number; id?: string }) {
  const v = p.p;
  const step = createPhases.indexOf(v.phase);
  return (
    <section class="card" aria-labelledby="provisioning-title">
      <h2 id="provisioning-title">Provisioning ({v.driver})</h2>
      <div id={p.id} class="progress-box" aria-live="polite">
        <p>
          <StateBadge state={v.phase} /> <span data-field="phase-text">{phaseText[v.phase] ?? v.phase}</span>
          {v.message ? <span data-field="message">: {v.message}</span> : null}
        </p>
        {step >= 0 ? (
          <ol class="steps">
            {createPhases.map((ph, i) => (
              <li key={ph} class={i < step ? "done" : i === step ? "current" : "todo"} aria-current={i === step ? "step" : undefined}>
                {phaseText[ph]}
                {i < step ? <span class="visually-hidden"> (done)</span> : null}
              </li>
            ))}
          </ol>
        ) : null}
        <p class="hint">
          Updated <RelativeTime iso={v.updatedAt} now={p.now} /> (<DateTime iso={v.updatedAt} />)
        </p>
      </div>
      {v.error ? (
        <p class="field-error" role="alert">
          {v.error}
        </p>
      ) : null}
    </section>
  );
}
