import { describe, expect, it } from "vitest";

import { buildConfig, errorFields, formFields, humanize, initialValues } from "./schemaform";
import type { DriverSchema } from "./types";

const schema: DriverSchema = {
  driver: "gke",
  resourceFields: {
    diskSizeGb: { type: "int", default: 100, description: "Size of the disk", create: true, update: true, flag: "disk-size-gb", flagType: "int" },
    region: { type: "string", default: "europe-west1", create: true, update: false, flag: "region", flagType: "string" },
    description: { type: "string", create: true, update: true, flag: "description", flagType: "string" },
    serviceAccountKey: { type: "string", password: true, default: "never-shown", create: true, update: true, flag: "service-account-key", flagType: "string" },
    enableAlpha: { type: "boolean", default: false, create: true, update: false, flag: "enable-alpha", flagType: "bool" },
    autoRepair: { type: "boolean", nullable: true, create: true, update: true, flag: "auto-repair", flagType: "boolPtr" },
    maxNodes: { type: "int", nullable: true, create: true, update: true, flag: "max-nodes", flagType: "intPtr" },
    labels: { type: "array[string]", default: ["team=web"], create: true, update: true, flag: "labels", flagType: "stringSlice" },
    zones: { type: "array[string]", create: true, update: true, flag: "zones", flagType: "stringSlice" },
    nodeCount: { type: "int", create: false, update: true, flag: "node-count", flagType: "int" },
    future: { type: "map[string]", create: true, update: true, flag: "future", flagType: "map" },
  },
};

describe("formFields", () => {
  const fields = formFields(schema);
  it("has one input per field settable on create, in name order", () => {
    expect(fields.map((f) => [f.name, f.kind, f.id])).toEqual([
      ["autoRepair", "tristate", "provision-field-autoRepair"],
      ["description", "text", "provision-field-description"],
      ["diskSizeGb", "integer", "provision-field-diskSizeGb"],
      ["enableAlpha", "checkbox", "provision-field-enableAlpha"],
      ["future", "text", "provision-field-future"],
      ["labels", "list", "provision-field-labels"],
      ["maxNodes", "integer", "provision-field-maxNodes"],
      ["region", "text", "provision-field-region"],
      ["serviceAccountKey", "password", "provision-field-serviceAccountKey"],
      ["zones", "list", "provision-field-zones"],
    ]);
  });
  it("marks types it does not know, and never shows a password's default", () => {
    expect(fields.find((f) => f.name === "future")?.unknownType).toBe(true);
    expect(fields.find((f) => f.name === "serviceAccountKey")?.defaultText).toBe("");
    expect(fields.find((f) => f.name === "labels")?.defaultText).toBe("team=web");
  });
  it("makes ids safe from odd names", () => {
    const odd = formFields({ driver: "x", resourceFields: { "a b\"c": { type: "string", create: true, update: false, flag: "x", flagType: "string" } } });
    expect(odd[0]?.id).toBe("provision-field-a-b-c");
  });
  it("takes a schema without fields", () => {
    expect(formFields({ driver: "x", resourceFields: null })).toEqual([]);
  });
});

describe("initialValues", () => {
  it("starts from the defaults, passwords empty", () => {
    const fields = formFields(schema);
    expect(initialValues(schema, fields)).toEqual({
      autoRepair: "",
      description: "",
      diskSizeGb: "100",
      enableAlpha: false,
      future: "",
      labels: "team=web",
      maxNodes: "",
      region: "europe-west1",
      serviceAccountKey: "",
      zones: "",
    });
  });
});

describe("buildConfig", () => {
  const fields = formFields(schema);
  const base = initialValues(schema, fields);
  const cases: { name: string; change: Record<string, string | boolean>; config: Record<string, unknown>; errors: Record<string, string> }[] = [
    {
      name: "the defaults as they are",
      change: {},
      config: { diskSizeGb: 100, enableAlpha: false, labels: ["team=web"], region: "europe-west1" },
      errors: {},
    },
    {
      name: "everything typed",
      change: {
        autoRepair: "false",
        description: "prod",
        diskSizeGb: " 200 ",
        enableAlpha: true,
        labels: "a=b\n\n c=d ",
        maxNodes: "5",
        serviceAccountKey: "s3cret",
        zones: "z1\nz2",
      },
      config: {
        autoRepair: false,
        description: "prod",
        diskSizeGb: 200,
        enableAlpha: true,
        labels: ["a=b", "c=d"],
        maxNodes: 5,
        region: "europe-west1",
        serviceAccountKey: "s3cret",
        zones: ["z1", "z2"],
      },
      errors: {},
    },
    {
      name: "emptied fields: a default list and string are sent empty, a number left out",
      change: { labels: "", region: "", diskSizeGb: "" },
      config: { enableAlpha: false, labels: [], region: "" },
      errors: {},
    },
    {
      name: "numbers that are not whole",
      change: { diskSizeGb: "1.5", maxNodes: "ten" },
      config: { enableAlpha: false, labels: ["team=web"], region: "europe-west1" },
      errors: {
        "provision-field-diskSizeGb": "Disk size gb must be a whole number.",
        "provision-field-maxNodes": "Max nodes must be a whole number.",
      },
    },
    {
      name: "a number past what JSON keeps exactly",
      change: { diskSizeGb: "9007199254740993" },
      config: { enableAlpha: false, labels: ["team=web"], region: "europe-west1" },
      errors: { "provision-field-diskSizeGb": "Disk size gb must be a whole number." },
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const got = buildConfig(schema, fields, { ...base, ...tc.change });
      expect(got.config).toEqual(tc.config);
      expect(got.errors).toEqual(tc.errors);
    });
  }
});

describe("errorFields", () => {
  it("maps config.<field>, <field> and name", () => {
    const fields = formFields({ driver: "x", resourceFields: { etcdQuotaMb: { type: "int", create: true, update: false, flag: "etcd-quota-mb", flagType: "int" } } });
    expect(errorFields(fields, "provision-name")).toEqual({
      name: "provision-name",
      "config.etcdQuotaMb": "provision-field-etcdQuotaMb",
      etcdQuotaMb: "provision-field-etcdQuotaMb",
    });
  });
});

describe("humanize", () => {
  it.each([
    ["diskSizeGb", "Disk size gb"],
    ["k8s-version", "K8s version"],
    ["etcdQuotaMb", "Etcd quota mb"],
    ["x", "X"],
  ])("%s → %s", (name, want) => {
    expect(humanize(name)).toBe(want);
  });
});
