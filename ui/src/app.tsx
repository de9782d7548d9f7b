// The console's shell: the login form, then navigation by role (a system
// admin sees everything; everyone else their own access, the orgs they
// administer and their credentials) and hash routes, so that every object
// has a link (#/grants/<id>, #/roles/<name>, #/collections/<path>).
import { useEffect, useState } from "preact/hooks";
import { api, type Session } from "./api";
import { ErrorBox, Field, Page, errorText } from "./ui";
import { CollectionsPage } from "./pages/collections";
import { GrantsPage } from "./pages/grants";
import { AccessPage } from "./pages/access";
import { RolesPage } from "./pages/roles";
import { PeoplePage, OrgPage } from "./pages/people";
import { AuditPage } from "./pages/audit";
import { CredentialsPage } from "./pages/credentials";
import { RepositoriesPage } from "./pages/registry";
import { LDAPPage } from "./pages/ldap";

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function Login(props: { onLogin: (s: Session) => void }) {
  const [user, setUser] = useState("");
  const [pass, setPass] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="login">
      <Page title="Log in to grantd">
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError("");
            try {
              props.onLogin(await api.login(user, pass));
            } catch (err) {
              setError(errorText(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          <Field label="Username" name="username" value={user} onInput={setUser} required autocomplete="username" />
          <Field label="Password" name="password" type="password" value={pass} onInput={setPass} required autocomplete="current-password" />
          <button type="submit" disabled={busy}>
            {busy ? "Logging in…" : "Log in"}
          </button>
          <ErrorBox error={error} />
        </form>
      </Page>
    </main>
  );
}

const adminPages = ["collections", "access", "audit", "ldap"];

function Nav(props: { s: Session; route: string }) {
  const items: [string, string][] = props.s.isAdmin
    ? [
        ["collections", "Collections"],
        ["grants", "Grants"],
        ["access", "Access review"],
        ["roles", "Roles"],
        ["people", "People and orgs"],
        ["repos", "Repositories"],
        ["credentials", "Tokens and bundles"],
        ["audit", "Audit log"],
        ["ldap", "LDAP"],
      ]
    : [
        ["grants", "My grants"],
        ["people", "My orgs"],
        ["roles", "Roles"],
        ["repos", "Repositories"],
        ["credentials", "Tokens and bundles"],
      ];
  return (
    <nav aria-label="Main">
      <ul>
        {items.map(([r, text]) => (
          <li key={r}>
            <a href={"#/" + r} aria-current={props.route === r ? "page" : undefined}>
              {text}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Route(props: { s: Session; hash: string }) {
  const [pathPart, queryPart] = props.hash.replace(/^#\/?/, "").split("?");
  const parts = pathPart.split("/");
  const route = parts[0] || (props.s.isAdmin ? "collections" : "grants");
  const rest = parts.slice(1).map(decodeURIComponent).join("/");
  const query = new URLSearchParams(queryPart ?? "");
  if (adminPages.includes(route) && !props.s.isAdmin) {
    return (
      <Page title="Not for you">
        <p role="alert">This page is for system admins; {props.s.subject} is not one.</p>
      </Page>
    );
  }
  switch (route) {
    case "collections":
      return <CollectionsPage path={rest ? "/" + rest : "/"} />;
    case "grants":
      if (!props.s.isAdmin && !query.get("subject") && !rest) query.set("subject", props.s.subject);
      return <GrantsPage key={props.hash} query={query} id={rest} />;
    case "access":
      return <AccessPage />;
    case "roles":
      return <RolesPage name={rest} isAdmin={props.s.isAdmin} />;
    case "people":
      return <PeoplePage isAdmin={props.s.isAdmin} />;
    case "orgs":
      return <OrgPage org={rest} />;
    case "repos":
      return <RepositoriesPage />;
    case "credentials":
      return <CredentialsPage />;
    case "audit":
      return <AuditPage />;
    case "ldap":
      return <LDAPPage />;
  }
  return (
    <Page title="Not found">
      <p>There is no page {props.hash}.</p>
    </Page>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState("");
  const hash = useHash();
  useEffect(() => {
    api.session().then(setSession, (e) => setError(errorText(e)));
  }, []);
  useEffect(() => {
    document.getElementById("page-title")?.focus();
  }, [hash]);
  if (error) return <ErrorBox error={error} />;
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <Login onLogin={setSession} />;
  const route = hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("page-title")?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">grantd</span>
        <Nav s={session} route={route} />
        <span class="who">
          {session.subject}
          {session.isAdmin ? " (system admin)" : ""}
        </span>
        <button
          type="button"
          onClick={async () => {
            await api.logout().catch(() => undefined);
            setSession(null);
          }}
        >
          Log out
        </button>
      </header>
      <main id="main">
        <Route s={session} hash={hash} />
      </main>
    </>
  );
}
