// #/drivers/<name>/create: a form generated from the driver's schema, and
// the new cluster's progress as the watch stream reports it.

import { useEffect, useState } from "preact/hooks";

import { CheckboxField, FormError, SelectField, TextAreaField, TextField } from "../components/fields";
import { LoadError, Page } from "../components/page";
import { useNow } from "../components/time";
import { useClusterFeed } from "../lib/clusters";
import { checkDNSLabel, formMessage, placeError, useForm, type Errors } from "../lib/forms";
import { href } from "../lib/router";
import {
  buildConfig,
  errorFields,
  formFields,
  initialValues,
  type FormField,
  type FormValues,
} from "../lib/schemaform";
import { useServices } from "../lib/services";
import type { Cluster, DriverSchema } from "../lib/types";
import { ProvisioningSection } from "./cluster/status";

export function DriverCreate(p: { name: string }) {
  const { api, feed } = useServices();
  const fs = useClusterFeed(feed);
  const now = useNow(5000);
  const [schema, setSchema] = useState<DriverSchema | undefined>();
  const [fields, setFields] = useState<FormField[]>([]);
  const [values, setValues] = useState<FormValues>({});
  const [loadError, setLoadError] = useState("");
  const [name, setName] = useState("");
  const { errors, busy, submit: send } = useForm();
  const [created, setCreated] = useState<Cluster | undefined>();

  useEffect(() => {
    api
      .driverSchema(p.name)
      .then((s) => {
        const f = formFields(s);
        setSchema(s);
        setFields(f);
        setValues(initialValues(s, f));
      })
      .catch((err: unknown) => setLoadError(formMessage(err)));
  }, [api, p.name]);

  const set = (field: string, v: string | boolean) => setValues((old) => ({ ...old, [field]: v }));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!schema) {
      return;
    }
    const built = buildConfig(schema, fields, values);
    const errs: Errors = { ...built.errors };
    const badName = checkDNSLabel(name.trim(), "cluster name");
    if (badName) {
      errs["provision-name"] = badName;
    }
    await send(
      errs,
      async () => setCreated(await api.createDriverCluster(name.trim(), p.name, built.config)),
      (err) => placeError(err, errorFields(fields, "provision-name"), "provision-name"),
    );
  };

  const live = created ? fs.items.find((c) => c.id === created.id) : undefined;
  const progress = (live ?? created)?.provisioning;

  return (
    <Page title={`Create a cluster with ${p.name}`}>
      <p>
        <a href="#/drivers">All drivers</a>
      </p>
      {loadError ? <LoadError message={loadError} /> : null}
      {!schema && !loadError ? <p role="status">Reading the driver's schema…</p> : null}
      {schema ? (
        <form id="provision" class="card" onSubmit={submit} noValidate>
          <TextField
            id="provision-name"
            label="Cluster name"
            value={name}
            onValue={setName}
            required
            hint="A DNS label: lower-case letters, digits and -."
            error={errors["provision-name"]}
            disabled={created !== undefined}
          />
          {fields.length === 0 ? <p class="hint">This driver has no settings.</p> : null}
          {fields.map((f) => (
            <SchemaInput key={f.id} f={f} value={values[f.name]} onValue={(v) => set(f.name, v)} error={errors[f.id]} disabled={created !== undefined} />
          ))}
          <FormError id="provision" error={errors[""]} />
          <div class="actions">
            <button type="submit" id="provision-submit" class="primary" disabled={busy || created !== undefined}>
              {busy ? "Creating…" : "Create cluster"}
            </button>
          </div>
        </form>
      ) : null}
      {created ? (
        <>
          {progress ? (
            <ProvisioningSection p={progress} now={now} id="provision-progress" />
          ) : (
            <section class="card">
              <h2>Provisioning</h2>
              <p id="provision-progress" aria-live="polite">
                Started; waiting for the first report…
              </p>
            </section>
          )}
          <p>
            <a href={href("clusters", created.id)}>Open {created.name}</a>
          </p>
        </>
      ) : null}
    </Page>
  );
}

function SchemaInput(p: {
  f: FormField;
  value: string | boolean | undefined;
  onValue: (v: string | boolean) => void;
  error: string | undefined;
  disabled: boolean;
}) {
  const { f } = p;
  const hintParts = [f.description, f.defaultText !== "" ? `Default: ${f.defaultText}.` : ""];
  if (f.unknownType) {
    hintParts.push("(A type this console does not know: sent as text.)");
  }
  const hint = hintParts.filter((s) => s !== "").join(" ");
  const text = typeof p.value === "string" ? p.value : "";
  switch (f.kind) {
    case "checkbox":
      return (
        <CheckboxField id={f.id} label={f.label} checked={p.value === true} onChecked={p.onValue} hint={hint} error={p.error} disabled={p.disabled} />
      );
    case "tristate":
      return (
        <SelectField
          id={f.id}
          label={f.label}
          value={text}
          onValue={p.onValue}
          options={[
            { value: "", label: "not set (the driver decides)" },
            { value: "true", label: "yes" },
            { value: "false", label: "no" },
          ]}
          hint={hint}
          error={p.error}
          disabled={p.disabled}
        />
      );
    case "list":
      return (
        <TextAreaField
          id={f.id}
          label={`${f.label} (one per line)`}
          value={text}
          onValue={p.onValue}
          hint={hint}
          error={p.error}
          disabled={p.disabled}
        />
      );
    case "integer":
      return (
        <TextField id={f.id} label={f.label} value={text} onValue={p.onValue} inputMode="numeric" hint={hint} error={p.error} disabled={p.disabled} />
      );
    case "password":
      return (
        <TextField
          id={f.id}
          label={f.label}
          type="password"
          autocomplete="new-password"
          value={text}
          onValue={p.onValue}
          hint={hint}
          error={p.error}
          disabled={p.disabled}
        />
      );
    default:
      return <TextField id={f.id} label={f.label} value={text} onValue={p.onValue} hint={hint} error={p.error} disabled={p.disabled} />;
  }
}
