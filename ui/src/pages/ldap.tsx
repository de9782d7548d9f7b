// LDAP: the configuration (reader passwords write-only: the API never
// returns them), a test login, sync now with progress, the runs' reports.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, Field, Page, Status, useAction, useLoad, Empty } from "../ui";

export function LDAPPage() {
  const config = useLoad(() => api.ldapConfig(), []);
  const runs = useLoad(() => api.syncRuns(), []);
  const [text, setText] = useState("");
  const [user, setUser] = useState("");
  const [pass, setPass] = useState("");
  const [result, setResult] = useState("");
  const act = useAction();
  const running = (runs.data ?? []).some((r) => r.state === "running");
  useEffect(() => {
    if (config.data) setText(JSON.stringify(config.data, null, 2));
  }, [config.data]);
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(runs.reload, 1000);
    return () => clearTimeout(t);
  }, [running, runs.data]);
  return (
    <Page title="LDAP">
      <h2>Configuration</h2>
      <ErrorBox error={config.error} />
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          await act.run(() => api.setLDAPConfig(JSON.parse(text)), "Saved the LDAP configuration");
        }}
      >
        <div class="field">
          <label for="ldap-config">Configuration (JSON; reader passwords are write-only: set one to change it)</label>
          <textarea id="ldap-config" rows={14} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        </div>
        <button type="submit" disabled={act.busy}>
          Save
        </button>
      </form>
      <h2>Test login</h2>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await act.run(async () => setResult(JSON.stringify(await api.testLDAPLogin(user, pass), null, 2)), "Tested the login");
        }}
      >
        <Field label="Directory username" name="ldap-user" value={user} onInput={setUser} required />
        <Field label="Directory password" name="ldap-password" type="password" value={pass} onInput={setPass} required />
        <button type="submit" disabled={act.busy}>
          Test login
        </button>
      </form>
      {result && <pre>{result}</pre>}
      <h2>Sync</h2>
      <button type="button" disabled={act.busy || running} onClick={async () => (await act.run(() => api.startSync(), "Sync started")) && runs.reload()}>
        Sync now
      </button>
      {running && <Status text="A sync is running…" />}
      <ErrorBox error={runs.error || act.error} />
      {act.done && <Status text={act.done} />}
      {runs.data && runs.data.length === 0 && <Empty>No sync has run.</Empty>}
      <ul class="plain">
        {(runs.data ?? []).map((r) => (
          <li key={r.id}>
            #{r.id} {r.trigger} {r.state}: {r.startedAt} – {r.endedAt ?? "…"}, {r.changes ?? 0} changes
            {(r.errors ?? []).length > 0 && <span class="error-inline"> errors: {(r.errors ?? []).join("; ")}</span>}
          </li>
        ))}
      </ul>
    </Page>
  );
}
