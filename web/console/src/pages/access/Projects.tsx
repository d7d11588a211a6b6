// Projects: named sets of namespaces, per cluster; create one, change its
// namespaces, delete it.

import { useState } from "preact/hooks";

import { ConfirmButton } from "../../components/confirm";
import { FormError, SelectField, Status, TextAreaField, TextField } from "../../components/fields";
import { Table } from "../../components/table";
import { checkDNSLabel, formMessage, placeError, splitList, useForm, useListActions, type Errors } from "../../lib/forms";
import { useServices } from "../../lib/services";
import type { Project } from "../../lib/types";
import type { Directory } from "../Access";

/** Mirrors the API's rules for a namespace list: DNS labels, not cattle-system. */
export function checkNamespaces(list: string[]): string | undefined {
  for (const ns of list) {
    if (checkDNSLabel(ns) !== undefined) {
      return `"${ns}" is not a namespace name: 1–63 of a–z, 0–9 and -, starting and ending with a letter or digit.`;
    }
    if (ns === "cattle-system") {
      return "cattle-system is Drover's own namespace and cannot be part of a project.";
    }
  }
  return undefined;
}

export function Projects(p: { dir: Directory; reload: () => Promise<void> }) {
  const { api } = useServices();
  const { clusters, projects } = p.dir;
  const [cluster, setCluster] = useState(() => clusters[0]?.id ?? "");
  const [name, setName] = useState("");
  const [namespaces, setNamespaces] = useState("");
  const { errors, busy, submit } = useForm();
  const { said, setSaid, listError, act } = useListActions();

  const create = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const errs: Errors = {};
    if (cluster === "") {
      errs["project-cluster"] = "Choose a cluster.";
    }
    const badName = checkDNSLabel(name.trim(), "project name");
    if (badName) {
      errs["project-name"] = badName;
    }
    const list = splitList(namespaces);
    const badNs = checkNamespaces(list);
    if (badNs) {
      errs["project-namespaces"] = badNs;
    }
    await submit(
      errs,
      async () => {
        const created = await api.createProject(cluster, name.trim(), list);
        setSaid(`Project ${created.name} was created.`);
        setName("");
        setNamespaces("");
        await p.reload();
      },
      (err) =>
        placeError(err, { name: "project-name", namespaces: "project-namespaces", namespace: "project-namespaces" }, "project-name"),
    );
  };

  const remove = (x: Project) =>
    act(async () => {
      await api.deleteProject(x.id);
      setSaid(`Project ${x.name} was deleted.`);
      await p.reload();
    });

  return (
    <section class="card" aria-labelledby="projects-title">
      <h2 id="projects-title">Projects</h2>
      <Status id="projects-status">{said}</Status>
      <FormError id="projects" error={listError} />
      {clusters.length === 0 ? <p>No clusters yet.</p> : null}
      {clusters.map((c) => {
        const list = projects[c.id] ?? [];
        return (
          <div key={c.id} class="cluster-projects" data-cluster-id={c.id}>
            <h3>{c.name}</h3>
            {list.length === 0 ? (
              <p class="muted">No projects.</p>
            ) : (
              <Table class="projects" caption={`Projects of ${c.name}`} columns={["Project", "Namespaces"]} actions>
                {list.map((x) => (
                  <tr key={x.id} data-project-id={x.id}>
                    <th scope="row">{x.name}</th>
                    <td>
                      <EditNamespaces project={x} reload={p.reload} />
                    </td>
                    <td>
                      <ConfirmButton
                        label="Delete"
                        ariaLabel={`Delete project ${x.name}`}
                        className="project-delete"
                        confirmClassName="project-delete-confirm"
                        question={`Delete project ${x.name}? Its bindings go with it.`}
                        confirmLabel="Delete project"
                        onConfirm={() => remove(x)}
                      />
                    </td>
                  </tr>
                ))}
              </Table>
            )}
          </div>
        );
      })}

      <h3>New project</h3>
      <form id="project" onSubmit={create} noValidate>
        <SelectField
          id="project-cluster"
          label="Cluster"
          value={cluster}
          onValue={setCluster}
          options={clusters.map((c) => ({ value: c.id, label: c.name }))}
          error={errors["project-cluster"]}
        />
        <TextField
          id="project-name"
          label="Name"
          value={name}
          onValue={setName}
          required
          hint="A DNS label, unique in the cluster."
          error={errors["project-name"]}
        />
        <TextAreaField
          id="project-namespaces"
          label="Namespaces"
          value={namespaces}
          onValue={setNamespaces}
          hint="One per line (or separated by commas); they need not exist yet, and each may belong to one project."
          error={errors["project-namespaces"]}
        />
        <FormError id="project" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="project-create" class="primary" disabled={busy || clusters.length === 0}>
            {busy ? "Creating…" : "Create project"}
          </button>
        </div>
      </form>
    </section>
  );
}

function EditNamespaces(p: { project: Project; reload: () => Promise<void> }) {
  const { api } = useServices();
  const current = (p.project.namespaces ?? []).join(", ");
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(current);
  const [error, setError] = useState("");
  const id = `project-${p.project.id}-namespaces`;

  if (!editing) {
    return (
      <span class="inline-edit">
        <span>{current === "" ? "none" : current}</span>{" "}
        <button
          type="button"
          class="link-button"
          aria-label={`Change the namespaces of ${p.project.name}`}
          onClick={() => {
            setValue(current);
            setError("");
            setEditing(true);
          }}
        >
          Change
        </button>
      </span>
    );
  }

  const save = async (e: Event) => {
    e.preventDefault();
    const list = splitList(value);
    const bad = checkNamespaces(list);
    if (bad) {
      setError(bad);
      return;
    }
    try {
      await api.setProjectNamespaces(p.project.id, list);
      setEditing(false);
      await p.reload();
    } catch (err) {
      setError(placeError(err, {}, id)[id] ?? formMessage(err));
    }
  };

  return (
    <form class="inline-form" onSubmit={save} noValidate>
      <TextField
        id={id}
        label={`Namespaces of ${p.project.name}`}
        value={value}
        onValue={setValue}
        hint="Separated by commas; empty empties the project."
        error={error}
      />
      <button type="submit" class="primary">
        Save
      </button>{" "}
      <button type="button" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}
