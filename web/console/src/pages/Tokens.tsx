// #/tokens: the user's tokens; create an API token (its secret shown once)
// and revoke one after a confirm step.

import { useEffect, useState } from "preact/hooks";

import { ConfirmButton } from "../components/confirm";
import { CopyButton } from "../components/copy";
import { FormError, SelectField, Status, TextField } from "../components/fields";
import { LoadError, Page } from "../components/page";
import { DateTime, RelativeTime, useNow } from "../components/time";
import { Table } from "../components/table";
import { checkDuration, formMessage, placeError, useForm, useListActions, type Errors } from "../lib/forms";
import { useServices } from "../lib/services";
import type { Cluster, List, Me, Token } from "../lib/types";

const kindText: Record<string, string> = {
  api: "API token",
  session: "login session",
  kubeconfig: "kubeconfig",
  plugin: "credential plugin",
  "plugin-ace": "credential plugin (direct)",
};

export function Tokens(p: { me: Me }) {
  const { api } = useServices();
  const now = useNow(30_000);
  const [tokens, setTokens] = useState<Token[] | undefined>();
  const [clusters, setClusters] = useState<Cluster[]>([]);
  const [loadError, setLoadError] = useState("");
  const { said, setSaid, listError, act } = useListActions();

  const [description, setDescription] = useState("");
  const [ttl, setTtl] = useState("");
  const [cluster, setCluster] = useState("");
  const { errors, busy, submit } = useForm();
  const [created, setCreated] = useState<Token | undefined>();

  const load = async () => {
    try {
      const list = await api.tokens();
      setTokens(list.items ?? []);
      setLoadError("");
    } catch (err) {
      setLoadError(formMessage(err));
    }
  };

  useEffect(() => {
    void load();
    api
      .get<List<Cluster>>("/v3/clusters")
      .then((l) => setClusters(l.items ?? []))
      .catch(() => setClusters([]));
  }, [api]);

  const create = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const errs: Errors = {};
    const d = description.trim();
    if (new TextEncoder().encode(d).length > 256) {
      errs["token-description"] = "The description must be at most 256 bytes.";
    }
    const badTtl = checkDuration(ttl.trim());
    if (badTtl) {
      errs["token-ttl"] = badTtl;
    }
    await submit(
      errs,
      async () => {
        const t = await api.createToken(d, ttl.trim(), cluster);
        setCreated(t);
        setDescription("");
        setTtl("");
        setCluster("");
        await load();
      },
      (err) => placeError(err, { description: "token-description", ttl: "token-ttl", clusterId: "token-cluster" }),
    );
  };

  const revoke = (t: Token) =>
    act(async () => {
      await api.revokeToken(t.id);
      setSaid(`Token ${t.id} was revoked.`);
      if (created?.id === t.id) {
        setCreated(undefined);
      }
      await load();
    });

  const clusterName = (id: string | undefined) => (id ? (clusters.find((c) => c.id === id)?.name ?? id) : "all");

  return (
    <Page title="Tokens">
      <section class="card" aria-labelledby="token-new-title">
        <h2 id="token-new-title">New API token</h2>
        <form id="token" onSubmit={create} noValidate>
          <TextField
            id="token-description"
            label="Description"
            value={description}
            onValue={setDescription}
            hint="What it is for, e.g. ci-deploy."
            error={errors["token-description"]}
          />
          <TextField
            id="token-ttl"
            label="Valid for"
            value={ttl}
            onValue={setTtl}
            placeholder="24h"
            hint={'A duration such as "24h" or "720h"; empty: the server\'s default (30 days unless set otherwise).'}
            error={errors["token-ttl"]}
          />
          <SelectField
            id="token-cluster"
            label="Cluster"
            value={cluster}
            onValue={setCluster}
            options={[{ value: "", label: "Any cluster I may use" }, ...clusters.map((c) => ({ value: c.id, label: c.name }))]}
            hint="A token for one cluster is refused everywhere else."
            error={errors["token-cluster"]}
          />
          <FormError id="token" error={errors[""]} />
          <div class="actions">
            <button type="submit" id="token-create" class="primary" disabled={busy}>
              {busy ? "Creating…" : "Create token"}
            </button>
          </div>
        </form>
        {created?.token ? (
          <div class="secret" role="region" aria-labelledby="token-secret-title">
            <h3 id="token-secret-title">Token {created.id} created</h3>
            <p>Copy it now: it is not shown again.</p>
            <div class="command">
              <code id="token-secret">{created.token}</code>
              <CopyButton id="token-copy" targetId="token-secret" text={created.token} />
            </div>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done, hide it
            </button>
          </div>
        ) : null}
      </section>

      <section class="card" aria-labelledby="tokens-title">
        <h2 id="tokens-title">Your tokens</h2>
        <Status id="tokens-status">{said}</Status>
        <FormError id="tokens" error={listError} />
        {loadError ? <LoadError message={loadError} /> : null}
        {tokens === undefined && !loadError ? <p role="status">Loading…</p> : null}
        {tokens !== undefined ? (
          tokens.length === 0 ? (
            <p>No tokens.</p>
          ) : (
            <Table id="tokens" caption="Your tokens" columns={["Id", "Kind", "Description", "Cluster", "Created", "Expires", "Last used"]} actions>
              {tokens.map((t) => (
                <tr key={t.id} data-token-id={t.id}>
                  <th scope="row">
                    <code>{t.id}</code>
                    {t.id === p.me.tokenId ? <span class="tag">this session</span> : null}
                  </th>
                  <td>{kindText[t.kind] ?? t.kind}</td>
                  <td>{t.description ?? ""}</td>
                  <td>{clusterName(t.clusterId)}</td>
                  <td>
                    <DateTime iso={t.createdAt} />
                  </td>
                  <td>
                    <RelativeTime iso={t.expiresAt} now={now} />
                  </td>
                  <td>{t.lastUsedAt ? <RelativeTime iso={t.lastUsedAt} now={now} /> : "never"}</td>
                  <td>
                    <ConfirmButton
                      label="Revoke"
                      ariaLabel={`Revoke token ${t.id}`}
                      className="token-revoke"
                      confirmClassName="token-revoke-confirm"
                      question={
                        t.id === p.me.tokenId
                          ? `Revoke ${t.id}? This is your current session: you will be logged out.`
                          : `Revoke ${t.id}? Whatever uses it stops working at once.`
                      }
                      confirmLabel="Revoke token"
                      onConfirm={() => revoke(t)}
                    />
                  </td>
                </tr>
              ))}
            </Table>
          )
        ) : null}
      </section>
    </Page>
  );
}
