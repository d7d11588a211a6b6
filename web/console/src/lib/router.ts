// Hash routing: the server serves only /, /index.html and /assets/..., so
// every page lives in the fragment (/#/clusters/c-x7k2p).

import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** The path after "#", without the query: "/clusters/c-x7k2p". */
  path: string;
  /** Its decoded segments: ["clusters", "c-x7k2p"]. */
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  let h = hash.startsWith("#") ? hash.slice(1) : hash;
  if (h === "") {
    h = "/";
  }
  const q = h.indexOf("?");
  const path = q >= 0 ? h.slice(0, q) : h;
  const query = new URLSearchParams(q >= 0 ? h.slice(q + 1) : "");
  const parts = path
    .split("/")
    .filter((p) => p !== "")
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { path, parts, query };
}

export function currentRoute(): Route {
  return parseHash(window.location.hash);
}

/** The route, following hash changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** Goes to path ("/clusters"); replace keeps the history entry. */
export function navigate(path: string, replace = false): void {
  const hash = "#" + path;
  if (replace) {
    const url = new URL(window.location.href);
    url.hash = hash;
    window.history.replaceState(null, "", url);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = hash;
  }
}

/** The href of a page: "#/clusters/" + the id, encoded. */
export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

/** path with the non-empty parameters as its query: "/audit?user=bob". */
export function withQueryString(path: string, params: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== "") {
      q.set(k, v);
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
