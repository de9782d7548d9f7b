// The audit log, newest first, filtered by actor or object.
import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, Field, Page, useLoad, Empty } from "../ui";

export function AuditPage() {
  const [actor, setActor] = useState("");
  const [object, setObject] = useState("");
  const [filter, setFilter] = useState({ actor: "", object: "" });
  const events = useLoad(() => api.audit(filter.actor, filter.object), [filter]);
  return (
    <Page title="Audit log">
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ actor, object });
        }}
      >
        <Field label="Actor" name="audit-actor" value={actor} onInput={setActor} placeholder="user:admin" />
        <Field label="Object" name="audit-object" value={object} onInput={setObject} placeholder="grant:…" />
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={events.error} />
      {events.data && events.data.length === 0 && <Empty>No changes match.</Empty>}
      {events.data && events.data.length > 0 && (
        <table id="audit-events">
          <caption class="sr-only">Audit events</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Object</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((e) => (
              <tr key={e.id}>
                <td>{e.time}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.object}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
