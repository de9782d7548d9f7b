// Roles, built-in and custom; a custom role is composed from the
// operation catalog, with the options of each operation.
import { useState } from "preact/hooks";
import { api, type Operation, type Permission } from "../api";
import { ErrorBox, Field, Page, Status, useAction, useLoad, Link } from "../ui";

export function RolesPage(props: { name: string; isAdmin: boolean }) {
  const roles = useLoad(() => api.roles(), []);
  const ops = useLoad(() => api.operations(), []);
  const [id, setId] = useState("");
  const [display, setDisplay] = useState("");
  const [picked, setPicked] = useState<Record<string, string[]>>({});
  const [kind, setKind] = useState("swarm");
  const act = useAction();
  const shown = props.name ? (roles.data ?? []).filter((r) => r.name === props.name) : roles.data ?? [];
  const toggle = (op: Operation, on: boolean) => {
    const next = { ...picked };
    if (on) next[op.id] = [];
    else delete next[op.id];
    setPicked(next);
  };
  const toggleOption = (op: string, opt: string, on: boolean) =>
    setPicked({ ...picked, [op]: on ? [...(picked[op] ?? []), opt] : (picked[op] ?? []).filter((o) => o !== opt) });
  return (
    <Page title={props.name ? "Role " + props.name : "Roles"}>
      <ErrorBox error={roles.error || ops.error} />
      <table>
        <caption class="sr-only">Roles</caption>
        <thead>
          <tr>
            <th scope="col">Role</th>
            <th scope="col">Kind</th>
            <th scope="col">Operations</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.name}>
              <td>
                <Link to={"/roles/" + r.name}>{r.displayName || r.name}</Link> <code>{r.name}</code>
              </td>
              <td>{r.builtin ? "built-in" : "custom"}</td>
              <td>
                {props.name ? (
                  <ul class="plain">
                    {(r.permissions ?? []).map((p) => (
                      <li key={p.operation}>
                        {p.operation}
                        {p.options && p.options.length > 0 ? ` [${p.options.join(", ")}]` : ""}
                      </li>
                    ))}
                  </ul>
                ) : (
                  `${(r.permissions ?? []).length} operations`
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.isAdmin && !props.name && (
        <>
          <h2>Create a custom role</h2>
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              const perms: Permission[] = Object.entries(picked).map(([operation, options]) => ({ operation, options }));
              if (await act.run(() => api.createRole(id, display, perms), `Created role ${id}`)) {
                setPicked({});
                roles.reload();
              }
            }}
          >
            <Field label="Role name" name="role-name" value={id} onInput={setId} required placeholder="developer" />
            <Field label="Display name" name="role-display" value={display} onInput={setDisplay} />
            <fieldset>
              <legend>Operations</legend>
              <div class="field">
                <label for="op-kind">Show operations for</label>
                <select id="op-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
                  <option value="swarm">Swarm (collections)</option>
                  <option value="repository">Registry (repositories)</option>
                  <option value="kubernetes">Kubernetes (namespaces)</option>
                </select>
              </div>
              <ul class="ops">
                {(ops.data ?? [])
                  .filter((o) => o.objectKind === kind && !o.reserved)
                  .map((o) => (
                    <li key={o.id}>
                      <input type="checkbox" id={"op-" + o.id} checked={o.id in picked} onChange={(e) => toggle(o, (e.target as HTMLInputElement).checked)} />
                      <label for={"op-" + o.id}>
                        {o.displayName} <code>{o.id}</code>
                      </label>
                      {o.id in picked && (o.options ?? []).length > 0 && (
                        <fieldset class="options">
                          <legend>Options of {o.id}</legend>
                          {(o.options ?? []).map((opt) => (
                            <span key={opt}>
                              <input
                                type="checkbox"
                                id={`opt-${o.id}-${opt}`}
                                checked={(picked[o.id] ?? []).includes(opt)}
                                onChange={(e) => toggleOption(o.id, opt, (e.target as HTMLInputElement).checked)}
                              />
                              <label for={`opt-${o.id}-${opt}`}>{opt}</label>
                            </span>
                          ))}
                        </fieldset>
                      )}
                    </li>
                  ))}
              </ul>
            </fieldset>
            <p>{Object.keys(picked).length} operations chosen.</p>
            <button type="submit" disabled={act.busy}>
              Create role
            </button>
          </form>
          <ErrorBox error={act.error} />
          {act.done && <Status text={act.done} />}
        </>
      )}
    </Page>
  );
}
