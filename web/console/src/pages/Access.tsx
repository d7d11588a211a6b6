// #/access (admins): users, bindings, projects and auth providers. The
// lists the sections share (users, clusters, projects) are read here once
// and again after a change.

import { useEffect, useState } from "preact/hooks";

import { LoadError, Page } from "../components/page";
import { formMessage } from "../lib/forms";
import { useServices } from "../lib/services";
import type { Cluster, List, Me, Project, User } from "../lib/types";
import { Bindings } from "./access/Bindings";
import { Projects } from "./access/Projects";
import { Providers } from "./access/Providers";
import { Users } from "./access/Users";

export interface Directory {
  users: User[];
  clusters: Cluster[];
  /** Projects by cluster id. */
  projects: Record<string, Project[]>;
}

export function Access(p: { me: Me }) {
  const { api } = useServices();
  const [dir, setDir] = useState<Directory | undefined>();
  const [loadError, setLoadError] = useState("");

  const load = async () => {
    try {
      const [users, clusters] = await Promise.all([api.users(), api.get<List<Cluster>>("/v3/clusters")]);
      const cs = clusters.items ?? [];
      const projects: Record<string, Project[]> = {};
      await Promise.all(
        cs.map(async (c) => {
          try {
            projects[c.id] = (await api.projects(c.id)).items ?? [];
          } catch {
            projects[c.id] = [];
          }
        }),
      );
      setDir({ users: users.items ?? [], clusters: cs, projects });
      setLoadError("");
    } catch (err) {
      setLoadError(formMessage(err));
    }
  };

  useEffect(() => {
    void load();
  }, [api]);

  return (
    <Page title="Access">
      <nav class="toc" aria-label="Sections">
        <ul>
          <li>
            <a href="#/access" onClick={jump("users-title")}>
              Users
            </a>
          </li>
          <li>
            <a href="#/access" onClick={jump("bindings-title")}>
              Bindings
            </a>
          </li>
          <li>
            <a href="#/access" onClick={jump("projects-title")}>
              Projects
            </a>
          </li>
          <li>
            <a href="#/access" onClick={jump("providers-title")}>
              Auth providers
            </a>
          </li>
        </ul>
      </nav>
      {loadError ? <LoadError message={loadError} /> : null}
      {!dir && !loadError ? <p role="status">Loading…</p> : null}
      {dir ? (
        <>
          <Users me={p.me} users={dir.users} reload={load} />
          <Bindings dir={dir} reload={load} />
          <Projects dir={dir} reload={load} />
        </>
      ) : null}
      <Providers />
    </Page>
  );
}

/** A link within the page that must not change the route: it moves focus to the heading. */
function jump(id: string) {
  return (e: Event) => {
    e.preventDefault();
    const el = document.getElementById(id);
    if (el) {
      el.setAttribute("tabindex", "-1");
      el.focus();
      el.scrollIntoView();
    }
  };
}
