// The form for creating a cluster with a driver, generated from the
// driver's schema (GET /v3/drivers/{name}/schema, pkg/driver/schema): one
// input per field settable on create, and the config built back from what
// was typed, checked as the API will check it.

import type { DriverSchema, SchemaField } from "./types";

export type FieldKind = "text" | "password" | "checkbox" | "tristate" | "integer" | "list";

/** One generated input. */
export interface FormField {
  /** The config key, as the API names it. */
  name: string;
  /** The input's element id. */
  id: string;
  label: string;
  kind: FieldKind;
  description: string;
  /** The driver's default, as text for the hint ("" when none). */
  defaultText: string;
  /** The schema said nothing this console knows for it. */
  unknownType: boolean;
}

/** Form values: text for every kind but a plain checkbox. */
export type FormValues = Record<string, string | boolean>;

/** The id prefix of generated inputs; the cluster's name is provision-name. */
export const fieldIdPrefix = "provision-field-";

/** The inputs for schema's fields settable on create, in name order. */
export function formFields(schema: DriverSchema): FormField[] {
  const out: FormField[] = [];
  const entries = Object.entries(schema.resourceFields ?? {}).filter(([, f]) => f.create);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, f] of entries) {
    const kind = kindOf(f);
    out.push({
      name,
      id: fieldIdPrefix + name.replace(/[^A-Za-z0-9_-]/g, "-"),
      label: humanize(name),
      kind: kind ?? "text",
      description: f.description ?? "",
      defaultText: f.password ? "" : defaultText(f.default),
      unknownType: kind === undefined,
    });
  }
  return out;
}

function kindOf(f: SchemaField): FieldKind | undefined {
  switch (f.type) {
    case "string":
      return f.password ? "password" : "text";
    case "boolean":
      return f.nullable ? "tristate" : "checkbox";
    case "int":
      return "integer";
    case "array[string]":
      return "list";
  }
  return undefined;
}

function defaultText(d: unknown): string {
  if (d === undefined || d === null) {
    return "";
  }
  if (Array.isArray(d)) {
    return d.map(String).join(", ");
  }
  return String(d);
}

/** "diskSizeGb" → "Disk size gb"; "k8s-version" → "K8s version". */
export function humanize(name: string): string {
  const words = name
    .replace(/[-_]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The values the form starts with: the driver's defaults (never for passwords). */
export function initialValues(schema: DriverSchema, fields: FormField[]): FormValues {
  const values: FormValues = {};
  for (const f of fields) {
    const d = schema.resourceFields?.[f.name]?.default;
    switch (f.kind) {
      case "checkbox":
        values[f.name] = d === true;
        break;
      case "tristate":
        values[f.name] = d === true ? "true" : d === false ? "false" : "";
        break;
      case "list":
        values[f.name] = Array.isArray(d) ? d.map(String).join("\n") : "";
        break;
      case "password":
        values[f.name] = "";
        break;
      default:
        values[f.name] = d === undefined || d === null || typeof d === "object" ? "" : String(d);
    }
  }
  return values;
}

/** The config to send, or the errors by input id. */
export interface Built {
  config: Record<string, unknown>;
  errors: Record<string, string>;
}

const intRE = /^-?\d+$/;

/**
 * The config for POST /v3/clusters from the form's values: empty inputs are
 * left out (the driver's default, or no value for a nullable field), except
 * a list or text the person emptied where the driver has a default (sent
 * empty, so emptying means empty); passwords only when typed.
 */
export function buildConfig(schema: DriverSchema, fields: FormField[], values: FormValues): Built {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = values[f.name];
    const d = schema.resourceFields?.[f.name]?.default;
    switch (f.kind) {
      case "checkbox":
        config[f.name] = v === true;
        break;
      case "tristate":
        if (v === "true" || v === "false") {
          config[f.name] = v === "true";
        }
        break;
      case "integer": {
        const s = typeof v === "string" ? v.trim() : "";
        if (s === "") {
          break;
        }
        if (!intRE.test(s) || !Number.isSafeInteger(Number(s))) {
          errors[f.id] = `${f.label} must be a whole number.`;
          break;
        }
        config[f.name] = Number(s);
        break;
      }
      case "list": {
        const items = (typeof v === "string" ? v : "")
          .split("\n")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        if (items.length > 0 || (Array.isArray(d) && d.length > 0)) {
          config[f.name] = items;
        }
        break;
      }
      case "password":
        if (typeof v === "string" && v !== "") {
          config[f.name] = v;
        }
        break;
      default: {
        const s = typeof v === "string" ? v : "";
        if (s !== "" || (typeof d === "string" && d !== "")) {
          config[f.name] = s;
        }
      }
    }
  }
  return { config, errors };
}

/** The API field names of the form (config.<name>, name) → input ids, for placeError. */
export function errorFields(fields: FormField[], nameId: string): Record<string, string> {
  const out: Record<string, string> = { name: nameId };
  for (const f of fields) {
    out[`config.${f.name}`] = f.id;
    out[f.name] = f.id;
  }
  return out;
}
