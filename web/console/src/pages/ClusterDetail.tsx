// #/clusters/<id>: the cluster's state, nodes, warnings and agents (live
// from the watch stream), its authorized endpoint, registration rotation,
// kubeconfig downloads and a shell into a pod.

import { useEffect, useState } from "preact/hooks";

import { DateTime, RelativeTime, useNow } from "../components/time";
import { LoadError, Page, StateBadge } from "../components/page";
import { useClusterFeed } from "../lib/clusters";
import { formMessage } from "../lib/forms";
import { useServices } from "../lib/services";
import type { Cluster, Me } from "../lib/types";
import { AgentsSection, NodesSection, ProvisioningSection, WarningsSection } from "./cluster/status";
import { AuthEndpointForm, KubeconfigForm, RotateRegistration } from "./cluster/actions";
import { ShellSection } from "./cluster/shell";
import { Since } from "./Clusters";

export function ClusterDetail(p: { id: string; me: Me }) {
  const { api, feed } = useServices();
  const fs = useClusterFeed(feed);
  const now = useNow(5000);
  const [fetched, setFetched] = useState<Cluster | undefined>();
  const [loadError, setLoadError] = useState("");

  const live = fs.items.find((c) => c.id === p.id);
  const missing = fs.received && !live;

  // Not in the stream: ask for it, so that a 403 or 404 says why.
  useEffect(() => {
    if (!missing) {
      return;
    }
    let gone = false;
    api
      .cluster(p.id)
      .then((c) => !gone && setFetched(c))
      .catch((err: unknown) => !gone && setLoadError(formMessage(err)));
    return () => {
      gone = true;
    };
  }, [missing, p.id, api]);

  const c = live ?? fetched;
  if (!c) {
    return (
      <Page title={`Cluster ${p.id}`}>
        {loadError ? <LoadError message={loadError} /> : <p role="status">Loading the cluster…</p>}
      </Page>
    );
  }
  const st = c.status;
  return (
    <Page title={`Cluster ${c.name}`}>
      <section class="card" aria-labelledby="summary-title">
        <h2 id="summary-title">Status</h2>
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <StateBadge id="cluster-state" state={c.state} live />
          </dd>
          <dt>Kubernetes</dt>
          <dd id="cluster-version">{st?.kubernetesVersion ?? "unknown"}</dd>
          <dt>API server</dt>
          <dd>
            {st
              ? st.apiServer.ready
                ? "ready"
                : `not ready${st.apiServer.message ? `: ${st.apiServer.message}` : ""}`
              : "no status gathered yet"}
          </dd>
          <dt>Disconnected since</dt>
          <dd>
            <Since c={c} now={now} />
          </dd>
          <dt>Last status</dt>
          <dd>{c.lastSeen ? <RelativeTime iso={c.lastSeen} now={now} /> : "never"}</dd>
          {st?.counts ? (
            <>
              <dt>Namespaces</dt>
              <dd>{String(st.counts.namespaces)}</dd>
              <dt>Pods</dt>
              <dd>{String(st.counts.pods)}</dd>
            </>
          ) : null}
          <dt>Id</dt>
          <dd>
            <code>{c.id}</code>
          </dd>
          <dt>Created</dt>
          <dd>
            <DateTime iso={c.createdAt} />
          </dd>
        </dl>
        {st?.errors && st.errors.length > 0 ? (
          <div class="warning">
            <p>Not everything could be read the last time:</p>
            <ul>
              {st.errors.map((e, i) => (
                <li key={i}>{e}</li>
              ))}
            </ul>
          </div>
        ) : null}
      </section>
      {c.provisioning ? <ProvisioningSection p={c.provisioning} now={now} /> : null}
      <AgentsSection c={c} now={now} />
      <NodesSection c={c} />
      <WarningsSection c={c} now={now} />
      <KubeconfigForm c={c} />
      <AuthEndpointForm c={c} admin={p.me.admin} />
      {p.me.admin ? <RotateRegistration c={c} /> : null}
      {/* Keyed: another cluster's page gets a shell section of its own, the old shell closed. */}
      <ShellSection key={c.id} c={c} />
    </Page>
  );
}
