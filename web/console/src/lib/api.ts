// Every call the console makes to Drover's API goes through here: the
// session cookie (credentials same-origin; the token itself never reaches
// JavaScript), the CSRF header on every state-changing call, and errors,
// which the API sends as metav1.Status, turned into ApiError with the
// message a person can act on.

import type {
  AuditEntry,
  AuthProvider,
  Binding,
  Cluster,
  CookieLogin,
  CreatedCluster,
  Driver,
  DriverSchema,
  List,
  LoginProvider,
  Me,
  Project,
  Rotation,
  ShellRequest,
  ShellTicket,
  Token,
  User,
} from "./types";

/** One field the API names in a Status's details.causes. */
export interface FieldCause {
  field: string;
  message: string;
  reason: string;
}

/** An error the API answered (a metav1.Status) or a failure to reach it (code 0). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly causes: FieldCause[];
  /** Seconds to wait before trying again (Retry-After), when the server said. */
  readonly retryAfter: number | undefined;

  constructor(code: number, reason: string, message: string, causes: FieldCause[] = [], retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
    this.causes = causes;
    this.retryAfter = retryAfter;
  }
}

/** What a failed fetch (no answer at all) becomes. */
export function networkError(): ApiError {
  return new ApiError(0, "NetworkError", "Drover's server could not be reached; check the connection and try again.");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Seconds from a Retry-After header: delta-seconds or an HTTP date
 * (relative to now, in ms since the epoch); undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) {
    return undefined;
  }
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    return Number(v);
  }
  const at = Date.parse(v);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The ApiError for an answer with status code and body text. A body that is
 * a metav1.Status gives its message, reason and causes; anything else (a
 * proxy's HTML page) a generic message with the code. Never throws.
 */
export function errorFromResponse(code: number, statusText: string, body: string, retryAfter?: string | null): ApiError {
  const wait = parseRetryAfter(retryAfter);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (isRecord(parsed) && parsed["kind"] === "Status" && typeof parsed["message"] === "string") {
    const reason = typeof parsed["reason"] === "string" ? parsed["reason"] : "";
    const causes: FieldCause[] = [];
    const details = parsed["details"];
    if (isRecord(details) && Array.isArray(details["causes"])) {
      for (const c of details["causes"]) {
        if (isRecord(c)) {
          causes.push({
            field: typeof c["field"] === "string" ? c["field"] : "",
            message: typeof c["message"] === "string" ? c["message"] : "",
            reason: typeof c["reason"] === "string" ? c["reason"] : "",
          });
        }
      }
    }
    const statusCode = typeof parsed["code"] === "number" && parsed["code"] >= 400 ? parsed["code"] : code;
    return new ApiError(statusCode, reason, parsed["message"] || fallbackMessage(code, statusText), causes, wait);
  }
  return new ApiError(code, "", fallbackMessage(code, statusText), [], wait);
}

function fallbackMessage(code: number, statusText: string): string {
  const text = statusText ? ` ${statusText}` : "";
  if (code === 502 || code === 503 || code === 504) {
    return `The server answered ${code}${text}: it, or what it forwards to, is not available now; try again shortly.`;
  }
  return `The server answered ${code}${text}.`;
}

/** Whether err is the API refusing a state-changing call for its CSRF token. */
export function isCsrfError(err: ApiError): boolean {
  return err.code === 403 && err.reason === "Forbidden" && /csrf/i.test(err.message);
}

/** What the session store lends the client. */
export interface SessionHooks {
  /** The CSRF token of the current session, if any. */
  csrfToken(): string | undefined;
  /** Reads the session again (GET /v3/users/me) and returns the new CSRF token. */
  refreshCsrf(): Promise<string | undefined>;
  /** The session ended under us (401 on a call that needs one). */
  sessionEnded(): void;
}

export type Method = "GET" | "POST" | "PUT" | "DELETE" | "PATCH";

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** "text" for endpoints that answer something else than JSON (kubeconfig YAML). */
  as?: "json" | "text";
  /** A 401 here is an answer, not the end of the session (login, users/me). */
  own401?: boolean;
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** The API client. One per page load; the session store supplies its hooks. */
export class Api {
  private hooks: SessionHooks | undefined;
  private readonly fetchImpl: Fetch;

  constructor(fetchImpl?: Fetch) {
    this.fetchImpl = fetchImpl ?? ((input, init) => fetch(input, init));
  }

  setHooks(hooks: SessionHooks): void {
    this.hooks = hooks;
  }

  async request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const first = await this.send(method, path, opts, this.hooks?.csrfToken());
    if (first.ok) {
      return this.read<T>(first, opts);
    }
    let err = await readError(first);
    if (method !== "GET" && isCsrfError(err) && this.hooks) {
      // The session changed (another tab logged in again): take its new
      // token and try once more.
      const token = await this.hooks.refreshCsrf();
      if (token) {
        const again = await this.send(method, path, opts, token);
        if (again.ok) {
          return this.read<T>(again, opts);
        }
        err = await readError(again);
      }
    }
    if (err.code === 401 && !opts.own401) {
      this.hooks?.sessionEnded();
    }
    throw err;
  }

  private async send(method: Method, path: string, opts: RequestOptions, csrf: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { Accept: opts.as === "text" ? "*/*" : "application/json" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (method !== "GET" && csrf) {
      headers["X-CSRF-Token"] = csrf;
    }
    const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store", redirect: "error" };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
    }
    try {
      return await this.fetchImpl(withQuery(path, opts.query), init);
    } catch {
      throw networkError();
    }
  }

  private async read<T>(res: Response, opts: RequestOptions): Promise<T> {
    if (res.status === 204) {
      return undefined as T;
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw networkError();
    }
    if (opts.as === "text") {
      return text as T;
    }
    if (text.trim() === "") {
      return undefined as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, "", "The server's answer could not be read (not JSON).");
    }
  }

  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T> {
    return query ? this.request<T>("GET", path, { query }) : this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body: body ?? {} });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, { body });
  }

  del(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }

  // The endpoints, as docs/api.md names them.

  me(): Promise<Me> {
    return this.request<Me>("GET", "/v3/users/me", { own401: true });
  }

  loginProviders(): Promise<List<LoginProvider>> {
    return this.request<List<LoginProvider>>("GET", "/v3/login/providers", { own401: true });
  }

  login(provider: string, username: string, password: string): Promise<CookieLogin> {
    return this.request<CookieLogin>("POST", "/v3/login", {
      body: { username, password, provider, session: "cookie" },
      own401: true,
    });
  }

  beginLogin(provider: string): Promise<{ authUrl: string }> {
    return this.request<{ authUrl: string }>("POST", `/v3/login/${enc(provider)}/begin`, {
      body: { session: "cookie" },
      own401: true,
    });
  }

  logout(): Promise<void> {
    return this.request<void>("POST", "/v3/logout", { body: {}, own401: true });
  }

  cluster(id: string): Promise<Cluster> {
    return this.get<Cluster>(`/v3/clusters/${enc(id)}`);
  }

  createCluster(name: string): Promise<CreatedCluster> {
    return this.post<CreatedCluster>("/v3/clusters", { name });
  }

  /** POST /v3/clusters with a driver answers {"cluster": {...}}: the cluster is unwrapped here. */
  async createDriverCluster(name: string, driver: string, config: Record<string, unknown>): Promise<Cluster> {
    const created = await this.post<{ cluster: Cluster }>("/v3/clusters", { name, driver, config });
    return created.cluster;
  }

  rotateRegistration(id: string): Promise<Rotation> {
    return this.post<Rotation>(`/v3/clusters/${enc(id)}/registration-tokens`);
  }

  setAuthEndpoint(id: string, url: string, caCert: string): Promise<Cluster> {
    return this.put<Cluster>(`/v3/clusters/${enc(id)}/auth-endpoint`, { url, caCert });
  }

  /** A single-use ticket for the pod shell's WebSocket (valid 30 s): one per connection. */
  shellTicket(id: string, req: ShellRequest): Promise<ShellTicket> {
    return this.post<ShellTicket>(`/v3/clusters/${enc(id)}/shell-tickets`, req);
  }

  /** The kubeconfig YAML for these clusters (none: every cluster the caller may use). */
  kubeconfig(clusters: string[], ttl: string): Promise<string> {
    const body: { clusters?: string[]; ttl?: string } = {};
    if (clusters.length > 0) {
      body.clusters = clusters;
    }
    if (ttl !== "") {
      body.ttl = ttl;
    }
    return this.request<string>("POST", "/v3/kubeconfig", { body, as: "text" });
  }

  tokens(): Promise<List<Token>> {
    return this.get<List<Token>>("/v3/tokens");
  }

  createToken(description: string, ttl: string, clusterId: string): Promise<Token> {
    return this.post<Token>("/v3/tokens", { description, ttl, clusterId });
  }

  revokeToken(id: string): Promise<void> {
    return this.del(`/v3/tokens/${enc(id)}`);
  }

  users(): Promise<List<User>> {
    return this.get<List<User>>("/v3/users");
  }

  createUser(username: string, password: string, admin: boolean): Promise<User> {
    return this.post<User>("/v3/users", { username, password, admin });
  }

  setUserDisabled(id: string, disabled: boolean): Promise<User> {
    return this.put<User>(`/v3/users/${enc(id)}`, { disabled });
  }

  bindings(): Promise<List<Binding>> {
    return this.get<List<Binding>>("/v3/bindings");
  }

  createBinding(b: {
    scope: string;
    clusterId?: string;
    projectId?: string;
    role: string;
    subjectKind: string;
    subject: string;
  }): Promise<Binding> {
    return this.post<Binding>("/v3/bindings", b);
  }

  revokeBinding(id: string): Promise<void> {
    return this.del(`/v3/bindings/${enc(id)}`);
  }

  projects(clusterId: string): Promise<List<Project>> {
    return this.get<List<Project>>(`/v3/clusters/${enc(clusterId)}/projects`);
  }

  createProject(clusterId: string, name: string, namespaces: string[]): Promise<Project> {
    return this.post<Project>(`/v3/clusters/${enc(clusterId)}/projects`, { name, namespaces });
  }

  setProjectNamespaces(id: string, namespaces: string[]): Promise<Project> {
    return this.put<Project>(`/v3/projects/${enc(id)}`, { namespaces });
  }

  deleteProject(id: string): Promise<void> {
    return this.del(`/v3/projects/${enc(id)}`);
  }

  authProviders(): Promise<List<AuthProvider>> {
    return this.get<List<AuthProvider>>("/v3/auth-providers");
  }

  saveAuthProvider(name: string, type: string, config: Record<string, unknown>, clearSecrets: string[]): Promise<AuthProvider> {
    const body: { type: string; config: Record<string, unknown>; clearSecrets?: string[] } = { type, config };
    if (clearSecrets.length > 0) {
      body.clearSecrets = clearSecrets;
    }
    return this.put<AuthProvider>(`/v3/auth-providers/${enc(name)}`, body);
  }

  deleteAuthProvider(name: string): Promise<{ name: string; disabledUsers: number }> {
    return this.request<{ name: string; disabledUsers: number }>("DELETE", `/v3/auth-providers/${enc(name)}`);
  }

  drivers(): Promise<List<Driver>> {
    return this.get<List<Driver>>("/v3/drivers");
  }

  driverSchema(name: string): Promise<DriverSchema> {
    return this.get<DriverSchema>(`/v3/drivers/${enc(name)}/schema`);
  }

  audit(filters: { user?: string; cluster?: string; verb?: string; status?: string; limit?: string }): Promise<List<AuditEntry>> {
    return this.get<List<AuditEntry>>("/v3/audit", filters);
  }
}

async function readError(res: Response): Promise<ApiError> {
  let body = "";
  try {
    body = await res.text();
  } catch {
    // The body broke off; the status is all there is.
  }
  return errorFromResponse(res.status, res.statusText, body, res.headers.get("Retry-After"));
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** path with the non-empty query parameters appended. */
export function withQuery(path: string, query?: Record<string, string | undefined>): string {
  if (!query) {
    return path;
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== "") {
      q.set(k, v);
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
