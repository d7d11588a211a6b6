// The console's frame: the session decides between the login page and the
// layout (header, navigation, the page of the route).

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

import { Page } from "./components/page";
import { useServices } from "./lib/services";
import { useStore } from "./lib/store";
import { navigate, useRoute, type Route } from "./lib/router";
import type { Me } from "./lib/types";
import { Access } from "./pages/Access";
import { Audit } from "./pages/Audit";
import { ClusterDetail } from "./pages/ClusterDetail";
import { Clusters } from "./pages/Clusters";
import { DriverCreate } from "./pages/DriverCreate";
import { Drivers } from "./pages/Drivers";
import { Import } from "./pages/Import";
import { Login } from "./pages/Login";
import { Tokens } from "./pages/Tokens";

export function App() {
  const { session, feed } = useServices();
  const state = useStore(session.state);
  const route = useRoute();

  useEffect(() => {
    if (state.status === "anonymous") {
      feed.stop();
      if (route.parts[0] !== "login") {
        const next = route.path !== "/" ? `?next=${encodeURIComponent(route.path)}` : "";
        navigate(`/login${next}`, true);
      }
    }
    if (state.status === "user" && (route.parts.length === 0 || route.parts[0] === "login")) {
      navigate("/clusters", true);
    }
  }, [state.status, route.path]);

  switch (state.status) {
    case "loading":
      return (
        <main id="main" class="centered">
          <p role="status">Loading…</p>
        </main>
      );
    case "unreachable":
      return (
        <main id="main" class="centered">
          <h1>Drover cannot be reached</h1>
          <p role="alert">{state.message}</p>
          <button type="button" class="primary" onClick={() => void session.load()}>
            Try again
          </button>
        </main>
      );
    case "anonymous":
      return <Login notice={state.notice} />;
    case "user":
      return <Layout me={state.me} route={route} />;
  }
}

interface NavItem {
  href: string;
  label: string;
  admin: boolean;
  section: string;
}

const nav: NavItem[] = [
  { href: "#/clusters", label: "Clusters", admin: false, section: "clusters" },
  { href: "#/import", label: "Import", admin: true, section: "import" },
  { href: "#/tokens", label: "Tokens", admin: false, section: "tokens" },
  { href: "#/access", label: "Access", admin: true, section: "access" },
  { href: "#/drivers", label: "Drivers", admin: false, section: "drivers" },
  { href: "#/audit", label: "Audit", admin: true, section: "audit" },
];

function Layout(p: { me: Me; route: Route }) {
  const { session, feed } = useServices();
  const fs = useStore(feed.state);
  const section = p.route.parts[0] ?? "clusters";
  const [logoutError, setLogoutError] = useState("");
  const logout = async () => {
    setLogoutError("");
    try {
      await session.logout();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      setLogoutError(`You are still logged in: logging out failed (${why}). Try again.`);
    }
  };
  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Drover</span>
        <nav aria-label="Main">
          <ul>
            {nav
              .filter((n) => !n.admin || p.me.admin)
              .map((n) => (
                <li key={n.href}>
                  <a href={n.href} aria-current={section === n.section ? "page" : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
          </ul>
        </nav>
        <div class="user">
          <span class="visually-hidden">Logged in as </span>
          <span id="whoami">{p.me.username}</span>
          {p.me.admin ? <span class="tag">admin</span> : null}
          <button type="button" id="logout" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <div class="banner-region">
        {logoutError ? (
          <p id="logout-error" class="banner" role="alert">
            {logoutError}
          </p>
        ) : null}
      </div>
      <div class="banner-region" role="status" aria-live="polite">
        {fs.interrupted && !fs.live ? (
          <p id="live-banner" class="banner">
            Live updates are interrupted; reconnecting… What is shown may be out of date.
          </p>
        ) : null}
      </div>
      <main id="main" tabIndex={-1}>
        <Routed me={p.me} route={p.route} key={p.route.path} />
      </main>
    </>
  );
}

function Routed(p: { me: Me; route: Route }) {
  const [a, b, c] = p.route.parts;
  const adminOnly = (page: ComponentChildren, title: string) =>
    p.me.admin ? (
      page
    ) : (
      <Page title={title}>
        <p class="error-box" role="alert">
          Only Drover admins may use this page.
        </p>
      </Page>
    );
  switch (a) {
    case undefined:
    case "login":
    case "clusters":
      if (a === "clusters" && b !== undefined) {
        return <ClusterDetail id={b} me={p.me} />;
      }
      return <Clusters me={p.me} />;
    case "import":
      return adminOnly(<Import />, "Import a cluster");
    case "tokens":
      return <Tokens me={p.me} />;
    case "access":
      return adminOnly(<Access me={p.me} />, "Access");
    case "drivers":
      if (b !== undefined && c === "create") {
        return adminOnly(<DriverCreate name={b} />, "Create a cluster");
      }
      return <Drivers me={p.me} />;
    case "audit":
      return adminOnly(<Audit query={p.route.query} />, "Audit log");
  }
  return (
    <Page title="Page not found">
      <p>
        There is no page at <code>#{p.route.path}</code>. <a href="#/clusters">Go to the clusters</a>.
      </p>
    </Page>
  );
}
