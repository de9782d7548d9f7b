// Grants: a filtered list, creation with pickers (typeahead over every
// subject, role and collection the caller may see), deletion.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, type Grant } from "../api";
import { ErrorBox, Field, Page, Select, Status, useAction, useLoad, Empty, Link } from "../ui";

/** GrantTable lists grants with a Revoke button each; it stays mounted when
 * the last one goes, so that its status line says what happened. */
export function GrantTable(props: { grants: Grant[]; onChange: () => void; empty: ComponentChildren }) {
  const act = useAction();
  return (
    <>
      {props.grants.length === 0 && <Empty>{props.empty}</Empty>}
      <table hidden={props.grants.length === 0}>
        <caption class="sr-only">Grants</caption>
        <thead>
          <tr>
            <th scope="col">Subject</th>
            <th scope="col">Role</th>
            <th scope="col">Object</th>
            <th scope="col">Scope</th>
            <th scope="col">ID</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.grants.map((g) => (
            <tr key={g.id} id={"grant-" + g.id}>
              <td>{g.subject}</td>
              <td>
                <Link to={"/roles/" + g.role}>{g.role}</Link>
              </td>
              <td>{g.object}</td>
              <td>{g.scope}</td>
              <td>
                <Link to={"/grants/" + g.id}>{g.id.slice(0, 8)}</Link>
              </td>
              <td>
                <button
                  type="button"
                  class="danger"
                  aria-label={`Revoke grant ${g.id}: ${g.role} for ${g.subject} on ${g.object}`}
                  disabled={act.busy}
                  onClick={async () => {
                    if (await act.run(() => api.deleteGrant(g.id), `Revoked grant ${g.id}`)) props.onChange();
                  }}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorBox error={act.error} />
      {act.done && <Status text={act.done} />}
    </>
  );
}

/** Suggestions for the subject and object pickers. */
function useChoices() {
  return useLoad(async () => {
    const [users, orgs, sas, roles] = await Promise.all([
      api.users().catch(() => []),
      api.orgs().catch(() => []),
      api.serviceAccounts().catch(() => []),
      api.roles().catch(() => []),
    ]);
    const teams = (await Promise.all(orgs.map((o) => api.teams(o.name).catch(() => [])))).flat();
    const [cols, repos] = await Promise.all([
      api.collections("", "", 1000).catch(() => ({ items: [], next: "" })),
      api.repositories().catch(() => []),
    ]);
    const objects = [
      ...cols.items.map((c) => "collection:" + c.path),
      ...repos.map((r) => `repository:${r.namespace}/${r.name}`),
      ...orgs.map((o) => "namespace:" + o.name),
    ];
    const subjects = [
      ...users.map((u) => "user:" + u.name),
      ...teams.map((t) => `team:${t.org}/${t.name}`),
      ...orgs.map((o) => "org:" + o.name),
      ...sas.map((a) => "serviceaccount:" + a.name),
      "authenticated",
      "anonymous",
    ];
    return { subjects, roles, objects };
  }, []);
}

export function GrantsPage(props: { query: URLSearchParams; id: string }) {
  const [subject, setSubject] = useState(props.query.get("subject") ?? "");
  const [object, setObject] = useState(props.query.get("object") ?? "");
  const [role, setRole] = useState(props.query.get("role") ?? "");
  const [filter, setFilter] = useState({ subject, object, role });
  const list = useLoad(() => (props.id ? api.grant(props.id).then((g) => [g]) : api.grants(filter)), [filter, props.id]);
  const choices = useChoices();
  const [nSubject, setNSubject] = useState("");
  const [nRole, setNRole] = useState("viewonly");
  const [nObject, setNObject] = useState(props.query.get("object") ?? "");
  const [nScope, setNScope] = useState("subtree");
  const act = useAction();
  return (
    <Page title={props.id ? "Grant " + props.id : "Grants"}>
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = "#/grants";
          setFilter({ subject, object, role });
        }}
      >
        <Field label="Filter by subject" name="filter-subject" value={subject} onInput={setSubject} list="subjects" />
        <Field label="Filter by object" name="filter-object" value={object} onInput={setObject} list="objects" placeholder="collection:/prod" />
        <Field label="Filter by role" name="filter-role" value={role} onInput={setRole} />
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={list.error} />
      {list.data && <GrantTable grants={list.data} onChange={list.reload} empty="No grant matches." />}
      <h2>Grant a role</h2>
      <datalist id="subjects">
        {(choices.data?.subjects ?? []).map((s) => (
          <option value={s} key={s} />
        ))}
      </datalist>
      <datalist id="objects">
        {(choices.data?.objects ?? []).map((s) => (
          <option value={s} key={s} />
        ))}
      </datalist>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (await act.run(() => api.createGrant(nSubject, nRole, nObject, nScope), `Granted ${nRole} to ${nSubject} on ${nObject}`)) {
            list.reload();
          }
        }}
      >
        <Field label="Grant to subject" name="grant-subject" value={nSubject} onInput={setNSubject} list="subjects" required placeholder="team:acme/web" />
        <Select
          label="Role to grant"
          name="grant-role"
          value={nRole}
          onChange={setNRole}
          options={(choices.data?.roles ?? []).map((r) => [r.name, `${r.displayName || r.name} (${r.name})`])}
        />
        <Field label="On object" name="grant-object" value={nObject} onInput={setNObject} list="objects" required placeholder="collection:/production" />
        <Select label="Scope" name="grant-scope" value={nScope} onChange={setNScope} options={[["subtree", "the collection and below"], ["exact", "the collection only"]]} />
        <button type="submit" disabled={act.busy}>
          Grant
        </button>
      </form>
      <ErrorBox error={act.error || choices.error} />
      {act.done && <Status text={act.done} />}
    </Page>
  );
}
