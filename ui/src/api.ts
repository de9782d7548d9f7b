// The typed client of grantd's public REST API (proto/grantd/v1, its
// OpenAPI document at /openapi.json), as the console uses it. The session
// rides in an HttpOnly cookie the page cannot read; every state-changing
// call carries the session's CSRF token.

export interface Session {
  subject: string;
  isAdmin: boolean;
  csrfToken: string;
}

export interface User {
  name: string;
  fullName?: string;
  isAdmin?: boolean;
  active?: boolean;
  source?: string;
}
export interface Org {
  name: string;
}
export interface Team {
  org: string;
  name: string;
  description?: string;
  kubernetesGroups?: string[];
}
export interface Member {
  org: string;
  team?: string;
  user: string;
  isAdmin?: boolean;
}
export interface ServiceAccount {
  name: string;
  description?: string;
  capabilities?: string[];
  active?: boolean;
}
export interface Collection {
  path: string;
  parent?: string;
  builtin?: boolean;
}
export interface Permission {
  operation: string;
  options?: string[];
}
export interface Role {
  name: string;
  displayName?: string;
  builtin?: boolean;
  permissions?: Permission[];
}
export interface Operation {
  id: string;
  displayName: string;
  options?: string[];
  objectKind: string;
  reserved?: boolean;
}
export interface Grant {
  id: string;
  subject: string;
  role: string;
  object: string;
  scope?: string;
  createdAt?: string;
  createdBy?: string;
  via?: string;
}
export interface Contribution {
  grantId?: string;
  subjectPath?: string;
  role?: string;
  object?: string;
  scope?: string;
  options?: string[];
}
export interface AccessEntry {
  user: string;
  isAdmin?: boolean;
  grants?: Contribution[];
}
export interface Explanation {
  allowed?: boolean;
  reason?: string;
  grants?: Contribution[];
  missingOperation?: string;
  missingOptions?: string[];
  allowedBy?: string;
}
export interface EffectivePermission {
  operation: string;
  options?: string[];
  sources?: Contribution[];
}
export interface AuditEvent {
  id: string;
  time: string;
  actor: string;
  action: string;
  object: string;
  before?: string;
  after?: string;
  clientAddr?: string;
}
export interface APIToken {
  id: string;
  name: string;
  owner?: string;
  createdAt?: string;
  expiresAt?: string;
}
export interface Bundle {
  serial: string;
  owner?: string;
  label?: string;
  notAfter?: string;
  revoked?: boolean;
}
export interface Repository {
  namespace: string;
  name: string;
  visibility?: string;
  description?: string;
}
export interface SyncRun {
  id: string;
  state?: string;
  trigger?: string;
  startedAt?: string;
  endedAt?: string;
  changes?: number;
  errors?: string[];
  warnings?: string[];
}

/** APIError carries the API's own message, shown verbatim. */
export class APIError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await resp.text();
  let data: unknown = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text.trim() };
  }
  if (!resp.ok) {
    const msg = (data as { message?: string }).message || `${resp.status} ${resp.statusText}`;
    throw new APIError(resp.status, msg);
  }
  return data as T;
}

const q = (params: Record<string, string | number | boolean | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "" && v !== false) s.set(k, String(v));
  const str = s.toString();
  return str ? "?" + str : "";
};
const seg = encodeURIComponent;

export const api = {
  async session(): Promise<Session | null> {
    try {
      const s = await call<Session>("GET", "/ui/session");
      csrf = s.csrfToken;
      return s;
    } catch (e) {
      if (e instanceof APIError && e.status === 401) return null;
      throw e;
    }
  },
  async login(username: string, password: string): Promise<Session> {
    const s = await call<Session>("POST", "/ui/session", { username, password });
    csrf = s.csrfToken;
    return s;
  },
  logout: () => call<unknown>("DELETE", "/ui/session"),

  users: (prefix = "") => call<{ users?: User[] }>("GET", "/v1/users" + q({ prefix, pageSize: 1000 })).then((r) => r.users ?? []),
  createUser: (name: string, password: string, isAdmin: boolean) => call("POST", "/v1/users", { name, password, isAdmin }),
  deleteUser: (name: string) => call("DELETE", `/v1/users/${seg(name)}`),
  orgs: () => call<{ orgs?: Org[] }>("GET", "/v1/orgs" + q({ pageSize: 1000 })).then((r) => r.orgs ?? []),
  createOrg: (name: string) => call("POST", "/v1/orgs", { name }),
  deleteOrg: (name: string) => call("DELETE", `/v1/orgs/${seg(name)}`),
  orgMembers: (org: string) => call<{ members?: Member[] }>("GET", `/v1/orgs/${seg(org)}/members`).then((r) => r.members ?? []),
  setOrgMember: (org: string, user: string, isAdmin: boolean) => call("PUT", `/v1/orgs/${seg(org)}/members/${seg(user)}`, { isAdmin }),
  teams: (org: string) => call<{ teams?: Team[] }>("GET", `/v1/orgs/${seg(org)}/teams`).then((r) => r.teams ?? []),
  createTeam: (org: string, name: string, description: string) => call("POST", `/v1/orgs/${seg(org)}/teams`, { name, description }),
  deleteTeam: (org: string, team: string) => call("DELETE", `/v1/orgs/${seg(org)}/teams/${seg(team)}`),
  teamMembers: (org: string, team: string) =>
    call<{ members?: Member[] }>("GET", `/v1/orgs/${seg(org)}/teams/${seg(team)}/members`).then((r) => r.members ?? []),
  setTeamMember: (org: string, team: string, user: string, isAdmin: boolean) =>
    call("PUT", `/v1/orgs/${seg(org)}/teams/${seg(team)}/members/${seg(user)}`, { isAdmin }),
  removeTeamMember: (org: string, team: string, user: string) =>
    call("DELETE", `/v1/orgs/${seg(org)}/teams/${seg(team)}/members/${seg(user)}`),
  serviceAccounts: () =>
    call<{ serviceAccounts?: ServiceAccount[] }>("GET", "/v1/serviceAccounts" + q({ pageSize: 1000 })).then((r) => r.serviceAccounts ?? []),
  createServiceAccount: (name: string, description: string, capabilities: string[]) =>
    call("POST", "/v1/serviceAccounts", { name, description, capabilities }),
  tokens: (owner = "") => call<{ tokens?: APIToken[] }>("GET", "/v1/tokens" + q({ owner })).then((r) => r.tokens ?? []),
  createToken: (name: string, owner: string) => call<{ token: APIToken; secret: string }>("POST", "/v1/tokens", { name, owner }),
  revokeToken: (id: string) => call("DELETE", `/v1/tokens/${seg(id)}`),

  /** One page of a collection's children (or of every collection, parent ""). */
  collections: (parent: string, pageToken = "", pageSize = 200) =>
    call<{ collections?: Collection[]; nextPageToken?: string }>("GET", "/v1/collections" + q({ parent, pageSize, pageToken })).then((r) => ({
      items: r.collections ?? [],
      next: r.nextPageToken ?? "",
    })),
  createCollection: (path: string) => call("POST", "/v1/collections", { path }),
  deleteCollection: (path: string, force: boolean) =>
    call("DELETE", "/v1/collections" + path.split("/").map(seg).join("/") + q({ force })),

  roles: () => call<{ roles?: Role[] }>("GET", "/v1/roles").then((r) => r.roles ?? []),
  operations: () => call<{ operations?: Operation[] }>("GET", "/v1/operations").then((r) => r.operations ?? []),
  createRole: (name: string, displayName: string, permissions: Permission[]) =>
    call("POST", "/v1/roles", { name, displayName, permissions }),
  deleteRole: (name: string) => call("DELETE", `/v1/roles/${seg(name)}`),

  grants: (f: { subject?: string; object?: string; role?: string }) =>
    call<{ grants?: Grant[] }>("GET", "/v1/grants" + q({ ...f, pageSize: 1000 })).then((r) => r.grants ?? []),
  grant: (id: string) => call<Grant>("GET", `/v1/grants/${seg(id)}`),
  createGrant: (subject: string, role: string, object: string, scope: string) =>
    call<{ grant: Grant }>("POST", "/v1/grants", { subject, role, object, scope }),
  deleteGrant: (id: string) => call("DELETE", `/v1/grants/${seg(id)}`),

  whoCan: (object: string, operation: string, options: string[]) =>
    call<{ entries?: AccessEntry[] }>("GET", "/v1/access" + q({ object, operation, options: options.join(",") || undefined })).then(
      (r) => r.entries ?? [],
    ),
  explain: (subject: string, operation: string, collection: string, options: string[]) =>
    call<Explanation>("POST", "/v1/explain", { subject, operation, resource: { collection }, options }),
  permissions: (subject: string, collection: string) =>
    call<{ permissions?: EffectivePermission[] }>("GET", `/v1/subjects/${seg(subject)}/permissions` + q({ collection })).then(
      (r) => r.permissions ?? [],
    ),

  audit: (actor: string, object: string) =>
    call<{ events?: AuditEvent[] }>("GET", "/v1/audit" + q({ actor, object, pageSize: 200 })).then((r) => r.events ?? []),
  repositories: () => call<{ repositories?: Repository[] }>("GET", "/v1/repositories" + q({ pageSize: 1000 })).then((r) => r.repositories ?? []),
  bundles: () => call<{ bundles?: Bundle[] }>("GET", "/v1/bundles").then((r) => r.bundles ?? []),
  createBundle: (label: string) => call<{ bundle: Bundle; zip: string }>("POST", "/v1/bundles", { label }),
  revokeBundle: (serial: string) => call("DELETE", `/v1/bundles/${seg(serial)}`),

  ldapConfig: () => call<{ config?: Record<string, unknown> }>("GET", "/v1/ldap/config").then((r) => r.config ?? {}),
  setLDAPConfig: (config: Record<string, unknown>) => call("PUT", "/v1/ldap/config", config),
  testLDAPLogin: (username: string, password: string) => call<Record<string, unknown>>("POST", "/v1/ldap/testLogin", { username, password }),
  startSync: () => call<unknown>("POST", "/v1/ldap/syncs", {}),
  syncRuns: () => call<{ runs?: SyncRun[] }>("GET", "/v1/ldap/syncs").then((r) => r.runs ?? []),
};
