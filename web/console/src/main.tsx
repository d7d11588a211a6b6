// The console's entry: one API client, session and live cluster list for
// the page's life, then the app.

import { render } from "preact";

import { App } from "./app";
import { Api } from "./lib/api";
import { ClusterFeed } from "./lib/clusters";
import { ServicesContext, type Services } from "./lib/services";
import { Session } from "./lib/session";
import "./styles/console.css";

const api = new Api();
const session = new Session(api);
const feed = new ClusterFeed(api, {
  sessionGone: () => session.ended("Your session has ended; log in again."),
});
const services: Services = { api, session, feed };

const root = document.getElementById("app");
if (root) {
  render(
    <ServicesContext.Provider value={services}>
      <App />
    </ServicesContext.Provider>,
    root,
  );
}
void session.load();
