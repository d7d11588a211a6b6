// #/login: a password form for local and LDAP/AD providers, a button for
// each redirect provider (OIDC, GitHub), and errors a person can act on.

import { useEffect, useState } from "preact/hooks";

import { SelectField, TextField } from "../components/fields";
import { ApiError } from "../lib/api";
import type { Errors } from "../lib/forms";
import { currentRoute, navigate } from "../lib/router";
import { useServices } from "../lib/services";
import type { LoginProvider } from "../lib/types";

const redirectTypes = new Set(["oidc", "github"]);

function isRedirect(p: LoginProvider | undefined): boolean {
  return p !== undefined && redirectTypes.has(p.type);
}

function providerLabel(p: LoginProvider): string {
  switch (p.type) {
    case "local":
      return "Drover user (local)";
    case "ldap":
      return `${p.name} (LDAP / Active Directory)`;
    case "oidc":
      return `${p.name} (OpenID Connect)`;
    case "github":
      return `${p.name} (GitHub)`;
  }
  return `${p.name} (${p.type})`;
}

/** The message for a failed login or redirect, with what to do about it. */
export function loginMessage(err: unknown, provider: LoginProvider | undefined): string {
  if (!(err instanceof ApiError)) {
    return err instanceof Error ? err.message : String(err);
  }
  const msg = sentence(err.message);
  switch (err.code) {
    case 0:
      return msg;
    case 401:
      return provider && provider.type !== "local"
        ? `${msg} Check both, and that "${provider.name}" is the provider your account belongs to.`
        : `${msg} Check both and try again; a directory (LDAP) account needs its provider chosen above.`;
    case 429:
      return err.retryAfter !== undefined
        ? `${msg} Too many attempts: try again in ${err.retryAfter} seconds.`
        : `${msg} Too many attempts: wait a minute before trying again.`;
    case 502:
    case 503:
    case 504:
      return `${msg} The login provider could not be reached; try again later, or log in with another provider.`;
  }
  return msg;
}

function sentence(s: string): string {
  const t = s.trim();
  if (t === "") {
    return "";
  }
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function Login(p: { notice?: string | undefined }) {
  const { api, session } = useServices();
  const [providers, setProviders] = useState<LoginProvider[]>([{ name: "local", type: "local" }]);
  const [provider, setProvider] = useState("local");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Errors>(() => {
    const e = currentRoute().query.get("error");
    return e ? { "": sentence(e) } : {};
  });
  const [busy, setBusy] = useState(false);
  const [waitUntil, setWaitUntil] = useState(0);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    document.title = "Log in · Drover";
    api
      .loginProviders()
      .then((list) => {
        const items = list.items ?? [];
        const local = items.filter((i) => i.name === "local");
        const rest = items.filter((i) => i.name !== "local");
        setProviders([...(local.length > 0 ? local : [{ name: "local", type: "local" }]), ...rest]);
      })
      .catch((err: unknown) => {
        setErrors((e) => ({
          ...e,
          "": `The list of login providers could not be read (${err instanceof Error ? err.message : String(err)}); only Drover's own users can log in now.`,
        }));
      });
  }, [api]);

  // While the server asks to wait (429), count down and keep the button off.
  useEffect(() => {
    if (waitUntil <= Date.now()) {
      return;
    }
    const t = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) {
        clearInterval(t);
      }
    }, 1000);
    return () => clearInterval(t);
  }, [waitUntil]);
  const waiting = waitUntil > now ? Math.ceil((waitUntil - now) / 1000) : 0;

  const selected = providers.find((x) => x.name === provider);
  const selectedRedirect = isRedirect(selected);

  const failed = (err: unknown, p: LoginProvider | undefined) => {
    if (err instanceof ApiError && err.code === 429) {
      const secs = err.retryAfter ?? 60;
      setWaitUntil(Date.now() + secs * 1000);
      setNow(Date.now());
    }
    setErrors({ "": loginMessage(err, p) });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Errors = {};
    if (username.trim() === "") {
      errs["login-username"] = "Enter your username.";
    }
    if (password === "") {
      errs["login-password"] = "Enter your password.";
    }
    setErrors(errs);
    if (Object.keys(errs).length > 0) {
      document.getElementById(Object.keys(errs)[0] ?? "")?.focus();
      return;
    }
    setBusy(true);
    try {
      const res = await api.login(provider, username, password);
      setPassword("");
      const next = currentRoute().query.get("next");
      session.loggedIn(res);
      navigate(next && next.startsWith("/") && !next.startsWith("/login") ? next : "/clusters", true);
    } catch (err) {
      setPassword("");
      failed(err, selected);
    } finally {
      setBusy(false);
    }
  };

  const redirect = async (p: LoginProvider) => {
    setBusy(true);
    setErrors({});
    try {
      const { authUrl } = await api.beginLogin(p.name);
      const u = new URL(authUrl, window.location.href);
      if (u.protocol !== "https:" && u.protocol !== "http:") {
        throw new Error("The provider's login address is not a web address.");
      }
      window.location.href = u.href;
    } catch (err) {
      failed(err, p);
      setBusy(false);
    }
  };

  const redirectProviders = providers.filter((x) => isRedirect(x) && (!selectedRedirect || x.name === provider));

  return (
    <main id="main" class="login">
      <h1>Log in to Drover</h1>
      {p.notice ? (
        <p class="notice" role="status">
          {p.notice}
        </p>
      ) : null}
      <form id="login" class="card" onSubmit={submit} noValidate>
        <SelectField
          id="login-provider"
          label="Log in with"
          value={provider}
          onValue={(v) => {
            setProvider(v);
            setErrors({});
          }}
          options={providers.map((x) => ({ value: x.name, label: providerLabel(x) }))}
        />
        {selectedRedirect ? null : (
          <>
            <TextField
              id="login-username"
              label="Username"
              value={username}
              onValue={setUsername}
              autocomplete="username"
              required
              error={errors["login-username"]}
            />
            <TextField
              id="login-password"
              label="Password"
              type="password"
              value={password}
              onValue={setPassword}
              autocomplete="current-password"
              required
              error={errors["login-password"]}
            />
          </>
        )}
        <div id="login-error-region">
          {errors[""] ? (
            <p id="login-error" class="field-error" role="alert">
              {errors[""]}
            </p>
          ) : null}
        </div>
        {waiting > 0 ? (
          <p class="hint" role="status">
            You can try again in {waiting} s.
          </p>
        ) : null}
        <div class="actions">
          {selectedRedirect ? null : (
            <button type="submit" id="login-submit" class="primary" disabled={busy || waiting > 0}>
              {busy ? "Logging in…" : "Log in"}
            </button>
          )}
          {redirectProviders.length > 0 ? (
            <div class="redirects" role="group" aria-label="Log in through another site">
              {selectedRedirect ? null : <span class="hint">or</span>}
              {redirectProviders.map((x) => (
                <button
                  type="button"
                  key={x.name}
                  id={`login-redirect-${x.name}`}
                  class={selectedRedirect ? "primary" : undefined}
                  disabled={busy || waiting > 0}
                  onClick={() => void redirect(x)}
                >
                  Log in with {x.name}
                </button>
              ))}
            </div>
          ) : null}
        </div>
      </form>
    </main>
  );
}
