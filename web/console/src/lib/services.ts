// What every page uses: the API client, the session and the live cluster
// list, made once in main.tsx and handed down through a context.

import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { Api } from "./api";
import type { ClusterFeed } from "./clusters";
import type { Session } from "./session";

export interface Services {
  api: Api;
  session: Session;
  feed: ClusterFeed;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const s = useContext(ServicesContext);
  if (!s) {
    throw new Error("useServices outside ServicesContext");
  }
  return s;
}
