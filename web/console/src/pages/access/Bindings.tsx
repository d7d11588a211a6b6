// Bindings: who has which role in which cluster or project; grant and
// revoke.

import { useEffect, useState } from "preact/hooks";

import { ConfirmButton } from "../../components/confirm";
import { FormError, SelectField, Status, TextField } from "../../components/fields";
import { DateTime } from "../../components/time";
import { Table } from "../../components/table";
import { formMessage, placeError, useForm, useListActions, type Errors } from "../../lib/forms";
import { useServices } from "../../lib/services";
import type { Binding } from "../../lib/types";
import type { Directory } from "../Access";

/** The roles of each scope, as the API names them, least rights first: the
 * first is what the form offers until someone chooses another. */
export const rolesByScope: Record<string, string[]> = {
  cluster: ["read-only", "cluster-member", "cluster-owner"],
  project: ["read-only", "project-member", "project-owner"],
  global: ["admin"],
};

/** The value of #binding-cluster that means the global scope. */
const globalScope = "global";

export function Bindings(p: { dir: Directory; reload: () => Promise<void> }) {
  const { api } = useServices();
  const { users, clusters, projects } = p.dir;
  const [bindings, setBindings] = useState<Binding[] | undefined>();
  const { said, setSaid, listError, setListError, act } = useListActions();

  const [kind, setKind] = useState("user");
  const [user, setUser] = useState(() => users[0]?.id ?? "");
  const [group, setGroup] = useState("");
  const [cluster, setCluster] = useState(() => clusters[0]?.id ?? globalScope);
  const [project, setProject] = useState("");
  const [chosenRole, setRole] = useState("read-only");
  const { errors, busy, submit } = useForm();

  const scope = cluster === globalScope ? "global" : project !== "" ? "project" : "cluster";
  const roles = rolesByScope[scope] ?? [];

  // A role of another scope is not offered: the choice falls back to the
  // scope's least role in the same render that shows it, so what is sent is
  // what is shown (an effect resetting it could overwrite a role chosen
  // meanwhile, and the first role used to be the owner's).
  const role = roles.includes(chosenRole) ? chosenRole : (roles[0] ?? "");

  const load = async () => {
    try {
      setBindings((await api.bindings()).items ?? []);
      setListError("");
    } catch (err) {
      setListError(formMessage(err));
    }
  };
  useEffect(() => {
    void load();
  }, [api]);

  const clusterName = (id?: string) => (id ? (clusters.find((c) => c.id === id)?.name ?? id) : "");
  const projectName = (b: Binding) =>
    b.projectId ? (projects[b.clusterId ?? ""]?.find((x) => x.id === b.projectId)?.name ?? b.projectId) : "";
  const subject = (b: Binding) => (b.subjectKind === "user" ? (b.username ?? b.subject) : b.subject);

  const grant = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const errs: Errors = {};
    if (kind === "user" && user === "") {
      errs["binding-user"] = "Choose a user.";
    }
    if (kind === "group") {
      const g = group.trim();
      if (g === "") {
        errs["binding-group"] = "Enter a group, e.g. ldap:cn=devs,ou=groups,dc=example,dc=org.";
      } else if (g.startsWith("system:")) {
        errs["binding-group"] = "Groups in system: belong to Kubernetes and cannot be bound.";
      }
    }
    if (role === "") {
      errs["binding-role"] = "Choose a role.";
    }
    await submit(
      errs,
      async () => {
        const req: Parameters<typeof api.createBinding>[0] = {
          scope,
          role,
          subjectKind: kind,
          subject: kind === "user" ? user : group.trim(),
        };
        if (scope !== "global") {
          req.clusterId = cluster;
        }
        if (scope === "project") {
          req.projectId = project;
        }
        const b = await api.createBinding(req);
        setSaid(`Granted ${b.role} to ${subject(b)}.`);
        await load();
      },
      (err) =>
        placeError(err, {
          subject: kind === "user" ? "binding-user" : "binding-group",
          user: "binding-user",
          group: "binding-group",
          clusterId: "binding-cluster",
          cluster: "binding-cluster",
          projectId: "binding-project",
          project: "binding-project",
          role: "binding-role",
        }),
    );
  };

  const revoke = (b: Binding) =>
    act(async () => {
      await api.revokeBinding(b.id);
      setSaid(`Revoked ${b.role} of ${subject(b)}.`);
      await load();
    });

  const clusterProjects = cluster !== globalScope ? (projects[cluster] ?? []) : [];

  return (
    <section class="card" aria-labelledby="bindings-title">
      <h2 id="bindings-title">Bindings</h2>
      <Status id="bindings-status">{said}</Status>
      <FormError id="bindings" error={listError} />
      {bindings === undefined && !listError ? <p role="status">Loading…</p> : null}
      {bindings !== undefined ? (
        <Table id="bindings" caption="Bindings" columns={["Subject", "Kind", "Role", "Scope", "Cluster", "Project", "Created"]} actions>
          {bindings.map((b) => (
            <tr key={b.id} data-binding-id={b.id}>
              <th scope="row" class="wrap">
                {subject(b)}
              </th>
              <td>{b.subjectKind}</td>
              <td data-field="role">{b.role}</td>
              <td>{b.scope}</td>
              <td>{clusterName(b.clusterId)}</td>
              <td>{projectName(b)}</td>
              <td>
                <DateTime iso={b.createdAt} />
              </td>
              <td>
                <ConfirmButton
                  label="Revoke"
                  ariaLabel={`Revoke ${b.role} of ${subject(b)}`}
                  className="binding-revoke"
                  confirmClassName="binding-revoke-confirm"
                  question={`Revoke ${b.role} of ${subject(b)}?`}
                  confirmLabel="Revoke binding"
                  onConfirm={() => revoke(b)}
                />
              </td>
            </tr>
          ))}
        </Table>
      ) : null}

      <h3>Grant a role</h3>
      <form id="binding" class="grid-form" onSubmit={grant} noValidate>
        <SelectField
          id="binding-subject-kind"
          label="To a"
          value={kind}
          onValue={setKind}
          options={[
            { value: "user", label: "user" },
            { value: "group", label: "group" },
          ]}
        />
        {kind === "user" ? (
          <SelectField
            id="binding-user"
            label="User"
            value={user}
            onValue={setUser}
            options={users.map((u) => ({ value: u.id, label: u.disabled ? `${u.username} (disabled)` : u.username }))}
            error={errors["binding-user"]}
          />
        ) : (
          <TextField
            id="binding-group"
            label="Group"
            value={group}
            onValue={setGroup}
            hint="As its provider names it, e.g. ldap:cn=ops,ou=groups,dc=example,dc=org or gh:acme/platform."
            error={errors["binding-group"]}
          />
        )}
        <SelectField
          id="binding-cluster"
          label="Cluster"
          value={cluster}
          onValue={(v) => {
            setCluster(v);
            setProject("");
          }}
          options={[
            ...clusters.map((c) => ({ value: c.id, label: c.name })),
            { value: globalScope, label: "All of Drover (global)" },
          ]}
          error={errors["binding-cluster"]}
        />
        {cluster !== globalScope ? (
          <SelectField
            id="binding-project"
            label="Project"
            value={project}
            onValue={setProject}
            options={[
              { value: "", label: "the whole cluster" },
              ...clusterProjects.map((x) => ({ value: x.id, label: x.name })),
            ]}
            error={errors["binding-project"]}
          />
        ) : null}
        <SelectField
          id="binding-role"
          label="Role"
          value={role}
          onValue={setRole}
          options={roles.map((r) => ({ value: r, label: r }))}
          error={errors["binding-role"]}
        />
        <FormError id="binding" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="binding-create" class="primary" disabled={busy}>
            {busy ? "Granting…" : "Grant"}
          </button>
        </div>
      </form>
    </section>
  );
}
