// Users, orgs, teams and memberships, service accounts. System admins see
// everyone; an org admin sees the orgs they administer (the API scopes
// the lists).
import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, Field, InlineForm, Page, Status, useAction, useLoad, Empty, Link } from "../ui";

export function PeoplePage(props: { isAdmin: boolean }) {
  const users = useLoad(() => (props.isAdmin ? api.users() : Promise.resolve([])), [props.isAdmin]);
  const orgs = useLoad(() => api.orgs(), []);
  const sas = useLoad(() => (props.isAdmin ? api.serviceAccounts() : Promise.resolve([])), [props.isAdmin]);
  return (
    <Page title="People and orgs">
      <h2>Orgs</h2>
      <ErrorBox error={orgs.error} />
      {orgs.data && orgs.data.length === 0 && <Empty>No orgs{props.isAdmin ? " yet" : " you administer"}.</Empty>}
      <ul class="plain" id="org-list">
        {(orgs.data ?? []).map((o) => (
          <li key={o.name}>
            <Link to={"/orgs/" + o.name}>{o.name}</Link>
          </li>
        ))}
      </ul>
      {props.isAdmin && (
        <InlineForm
          fields={[{ label: "New org", name: "org-name" }]}
          button="Create org"
          submit={(v) => api.createOrg(v["org-name"])}
          success={(v) => `Created org ${v["org-name"]}`}
          onDone={orgs.reload}
        />
      )}
      {props.isAdmin && (
        <>
          <h2>Users</h2>
          <ErrorBox error={users.error} />
          <table>
            <caption class="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Source</th>
                <th scope="col">Admin</th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {(users.data ?? []).map((u) => (
                <tr key={u.name}>
                  <td>
                    <Link to={"/grants?subject=user:" + u.name}>{u.name}</Link>
                  </td>
                  <td>{u.source}</td>
                  <td>{u.isAdmin ? "yes" : "no"}</td>
                  <td>{u.active ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <InlineForm
            fields={[
              { label: "New user", name: "user-name" },
              { label: "Password", name: "user-password", type: "password", autocomplete: "new-password" },
            ]}
            button="Create user"
            submit={(v) => api.createUser(v["user-name"], v["user-password"], false)}
            success={(v) => `Created user ${v["user-name"]}`}
            onDone={users.reload}
          />
          <h2>Service accounts</h2>
          <ErrorBox error={sas.error} />
          <ul class="plain">
            {(sas.data ?? []).map((a) => (
              <li key={a.name}>
                {a.name} {(a.capabilities ?? []).length > 0 ? `(${(a.capabilities ?? []).join(", ")})` : ""}
              </li>
            ))}
          </ul>
          <InlineForm
            fields={[{ label: "New service account", name: "sa-name" }]}
            button="Create service account"
            submit={(v) => api.createServiceAccount(v["sa-name"], "", [])}
            success={(v) => `Created service account ${v["sa-name"]}`}
            onDone={sas.reload}
          />
        </>
      )}
    </Page>
  );
}

export function OrgPage(props: { org: string }) {
  const members = useLoad(() => api.orgMembers(props.org), [props.org]);
  const teams = useLoad(() => api.teams(props.org), [props.org]);
  const [member, setMember] = useState("");
  const [memberAdmin, setMemberAdmin] = useState(false);
  const act = useAction();
  return (
    <Page title={"Org " + props.org}>
      <ErrorBox error={members.error || teams.error} />
      <h2>Members</h2>
      <ul class="plain">
        {(members.data ?? []).map((m) => (
          <li key={m.user}>
            {m.user}
            {m.isAdmin ? " (org admin)" : ""}
          </li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await act.run(() => api.setOrgMember(props.org, member, memberAdmin), `Added ${member} to ${props.org}`)) {
            setMember("");
            members.reload();
          }
        }}
      >
        <Field label="Add org member" name="org-member" value={member} onInput={setMember} required />
        <div class="field">
          <label for="org-member-admin">
            <input type="checkbox" id="org-member-admin" checked={memberAdmin} onChange={(e) => setMemberAdmin((e.target as HTMLInputElement).checked)} /> org admin
          </label>
        </div>
        <button type="submit" disabled={act.busy}>
          Add member
        </button>
      </form>
      <h2>Teams</h2>
      {teams.data && teams.data.length === 0 && <Empty>No teams yet.</Empty>}
      <ul class="plain">
        {(teams.data ?? []).map((t) => (
          <li key={t.name}>
            <Link to={"/grants?subject=team:" + props.org + "/" + t.name}>{t.name}</Link> {t.description}
          </li>
        ))}
      </ul>
      <InlineForm
        fields={[{ label: "New team", name: "team-name" }]}
        button="Create team"
        submit={(v) => api.createTeam(props.org, v["team-name"], "")}
        success={(v) => `Created team ${props.org}/${v["team-name"]}`}
        onDone={teams.reload}
      />
      <InlineForm
        fields={[
          { label: "Team", name: "member-team" },
          { label: "User to add to the team", name: "member-user" },
        ]}
        button="Add to team"
        submit={(v) => api.setTeamMember(props.org, v["member-team"], v["member-user"], false)}
        success={(v) => `Added ${v["member-user"]} to ${props.org}/${v["member-team"]}`}
      />
      <ErrorBox error={act.error} />
      {act.done && <Status text={act.done} />}
    </Page>
  );
}
