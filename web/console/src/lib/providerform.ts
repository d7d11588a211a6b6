// The auth provider form: each type's config fields (docs/auth-providers.md,
// the Config types of pkg/providers/{ldap,oidc,github}), the form's values
// from a stored config, and the PUT body back. Secret fields are
// write-only: never filled from the server (which never sends them), sent
// only when typed, removed only through clearSecrets.

import type { AuthProvider } from "./types";

export type ProviderFieldKind = "text" | "url" | "pem" | "bool" | "int" | "list" | "duration" | "secret";

export interface ProviderField {
  key: string;
  label: string;
  kind: ProviderFieldKind;
  required?: boolean;
  hint?: string;
}

export const providerTypes = ["ldap", "oidc", "github"] as const;

export const providerFields: Record<string, ProviderField[]> = {
  ldap: [
    { key: "url", label: "Server URL", kind: "url", required: true, hint: "ldaps://host[:636], or ldap:// with StartTLS." },
    { key: "startTLS", label: "Use StartTLS (ldap:// URLs)", kind: "bool" },
    { key: "insecureNoTLS", label: "Allow plain ldap:// without TLS (same host only)", kind: "bool" },
    { key: "caData", label: "CA (PEM)", kind: "pem", hint: "Empty: the system's roots." },
    { key: "serverName", label: "Server name to verify", kind: "text" },
    { key: "activeDirectory", label: "Active Directory", kind: "bool" },
    { key: "bindDN", label: "Bind DN", kind: "text", hint: "The account that searches; empty with no password: anonymous." },
    { key: "bindPassword", label: "Bind password", kind: "secret" },
    { key: "userBaseDN", label: "User base DN", kind: "text", required: true },
    { key: "userFilter", label: "User filter", kind: "text", hint: "Default (objectClass=person)." },
    { key: "usernameAttribute", label: "Username attribute", kind: "text", hint: "Default uid." },
    { key: "displayNameAttribute", label: "Display name attribute", kind: "text", hint: "Default cn." },
    { key: "disabledFilter", label: "Disabled filter", kind: "text", hint: "e.g. (pwdAccountLockedTime=*)." },
    { key: "groupBaseDN", label: "Group base DN", kind: "text" },
    { key: "groupFilter", label: "Group filter", kind: "text" },
    { key: "memberAttribute", label: "Member attribute", kind: "text" },
    { key: "maxNestingDepth", label: "Group nesting depth", kind: "int", hint: "At most 10." },
    { key: "timeout", label: "Timeout", kind: "duration", hint: 'e.g. "10s" (the default).' },
  ],
  oidc: [
    { key: "issuerURL", label: "Issuer URL", kind: "url", required: true, hint: "Exactly the issuer of its discovery document." },
    { key: "clientID", label: "Client id", kind: "text", required: true },
    { key: "clientSecret", label: "Client secret", kind: "secret" },
    { key: "redirectURL", label: "Redirect URL", kind: "url", required: true, hint: "https://<drover>/v3/login/<name>/callback" },
    { key: "scopes", label: "Scopes", kind: "list", hint: "e.g. openid, profile, email, groups, offline_access." },
    { key: "usernameClaim", label: "Username claim", kind: "text", hint: "Default email." },
    { key: "groupsClaim", label: "Groups claim", kind: "text" },
    { key: "insecureSkipEmailVerified", label: "Accept unverified emails", kind: "bool" },
    { key: "caData", label: "CA (PEM)", kind: "pem" },
    { key: "timeout", label: "Timeout", kind: "duration" },
  ],
  github: [
    { key: "clientID", label: "Client id", kind: "text", required: true },
    { key: "clientSecret", label: "Client secret", kind: "secret" },
    { key: "redirectURL", label: "Redirect URL", kind: "url", required: true, hint: "https://<drover>/v3/login/<name>/callback" },
    { key: "orgs", label: "Organisations", kind: "list", hint: "Only their members may log in; empty: any GitHub user." },
    { key: "scopes", label: "Scopes", kind: "list" },
    { key: "baseURL", label: "GitHub Enterprise URL", kind: "url", hint: "Empty: github.com." },
    { key: "caData", label: "CA (PEM)", kind: "pem" },
    { key: "timeout", label: "Timeout", kind: "duration" },
  ],
};

export function providerFieldId(key: string): string {
  return `provider-${key}`;
}

export interface ProviderFormState {
  name: string;
  type: string;
  values: Record<string, string | boolean>;
  /** Secret fields whose stored value is to be removed. */
  clear: Record<string, boolean>;
  /** Config keys this form does not know, kept as they were. */
  extra: Record<string, unknown>;
}

export function emptyProviderForm(type = "ldap"): ProviderFormState {
  return { name: "", type, values: {}, clear: {}, extra: {} };
}

/** The form for editing a stored provider: its config, secrets left empty. */
export function providerFormOf(p: AuthProvider): ProviderFormState {
  const fields = providerFields[p.type] ?? [];
  const known = new Set(fields.map((f) => f.key));
  const values: Record<string, string | boolean> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p.config ?? {})) {
    if (!known.has(k)) {
      extra[k] = v;
    }
  }
  for (const f of fields) {
    const v = p.config?.[f.key];
    switch (f.kind) {
      case "secret":
        values[f.key] = "";
        break;
      case "bool":
        values[f.key] = v === true;
        break;
      case "list":
        values[f.key] = Array.isArray(v) ? v.map(String).join("\n") : "";
        break;
      default:
        values[f.key] = v === undefined || v === null ? "" : String(v);
    }
  }
  return { name: p.name, type: p.type, values, clear: {}, extra };
}

export interface ProviderBody {
  config: Record<string, unknown>;
  clearSecrets: string[];
  errors: Record<string, string>;
}

const durationRE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * The PUT body from the form, or errors by input id. stored says which
 * secrets are set on the server (an existing provider), for the rule that a
 * new provider must be given its required secret.
 */
export function providerBody(s: ProviderFormState, stored: Record<string, string> | null): ProviderBody {
  const fields = providerFields[s.type] ?? [];
  const config: Record<string, unknown> = { ...s.extra };
  const clearSecrets: string[] = [];
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const id = providerFieldId(f.key);
    const v = s.values[f.key];
    const text = typeof v === "string" ? v.trim() : "";
    switch (f.kind) {
      case "bool":
        if (v === true) {
          config[f.key] = true;
        }
        break;
      case "int":
        if (text !== "") {
          if (!/^\d+$/.test(text)) {
            errors[id] = `${f.label} must be a whole number.`;
          } else {
            config[f.key] = Number(text);
          }
        }
        break;
      case "list": {
        const items = text
          .split(/[\n,]+/)
          .map((x) => x.trim())
          .filter((x) => x !== "");
        if (items.length > 0) {
          config[f.key] = items;
        }
        break;
      }
      case "duration":
        if (text !== "") {
          if (/^\d+$/.test(text)) {
            config[f.key] = Number(text); // as stored: nanoseconds
          } else if (durationRE.test(text)) {
            config[f.key] = text;
          } else {
            errors[id] = `${f.label} must be a duration such as "10s".`;
          }
        }
        break;
      case "secret": {
        const raw = typeof v === "string" ? v : "";
        if (raw !== "" && s.clear[f.key]) {
          errors[id] = `Either type a new ${f.label.toLowerCase()} or remove the stored one, not both.`;
        } else if (raw !== "") {
          config[f.key] = raw;
        } else if (s.clear[f.key]) {
          clearSecrets.push(f.key);
        }
        break;
      }
      case "url":
        if (text !== "") {
          try {
            new URL(text);
            config[f.key] = text;
          } catch {
            errors[id] = `${f.label} must be a URL.`;
          }
        }
        break;
      case "pem":
        if (text !== "") {
          if (!text.includes("-----BEGIN")) {
            errors[id] = `${f.label} must be PEM: -----BEGIN CERTIFICATE----- …`;
          } else {
            config[f.key] = typeof v === "string" ? v : "";
          }
        }
        break;
      default:
        if (text !== "") {
          config[f.key] = text;
        }
    }
    if (f.required && config[f.key] === undefined && errors[id] === undefined) {
      errors[id] = `${f.label} is required.`;
    }
  }
  if (s.type === "github" && config["clientSecret"] === undefined && stored?.["clientSecret"] !== "set") {
    errors[providerFieldId("clientSecret")] = "A GitHub OAuth app needs its client secret.";
  }
  return { config, clearSecrets, errors };
}

/** The API's field names (config.x and x) → input ids, for placeError. */
export function providerErrorFields(type: string): Record<string, string> {
  const out: Record<string, string> = { name: "provider-name", type: "provider-type" };
  for (const f of providerFields[type] ?? []) {
    out[`config.${f.key}`] = providerFieldId(f.key);
    out[f.key] = providerFieldId(f.key);
  }
  return out;
}
