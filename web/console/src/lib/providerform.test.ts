import { describe, expect, it } from "vitest";

import { emptyProviderForm, providerBody, providerFormOf } from "./providerform";
import type { AuthProvider } from "./types";

const stored: AuthProvider = {
  name: "corp",
  type: "ldap",
  config: { url: "ldaps://ldap.example.org", bindDN: "cn=drover", userBaseDN: "ou=people", maxNestingDepth: 5, timeout: "10s", startTLS: false },
  secrets: { bindPassword: "set" },
  createdAt: "2026-12-07T10:00:00Z",
  updatedAt: "2026-12-07T10:00:00Z",
};

describe("providerFormOf", () => {
  it("fills the form from the stored config, never a secret", () => {
    const f = providerFormOf(stored);
    expect(f.values["bindPassword"]).toBe("");
    expect(f.values["url"]).toBe("ldaps://ldap.example.org");
    expect(f.values["maxNestingDepth"]).toBe("5");
    expect(f.values["startTLS"]).toBe(false);
  });
});

describe("providerBody", () => {
  it("keeps the stored secret by leaving it out", () => {
    const b = providerBody(providerFormOf(stored), stored.secrets);
    expect(b.errors).toEqual({});
    expect(b.clearSecrets).toEqual([]);
    expect(b.config).toEqual({ url: "ldaps://ldap.example.org", bindDN: "cn=drover", userBaseDN: "ou=people", maxNestingDepth: 5, timeout: "10s" });
  });

  it("sends a new secret, or clears the stored one, not both", () => {
    const f = providerFormOf(stored);
    expect(providerBody({ ...f, values: { ...f.values, bindPassword: "n3w" } }, stored.secrets).config["bindPassword"]).toBe("n3w");
    expect(providerBody({ ...f, clear: { bindPassword: true } }, stored.secrets).clearSecrets).toEqual(["bindPassword"]);
    const both = providerBody({ ...f, values: { ...f.values, bindPassword: "n3w" }, clear: { bindPassword: true } }, stored.secrets);
    expect(Object.keys(both.errors)).toEqual(["provider-bindPassword"]);
  });

  it("names the required and malformed fields", () => {
    const f = emptyProviderForm("oidc");
    const b = providerBody({ ...f, values: { issuerURL: "not a url", scopes: "openid, email\ngroups", timeout: "soon" } }, null);
    expect(b.errors).toEqual({
      "provider-issuerURL": "Issuer URL must be a URL.",
      "provider-clientID": "Client id is required.",
      "provider-redirectURL": "Redirect URL is required.",
      "provider-timeout": 'Timeout must be a duration such as "10s".',
    });
    expect(b.config["scopes"]).toEqual(["openid", "email", "groups"]);
  });

  it("asks a new GitHub provider for its client secret", () => {
    const f = emptyProviderForm("github");
    const b = providerBody({ ...f, values: { clientID: "id", redirectURL: "https://d.example/v3/login/gh/callback" } }, null);
    expect(Object.keys(b.errors)).toEqual(["provider-clientSecret"]);
  });
});
