// The login session: GET /v3/users/me at start (401: show the login page),
// the CSRF token for state-changing calls, and logout. The session token is
// an HttpOnly cookie; nothing of it is kept here or in web storage.

import { ApiError, type Api } from "./api";
import { Store } from "./store";
import type { CookieLogin, Me } from "./types";

export type SessionState =
  | { status: "loading" }
  | { status: "anonymous"; notice?: string }
  | { status: "unreachable"; message: string }
  | { status: "user"; me: Me };

export class Session {
  readonly state = new Store<SessionState>({ status: "loading" });
  private csrf: string | undefined;
  private readonly api: Api;

  constructor(api: Api) {
    this.api = api;
    api.setHooks({
      csrfToken: () => this.csrf,
      refreshCsrf: async () => {
        await this.load();
        return this.csrf;
      },
      sessionEnded: () => this.ended("Your session has ended; log in again."),
    });
  }

  /** Reads who is logged in. */
  async load(): Promise<void> {
    try {
      const me = await this.api.me();
      this.csrf = me.csrfToken;
      this.state.set({ status: "user", me });
    } catch (err) {
      if (err instanceof ApiError && err.code === 401) {
        this.csrf = undefined;
        this.state.set({ status: "anonymous" });
        return;
      }
      this.state.set({
        status: "unreachable",
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** A password login succeeded. */
  loggedIn(res: CookieLogin): void {
    this.csrf = res.csrfToken;
    this.state.set({ status: "user", me: { ...res.user, csrfToken: res.csrfToken } });
    // groups and tokenId come with /v3/users/me.
    void this.load();
  }

  /**
   * Ends the session. Only an answer that it ended (204, or 401: it had
   * already) says "logged out"; any other failure leaves the session as it
   * is and throws, since the cookie may still log this browser in.
   */
  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 401)) {
        throw err;
      }
    }
    this.csrf = undefined;
    this.state.set({ status: "anonymous", notice: "You have logged out." });
  }

  ended(notice: string): void {
    if (this.state.get().status !== "user") {
      return;
    }
    this.csrf = undefined;
    this.state.set({ status: "anonymous", notice });
  }
}
