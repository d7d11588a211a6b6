// Auth providers: the configured LDAP/AD, OIDC and GitHub providers, and a
// form to add or change one. Secrets are write-only: the server never sends
// them (only "set"/"unset"), and the form never shows one.

import { useEffect, useState } from "preact/hooks";

import { ConfirmButton } from "../../components/confirm";
import { CheckboxField, FormError, SelectField, Status, TextAreaField, TextField } from "../../components/fields";
import { DateTime } from "../../components/time";
import { Table } from "../../components/table";
import { checkProviderName, formMessage, placeError, useForm, useListActions, type Errors } from "../../lib/forms";
import {
  emptyProviderForm,
  providerBody,
  providerErrorFields,
  providerFieldId,
  providerFields,
  providerFormOf,
  providerTypes,
  type ProviderField,
  type ProviderFormState,
} from "../../lib/providerform";
import { useServices } from "../../lib/services";
import type { AuthProvider } from "../../lib/types";

const typeLabel: Record<string, string> = { ldap: "LDAP / Active Directory", oidc: "OpenID Connect", github: "GitHub" };

function endpoint(p: AuthProvider): string {
  const c = p.config ?? {};
  for (const k of ["url", "issuerURL", "baseURL"]) {
    const v = c[k];
    if (typeof v === "string" && v !== "") {
      return v;
    }
  }
  return p.type === "github" ? "github.com" : "";
}

export function Providers() {
  const { api } = useServices();
  const [list, setList] = useState<AuthProvider[] | undefined>();
  const [loadError, setLoadError] = useState("");
  const { said, setSaid, listError, act } = useListActions();
  const [form, setForm] = useState<ProviderFormState>(() => emptyProviderForm());
  /** The stored provider being edited; undefined: a new one. */
  const [editing, setEditing] = useState<AuthProvider | undefined>();
  const { errors, setErrors, busy, submit } = useForm();

  const load = async () => {
    try {
      setList((await api.authProviders()).items ?? []);
      setLoadError("");
    } catch (err) {
      setLoadError(formMessage(err));
    }
  };
  useEffect(() => {
    void load();
  }, [api]);

  const edit = (p: AuthProvider) => {
    setEditing(p);
    setForm(providerFormOf(p));
    setErrors({});
    setSaid("");
    document.getElementById("provider-form-title")?.focus();
  };
  const reset = () => {
    setEditing(undefined);
    setForm(emptyProviderForm());
    setErrors({});
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const body = providerBody(form, editing?.secrets ?? null);
    const errs: Errors = { ...body.errors };
    if (!editing) {
      const bad = checkProviderName(form.name.trim());
      if (bad) {
        errs["provider-name"] = bad;
      } else if (list?.some((x) => x.name === form.name.trim())) {
        errs["provider-name"] = `A provider named ${form.name.trim()} exists; choose Edit in its row to change it.`;
      }
    }
    await submit(
      errs,
      async () => {
        const saved = await api.saveAuthProvider(form.name.trim(), form.type, body.config, body.clearSecrets);
        setSaid(`Provider ${saved.name} was saved.`);
        reset();
        await load();
      },
      (err) => placeError(err, providerErrorFields(form.type)),
    );
  };

  const remove = (p: AuthProvider) =>
    act(async () => {
      const res = await api.deleteAuthProvider(p.name);
      setSaid(`Provider ${p.name} was deleted; ${res.disabledUsers} of its users were disabled.`);
      if (editing?.name === p.name) {
        reset();
      }
      await load();
    });

  const setValue = (key: string, v: string | boolean) => setForm((f) => ({ ...f, values: { ...f.values, [key]: v } }));
  const setClear = (key: string, v: boolean) => setForm((f) => ({ ...f, clear: { ...f.clear, [key]: v } }));

  return (
    <section class="card" aria-labelledby="providers-title">
      <h2 id="providers-title">Auth providers</h2>
      <Status id="providers-status">{said}</Status>
      <FormError id="providers" error={listError} />
      {loadError ? (
        <p class="error-box" role="alert">
          {loadError}
        </p>
      ) : null}
      {list !== undefined && list.length === 0 ? <p>No auth providers: only local users can log in.</p> : null}
      {list !== undefined && list.length > 0 ? (
        <Table id="auth-providers" caption="Auth providers" columns={["Name", "Type", "Endpoint", "Secrets", "Changed"]} actions>
          {list.map((p) => (
            <tr key={p.name} data-provider={p.name}>
              <th scope="row">{p.name}</th>
              <td>{typeLabel[p.type] ?? p.type}</td>
              <td class="wrap">{endpoint(p)}</td>
              <td>
                {Object.entries(p.secrets ?? {})
                  .map(([k, v]) => `${k}: ${v}`)
                  .join(", ")}
              </td>
              <td>
                <DateTime iso={p.updatedAt} />
              </td>
              <td class="row-actions">
                <button type="button" class="provider-edit" aria-label={`Edit ${p.name}`} onClick={() => edit(p)}>
                  Edit
                </button>
                <ConfirmButton
                  label="Delete"
                  ariaLabel={`Delete ${p.name}`}
                  className="provider-delete"
                  confirmClassName="provider-delete-confirm"
                  question={`Delete ${p.name}? Its users are disabled and all their tokens deleted.`}
                  confirmLabel="Delete provider"
                  onConfirm={() => remove(p)}
                />
              </td>
            </tr>
          ))}
        </Table>
      ) : null}

      <h3 id="provider-form-title" tabIndex={-1}>
        {editing ? `Edit ${editing.name}` : "New auth provider"}
      </h3>
      <form id="provider" onSubmit={save} noValidate>
        <TextField
          id="provider-name"
          label="Name"
          value={form.name}
          onValue={(v) => setForm((f) => ({ ...f, name: v }))}
          required
          disabled={editing !== undefined}
          hint="1–32 of a–z, 0–9 and -, starting with a letter; it prefixes the users' names and groups (corp:alice)."
          error={errors["provider-name"]}
        />
        <SelectField
          id="provider-type"
          label="Type"
          value={form.type}
          onValue={(v) => setForm((f) => ({ ...f, type: v, values: {}, clear: {}, extra: {} }))}
          options={providerTypes.map((t) => ({ value: t, label: typeLabel[t] ?? t }))}
          hint={editing ? "Changing the type or the endpoint means sending the secret again." : undefined}
          error={errors["provider-type"]}
        />
        {(providerFields[form.type] ?? []).map((f) => (
          <ProviderInput
            key={`${form.type}-${f.key}`}
            f={f}
            value={form.values[f.key]}
            onValue={(v) => setValue(f.key, v)}
            stored={editing?.secrets?.[f.key]}
            clear={form.clear[f.key] === true}
            onClear={(v) => setClear(f.key, v)}
            error={errors[providerFieldId(f.key)]}
          />
        ))}
        <FormError id="provider" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="provider-save" class="primary" disabled={busy}>
            {busy ? "Saving…" : editing ? "Save changes" : "Add provider"}
          </button>
          {editing ? (
            <button type="button" onClick={reset}>
              Cancel
            </button>
          ) : null}
        </div>
      </form>
    </section>
  );
}

function ProviderInput(p: {
  f: ProviderField;
  value: string | boolean | undefined;
  onValue: (v: string | boolean) => void;
  stored: string | undefined;
  clear: boolean;
  onClear: (v: boolean) => void;
  error: string | undefined;
}) {
  const { f } = p;
  const id = providerFieldId(f.key);
  const text = typeof p.value === "string" ? p.value : "";
  switch (f.kind) {
    case "bool":
      return <CheckboxField id={id} label={f.label} checked={p.value === true} onChecked={p.onValue} hint={f.hint} error={p.error} />;
    case "pem":
      return <TextAreaField id={id} label={f.label} value={text} onValue={p.onValue} rows={3} hint={f.hint} error={p.error} />;
    case "list":
      return (
        <TextAreaField id={id} label={`${f.label} (one per line)`} value={text} onValue={p.onValue} rows={3} hint={f.hint} error={p.error} />
      );
    case "secret": {
      const isSet = p.stored === "set";
      return (
        <div class="secret-field">
          <TextField
            id={id}
            label={f.label}
            type="password"
            autocomplete="new-password"
            value={text}
            onValue={p.onValue}
            hint={
              isSet
                ? "A value is stored (never shown). Leave empty to keep it, or type a new one."
                : "Not shown again once saved."
            }
            error={p.error}
          />
          {isSet ? (
            <CheckboxField id={`${id}-clear`} label={`Remove the stored ${f.label.toLowerCase()}`} checked={p.clear} onChecked={p.onClear} />
          ) : null}
        </div>
      );
    }
    default:
      return (
        <TextField
          id={id}
          label={f.label}
          type={f.kind === "url" ? "url" : "text"}
          value={text}
          onValue={p.onValue}
          required={f.required === true}
          hint={f.hint}
          error={p.error}
        />
      );
  }
}
