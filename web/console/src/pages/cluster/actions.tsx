// What can be done from a cluster's page: download a kubeconfig, set the
// authorized cluster endpoint (admins), rotate the registration token
// (admins).

import { useState } from "preact/hooks";

import { CopyButton } from "../../components/copy";
import { FormError, Status, TextAreaField, TextField } from "../../components/fields";
import { DateTime } from "../../components/time";
import { saveText } from "../../lib/download";
import { checkDuration, formMessage, placeError, useForm, type Errors } from "../../lib/forms";
import { useServices } from "../../lib/services";
import type { Cluster, Rotation } from "../../lib/types";

export function KubeconfigForm(p: { c: Cluster }) {
  const { api } = useServices();
  const [ttl, setTtl] = useState("");
  const { errors, busy, submit } = useForm();
  const [said, setSaid] = useState("");

  const download = async (all: boolean) => {
    setSaid("");
    const bad = checkDuration(ttl.trim());
    await submit(
      bad ? { "kubeconfig-ttl": bad } : {},
      async () => {
        const yaml = await api.kubeconfig(all ? [] : [p.c.id], ttl.trim());
        const file = all ? "drover.yaml" : `${p.c.name}.yaml`;
        saveText(file, yaml);
        setSaid(`Saved ${file}.`);
      },
      (err) => placeError(err, { ttl: "kubeconfig-ttl" }),
    );
  };

  return (
    <section class="card" aria-labelledby="kubeconfig-title">
      <h2 id="kubeconfig-title">Kubeconfig</h2>
      <p class="hint">
        Each download holds a new token per cluster, scoped to that cluster; revoke it on the Tokens page.
      </p>
      <form id="kubeconfig" onSubmit={(e) => (e.preventDefault(), void download(false))} noValidate>
        <TextField
          id="kubeconfig-ttl"
          label="Valid for"
          value={ttl}
          onValue={setTtl}
          placeholder="24h"
          hint={'A duration such as "24h" or "720h"; empty: the server\'s default (30 days unless set otherwise).'}
          error={errors["kubeconfig-ttl"]}
        />
        <FormError id="kubeconfig" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="kubeconfig-download" class="primary" disabled={busy}>
            Download for {p.c.name}
          </button>
          <button type="button" id="kubeconfig-download-all" disabled={busy} onClick={() => void download(true)}>
            Download for all my clusters
          </button>
        </div>
        <Status id="kubeconfig-status">{said}</Status>
      </form>
    </section>
  );
}

/** Mirrors the API: an https URL without userinfo, query or fragment; empty disables. */
export function checkAuthEndpoint(url: string, ca: string): Errors {
  if (url === "") {
    return ca.trim() !== "" ? { "ace-ca": "A CA without a URL means nothing: give the URL too, or remove the CA." } : {};
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { "ace-url": "Enter the https URL of the cluster's apiserver, e.g. https://prod.example.org:6443." };
  }
  if (u.protocol !== "https:" || u.host === "") {
    return { "ace-url": "The URL must start with https:// and name a host." };
  }
  if (u.username || u.password || u.search || url.includes("?") || u.hash || url.includes("#")) {
    return { "ace-url": "The URL must not hold credentials, a query or a fragment: it goes into every member's kubeconfig." };
  }
  if (ca.trim() !== "" && !ca.includes("-----BEGIN CERTIFICATE-----")) {
    return { "ace-ca": "The CA must be PEM: -----BEGIN CERTIFICATE----- …" };
  }
  return {};
}

export function AuthEndpointForm(p: { c: Cluster; admin: boolean }) {
  const { api } = useServices();
  // Taken once from the cluster: live updates do not overwrite what is being typed.
  const [url, setUrl] = useState(() => p.c.authEndpoint?.url ?? "");
  const [ca, setCa] = useState(() => p.c.authEndpoint?.caCert ?? "");
  const { errors, busy, submit } = useForm();
  const [said, setSaid] = useState("");

  if (!p.admin) {
    return (
      <section class="card" aria-labelledby="ace-title">
        <h2 id="ace-title">Authorized cluster endpoint</h2>
        <p>
          {p.c.authEndpoint?.url
            ? `Kubeconfigs also reach the apiserver directly at ${p.c.authEndpoint.url} (context <name>-ace).`
            : "Not set: kubeconfigs reach this cluster through Drover only."}
        </p>
      </section>
    );
  }

  const save = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    await submit(
      checkAuthEndpoint(url.trim(), ca),
      async () => {
        await api.setAuthEndpoint(p.c.id, url.trim(), url.trim() === "" ? "" : ca.trim() === "" ? "" : ca);
        setSaid(url.trim() === "" ? "The authorized endpoint is off." : "Saved: new kubeconfigs include the direct context.");
      },
      (err) => placeError(err, { url: "ace-url", caCert: "ace-ca" }, "ace-url"),
    );
  };

  return (
    <section class="card" aria-labelledby="ace-title">
      <h2 id="ace-title">Authorized cluster endpoint</h2>
      <p class="hint">
        With a URL set, kubeconfigs get a second context that reaches the cluster's apiserver directly, which keeps
        working while Drover is down. The apiserver must check tokens through Drover's kube-api-auth.
      </p>
      <form id="ace" onSubmit={save} noValidate>
        <TextField
          id="ace-url"
          label="Apiserver URL"
          type="url"
          value={url}
          onValue={setUrl}
          placeholder="https://prod.example.org:6443"
          hint="Empty turns the endpoint off."
          error={errors["ace-url"]}
        />
        <TextAreaField
          id="ace-ca"
          label="Apiserver CA (PEM, optional)"
          value={ca}
          onValue={setCa}
          rows={4}
          hint="Only when the apiserver's certificate is not signed by a CA the clients already trust."
          error={errors["ace-ca"]}
        />
        <FormError id="ace" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="ace-save" class="primary" disabled={busy}>
            Save endpoint
          </button>
        </div>
        <Status id="ace-status">{said}</Status>
      </form>
    </section>
  );
}

export function RotateRegistration(p: { c: Cluster }) {
  const { api } = useServices();
  const [result, setResult] = useState<Rotation | undefined>();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const rotate = async () => {
    setError("");
    setBusy(true);
    try {
      setResult(await api.rotateRegistration(p.c.id));
    } catch (err) {
      setError(formMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const cmd = result ? `kubectl apply -f ${result.registration.importUrl}` : "";
  return (
    <section class="card" aria-labelledby="rotate-title">
      <h2 id="rotate-title">Registration token</h2>
      <p class="hint">
        Rotating starts a new registration token and pushes it to the connected agents; the old one keeps working
        for the grace period, then its agents are disconnected. After a leak, delete the cluster and import it again
        instead: a rogue agent could receive the new token.
      </p>
      <div class="actions">
        <button type="button" id="rotate-registration" disabled={busy} onClick={() => void rotate()}>
          {busy ? "Rotating…" : "Rotate the registration token"}
        </button>
      </div>
      <FormError id="rotate" error={error} />
      <Status id="rotate-status">{result ? "The registration token was rotated." : ""}</Status>
      <div>
        {result ? (
          <div id="rotate-result">
            <p>
              {result.pushedToAgents
                ? "The new token was pushed to the connected agents."
                : "No agent is connected: the new token could not be pushed; re-apply the manifest below."}
              {result.previousValidUntil ? (
                <>
                  {" "}
                  The previous token stays valid until <DateTime iso={result.previousValidUntil} />.
                </>
              ) : null}
            </p>
            <p>The new install command (shown only now):</p>
            <div class="command">
              <code id="rotate-command">{cmd}</code>
              <CopyButton id="rotate-copy" targetId="rotate-command" text={cmd} />
            </div>
            <div class="command">
              <code id="rotate-command-verified">{result.registration.importCommand}</code>
              <CopyButton id="rotate-copy-verified" targetId="rotate-command-verified" text={result.registration.importCommand} />
            </div>
          </div>
        ) : null}
      </div>
    </section>
  );
}
