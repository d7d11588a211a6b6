// #/import: create a cluster, show the command that installs its agents,
// and follow its state live until it is connected.

import { useState } from "preact/hooks";

import { CopyButton } from "../components/copy";
import { FormError, TextField } from "../components/fields";
import { Page, StateBadge } from "../components/page";
import { useClusterFeed } from "../lib/clusters";
import { agentsText } from "../lib/format";
import { checkDNSLabel, placeError, useForm } from "../lib/forms";
import { href } from "../lib/router";
import { useServices } from "../lib/services";
import type { CreatedCluster } from "../lib/types";

export function Import() {
  const { api, feed } = useServices();
  const fs = useClusterFeed(feed);
  const [name, setName] = useState("");
  const { errors, busy, submit: send } = useForm();
  const [created, setCreated] = useState<CreatedCluster | undefined>();

  const submit = async (e: Event) => {
    e.preventDefault();
    const bad = checkDNSLabel(name.trim(), "cluster name");
    await send(
      bad ? { "import-name": bad } : {},
      async () => {
        setCreated(await api.createCluster(name.trim()));
        setName("");
      },
      (err) => placeError(err, { name: "import-name" }, "import-name"),
    );
  };

  const live = created ? fs.items.find((c) => c.id === created.cluster.id) : undefined;
  const cluster = live ?? created?.cluster;

  return (
    <Page title="Import a cluster">
      <p>
        Drover creates the cluster's record and a registration token; you then install Drover's agents in the
        cluster with <code>kubectl</code>. They connect out to Drover, so the cluster needs no inbound access.
      </p>
      <form id="import" class="card" onSubmit={submit} noValidate>
        <TextField
          id="import-name"
          label="Cluster name"
          value={name}
          onValue={setName}
          required
          hint="A DNS label: lower-case letters, digits and -, e.g. prod-eu-1."
          error={errors["import-name"]}
        />
        <FormError id="import" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="import-submit" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create and show the command"}
          </button>
        </div>
      </form>

      {created && cluster ? (
        <section class="card" aria-labelledby="import-result-title">
          <h2 id="import-result-title">Connect {created.cluster.name}</h2>
          {created.registration.warning ? (
            <p class="warning" role="alert">
              {created.registration.warning}
            </p>
          ) : null}
          <p>With a kubeconfig for the cluster, run:</p>
          <div class="command">
            <code id="import-command">kubectl apply -f {created.registration.importUrl}</code>
            <CopyButton id="import-copy" targetId="import-command" text={`kubectl apply -f ${created.registration.importUrl}`} />
          </div>
          <p class="hint">
            If kubectl does not trust this server's certificate (Drover made its own CA), use this instead: it
            fetches the CA, checks it against its checksum, and applies the manifest with it.
          </p>
          <div class="command">
            <code id="import-command-verified">{created.registration.importCommand}</code>
            <CopyButton
              id="import-copy-verified"
              targetId="import-command-verified"
              text={created.registration.importCommand}
            />
          </div>
          <p class="hint">
            The command holds the cluster's registration token: it is shown only now. Rotate it on the{" "}
            <a href={href("clusters", created.cluster.id)}>cluster's page</a> if it leaks.
          </p>
          <p class="live-state">
            State:{" "}
            <StateBadge id="import-state" state={cluster.state} live />{" "}
            <span>
              {cluster.state === "active"
                ? `Connected (${agentsText(cluster)}).`
                : cluster.tunnel.connected
                  ? "The agent is connected; waiting for the apiserver to be ready."
                  : "Waiting for the agent to connect…"}
            </span>
          </p>
          <p>
            <a href={href("clusters", created.cluster.id)}>Open {created.cluster.name}</a>
          </p>
        </section>
      ) : null}
    </Page>
  );
}
