// #/audit: recent audit entries, newest first, filtered by user, cluster,
// verb and status. The filters live in the route (#/audit?user=bob), so a
// filtered view can be bookmarked.

import { useEffect, useState } from "preact/hooks";

import { FormError, SelectField, TextField } from "../components/fields";
import { LoadError, Page } from "../components/page";
import { DateTime } from "../components/time";
import { Table } from "../components/table";
import { formMessage, placeError, type Errors } from "../lib/forms";
import { navigate, withQueryString } from "../lib/router";
import { useServices } from "../lib/services";
import type { AuditEntry } from "../lib/types";

const filterNames = ["user", "cluster", "verb", "status", "limit"] as const;
type Filters = Record<(typeof filterNames)[number], string>;

function filtersOf(q: URLSearchParams): Filters {
  return {
    user: q.get("user") ?? "",
    cluster: q.get("cluster") ?? "",
    verb: q.get("verb") ?? "",
    status: q.get("status") ?? "",
    limit: q.get("limit") ?? "100",
  };
}

/** Mirrors what the filters can mean: a status is a code such as 403 (or a class such as 4xx). */
export function checkAuditFilters(f: Filters): Errors {
  const errs: Errors = {};
  if (f.status !== "" && !/^[1-5](\d\d|xx)$/.test(f.status)) {
    errs["audit-status"] = "Enter an HTTP status such as 403 (or a class such as 4xx), or leave it empty.";
  }
  if (f.cluster !== "" && /\s/.test(f.cluster)) {
    errs["audit-cluster"] = "A cluster id has no spaces, e.g. c-x7k2p.";
  }
  return errs;
}

function what(e: AuditEntry): string {
  if (e.resource) {
    const ns = e.namespace ? `${e.namespace}/` : "";
    return `${e.resource} ${ns}${e.name ?? ""}`.trim();
  }
  return e.path ?? "";
}

export function Audit(p: { query: URLSearchParams }) {
  const { api } = useServices();
  const applied = filtersOf(p.query);
  const key = filterNames.map((n) => applied[n]).join("\u0000");
  const [form, setForm] = useState<Filters>(applied);
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [errors, setErrors] = useState<Errors>({});
  const [loadError, setLoadError] = useState("");
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    setForm(applied);
    let gone = false;
    setLoading(true);
    api
      .audit(applied)
      .then((l) => {
        if (!gone) {
          setEntries(l.items ?? []);
          setLoadError("");
        }
      })
      .catch((err: unknown) => {
        if (gone) {
          return;
        }
        const placed = placeError(err, {
          user: "audit-user",
          cluster: "audit-cluster",
          verb: "audit-verb",
          status: "audit-status",
          limit: "audit-limit",
        });
        if (placed[""] !== undefined) {
          setLoadError(formMessage(err));
          setErrors({});
        } else {
          setErrors(placed);
        }
      })
      .finally(() => !gone && setLoading(false));
    return () => {
      gone = true;
    };
  }, [key, api]);

  const apply = (e: Event) => {
    e.preventDefault();
    const f: Filters = {
      user: form.user.trim(),
      cluster: form.cluster.trim(),
      verb: form.verb.trim(),
      status: form.status.trim(),
      limit: form.limit,
    };
    const errs = checkAuditFilters(f);
    setErrors(errs);
    const first = Object.keys(errs)[0];
    if (first !== undefined) {
      document.getElementById(first)?.focus();
      return;
    }
    navigate(withQueryString("/audit", f));
  };

  const field = (n: keyof Filters) => (v: string) => setForm((old) => ({ ...old, [n]: v }));

  return (
    <Page title="Audit log">
      <form id="audit-filters" class="card filters" onSubmit={apply} noValidate>
        <TextField id="audit-user" label="User" value={form.user} onValue={field("user")} error={errors["audit-user"]} />
        <TextField
          id="audit-cluster"
          label="Cluster id"
          value={form.cluster}
          onValue={field("cluster")}
          placeholder="c-x7k2p"
          error={errors["audit-cluster"]}
        />
        <TextField
          id="audit-verb"
          label="Verb"
          value={form.verb}
          onValue={field("verb")}
          placeholder="delete"
          error={errors["audit-verb"]}
        />
        <TextField
          id="audit-status"
          label="Status"
          value={form.status}
          onValue={field("status")}
          placeholder="403"
          inputMode="numeric"
          error={errors["audit-status"]}
        />
        <SelectField
          id="audit-limit"
          label="Show"
          value={form.limit}
          onValue={field("limit")}
          options={["50", "100", "500"].map((n) => ({ value: n, label: `${n} entries` }))}
          error={errors["audit-limit"]}
        />
        <FormError id="audit-filters" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="audit-apply" class="primary">
            Apply filters
          </button>
        </div>
      </form>
      <p class="status" role="status" aria-live="polite">
        {loading ? "Loading…" : entries !== undefined ? `${entries.length} entries, newest first.` : ""}
      </p>
      {loadError ? <LoadError message={loadError} /> : null}
      {entries !== undefined && entries.length > 0 ? (
        <Table id="audit" caption="Audit entries, newest first" columns={["Time", "User", "Cluster", "Verb", "What", "Status", "Latency", "Client"]}>
          {entries.map((e, i) => (
            <tr key={`${e.time}-${i}`} class="audit-entry">
              <td>
                <DateTime iso={e.time} />
              </td>
              <td>
                {e.user ?? ""}
                {e.as ? <span class="muted"> as {e.as}</span> : null}
              </td>
              <td>{e.cluster ?? ""}</td>
              <td>{e.verb}</td>
              <td class="wrap">{what(e)}</td>
              <td class={e.status >= 400 ? "error-text" : undefined}>{String(e.status)}</td>
              <td>{`${Math.round(e.latencyMs)} ms`}</td>
              <td>{e.client}</td>
            </tr>
          ))}
        </Table>
      ) : null}
    </Page>
  );
}
