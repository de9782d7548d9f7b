// Access review: who can do X on Y (with the grant behind each answer),
// why a subject may or may not, and a subject's effective permissions.
import { useState } from "preact/hooks";
import { api, type AccessEntry, type Contribution, type EffectivePermission, type Explanation } from "../api";
import { ErrorBox, Field, Page, useAction, Empty, Link } from "../ui";

function Contributions({ grants }: { grants?: Contribution[] }) {
  if (!grants || grants.length === 0) return <span>—</span>;
  return (
    <ul class="plain">
      {grants.map((g, i) => (
        <li key={i}>
          {g.grantId ? <Link to={"/grants/" + g.grantId}>{g.role}</Link> : g.role} on {g.object}
          {g.subjectPath ? ` via ${g.subjectPath}` : ""} {g.scope ? `(${g.scope})` : ""}
        </li>
      ))}
    </ul>
  );
}

export function AccessPage() {
  const [object, setObject] = useState("collection:/");
  const [operation, setOperation] = useState("container.exec");
  const [who, setWho] = useState<AccessEntry[] | null>(null);
  const whoAct = useAction();
  const [subject, setSubject] = useState("");
  const [xOperation, setXOperation] = useState("container.exec");
  const [collection, setCollection] = useState("/");
  const [why, setWhy] = useState<Explanation | null>(null);
  const whyAct = useAction();
  const [pSubject, setPSubject] = useState("");
  const [pCollection, setPCollection] = useState("/");
  const [perms, setPerms] = useState<EffectivePermission[] | null>(null);
  const permAct = useAction();
  return (
    <Page title="Access review">
      <h2 id="who-can">Who can…</h2>
      <form
        aria-labelledby="who-can"
        onSubmit={(e) => {
          e.preventDefault();
          whoAct.run(async () => setWho(await api.whoCan(object, operation, [])), "");
        }}
      >
        <Field label="Operation" name="who-operation" value={operation} onInput={setOperation} required />
        <Field label="On object" name="who-object" value={object} onInput={setObject} required />
        <button type="submit" disabled={whoAct.busy}>
          Who can?
        </button>
      </form>
      <ErrorBox error={whoAct.error} />
      {who && who.length === 0 && <Empty>Nobody but system admins.</Empty>}
      {who && who.length > 0 && (
        <table id="who-can-result">
          <caption class="sr-only">Who can {operation} on {object}</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Through</th>
            </tr>
          </thead>
          <tbody>
            {who.map((e) => (
              <tr key={e.user}>
                <td>
                  {e.user}
                  {e.isAdmin ? " (system admin)" : ""}
                </td>
                <td>
                  <Contributions grants={e.grants} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2 id="why">Why?</h2>
      <form
        aria-labelledby="why"
        onSubmit={(e) => {
          e.preventDefault();
          whyAct.run(async () => setWhy(await api.explain(subject, xOperation, collection, [])), "");
        }}
      >
        <Field label="Subject" name="why-subject" value={subject} onInput={setSubject} required placeholder="user:maria" />
        <Field label="Operation" name="why-operation" value={xOperation} onInput={setXOperation} required />
        <Field label="Collection" name="why-collection" value={collection} onInput={setCollection} required />
        <button type="submit" disabled={whyAct.busy}>
          Explain
        </button>
      </form>
      <ErrorBox error={whyAct.error} />
      {why && (
        <div id="why-result" class={why.allowed ? "verdict allowed" : "verdict denied"}>
          <p>
            <strong>{why.allowed ? "Allowed" : "Denied"}</strong>: {why.reason}
          </p>
          <Contributions grants={why.grants} />
        </div>
      )}
      <h2 id="perms">Effective permissions</h2>
      <form
        aria-labelledby="perms"
        onSubmit={(e) => {
          e.preventDefault();
          permAct.run(async () => setPerms(await api.permissions(pSubject, pCollection)), "");
        }}
      >
        <Field label="Subject" name="perm-subject" value={pSubject} onInput={setPSubject} required placeholder="user:maria" />
        <Field label="At collection" name="perm-collection" value={pCollection} onInput={setPCollection} required />
        <button type="submit" disabled={permAct.busy}>
          Show
        </button>
      </form>
      <ErrorBox error={permAct.error} />
      {perms && perms.length === 0 && <Empty>No permissions here.</Empty>}
      {perms && perms.length > 0 && (
        <table>
          <caption class="sr-only">Effective permissions</caption>
          <thead>
            <tr>
              <th scope="col">Operation</th>
              <th scope="col">Options</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {perms.map((p) => (
              <tr key={p.operation}>
                <td>{p.operation}</td>
                <td>{(p.options ?? []).join(", ")}</td>
                <td>
                  <Contributions grants={p.sources} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
