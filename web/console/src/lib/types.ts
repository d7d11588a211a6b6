// The JSON shapes of Drover's API that the console reads (docs/api.md;
// where the doc is short, the Go types named beside each one). Optional
// fields are those the server leaves out when empty (omitempty).

/** GET /v3/users/me (pkg/api accounts.go me), with the cookie session's CSRF token. */
export interface Me {
  id: string;
  username: string;
  admin: boolean;
  groups?: string[] | null;
  tokenId?: string;
  csrfToken?: string;
}

/** POST /v3/login with "session": "cookie". */
export interface CookieLogin {
  user: { id: string; username: string; admin: boolean };
  csrfToken: string;
  expiresAt: string;
}

/** GET /v3/login/providers items (registry.Summary). */
export interface LoginProvider {
  name: string;
  type: string; // local, ldap, oidc, github
}

/** tunnel.Status */
export interface TunnelStatus {
  connected: boolean;
  via?: string; // "cluster" or "node"
  since?: string;
  disconnectedAt?: string;
  sessions: number;
  clusterAgents?: number;
  nodeAgents?: number;
  refused?: string;
  agentVersion?: string;
}

/** controller.Node */
export interface NodeStatus {
  name: string;
  roles: string[] | null;
  kubeletVersion: string;
  capacity: Record<string, string> | null;
  ready: boolean;
}

/** controller.Warning */
export interface WarningEvent {
  time: string;
  namespace: string;
  object: string;
  reason: string;
  message: string;
  count?: number;
}

/** rollout.State */
export interface AgentRollout {
  phase: string;
  image?: string;
  nodeImage?: string;
  agentVersion?: string;
  target?: string;
  targetVersion?: string;
  since?: string;
  reason?: string;
}

/** controller.Status: what the cluster controller gathers every 5 s. */
export interface ClusterStatus {
  gatheredAt: string;
  kubernetesVersion?: string;
  apiServer: { ready: boolean; message?: string };
  nodes: NodeStatus[] | null;
  counts?: { namespaces: number; pods: number };
  warnings: WarningEvent[] | null;
  errors?: string[];
  agent?: AgentRollout;
}

/** provision.View */
export interface Provisioning {
  driver: string;
  phase: string; // provisioning, waiting-for-agent, active, updating, removing, error
  message?: string;
  error?: string;
  config?: Record<string, unknown>;
  updatedAt: string;
}

/** A cluster as GET /v3/clusters and the watch stream give it (clusterView). */
export interface Cluster {
  id: string;
  name: string;
  createdAt: string;
  state: string; // active, unhealthy, disconnected (and what later versions add)
  tunnel: TunnelStatus;
  lastSeen?: string;
  status?: ClusterStatus;
  authEndpoint?: { url: string; caCert?: string };
  provisioning?: Provisioning;
}

/** The registration part of POST /v3/clusters and of a rotation. */
export interface Registration {
  token: string;
  tokenId: string;
  nodeToken: string;
  nodeTokenId: string;
  expiresAt?: string;
  serverUrl: string;
  caChecksum: string;
  command: string;
  importUrl: string;
  importCommand: string;
  warning?: string;
}

export interface CreatedCluster {
  cluster: Cluster;
  registration: Registration;
}

export interface Rotation {
  registration: Registration;
  pushedToAgents: boolean;
  previousValidUntil?: string;
}

/** A token as GET/POST /v3/tokens give it (tokenResponse). */
export interface Token {
  token?: string; // the secret: only in the answer to POST
  id: string;
  kind: string;
  clusterId?: string;
  description?: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt?: string;
}

/** store.User */
export interface User {
  id: string;
  username: string;
  admin: boolean;
  createdAt: string;
  provider: string;
  externalId?: string;
  login?: string;
  displayName?: string;
  groups?: string[];
  groupsRefreshedAt?: string;
  disabled: boolean;
}

/** A binding with its user's username (bindingView). */
export interface Binding {
  id: string;
  scope: string; // global, cluster, project
  clusterId?: string;
  projectId?: string;
  role: string;
  subjectKind: string; // user, group
  subject: string;
  username?: string;
  createdAt: string;
}

/** store.Project */
export interface Project {
  id: string;
  clusterId: string;
  name: string;
  namespaces: string[] | null;
  createdAt: string;
}

/** registry.Info: a configured auth provider, secrets left out. */
export interface AuthProvider {
  name: string;
  type: string;
  config: Record<string, unknown> | null;
  secrets: Record<string, string> | null; // field → "set" | "unset"
  createdAt: string;
  updatedAt: string;
}

/** driver.Info */
export interface Driver {
  name: string;
  url?: string;
  checksum: string;
  builtin: boolean;
  address: string;
  sandboxed: boolean;
  createdAt?: string;
}

/** schema.Field */
export interface SchemaField {
  type: string; // string, boolean, int, array[string]
  default?: unknown;
  description?: string;
  create: boolean;
  update: boolean;
  nullable?: boolean;
  password?: boolean;
  flag: string;
  flagType: string;
}

/** schema.Schema: GET /v3/drivers/{name}/schema */
export interface DriverSchema {
  driver: string;
  resourceFields: Record<string, SchemaField> | null;
}

/** audit.Entry */
export interface AuditEntry {
  time: string;
  kind: string; // api, proxy
  user?: string;
  userId?: string;
  groups?: string[];
  as?: string;
  asGroups?: string[];
  tokenId?: string;
  cluster?: string;
  verb: string;
  resource?: string;
  namespace?: string;
  name?: string;
  path?: string;
  status: number;
  latencyMs: number;
  client: string;
}

export interface List<T> {
  items: T[] | null;
}

/** POST /v3/clusters/{id}/shell-tickets: what to run, and where. */
export interface ShellRequest {
  namespace: string;
  pod: string;
  /** "": the pod's default container. */
  container: string;
  /** 1 to 16 arguments. */
  command: string[];
}

/** Its answer: a single-use ticket for the shell's WebSocket, valid 30 s. */
export interface ShellTicket {
  ticket: string;
  expiresAt: string;
}
