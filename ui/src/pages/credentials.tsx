// The caller's own credentials: API tokens (the secret shown once) and
// client bundles (created and downloaded, revoked).
import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBox, InlineForm, Page, Status, useAction, useLoad, Empty } from "../ui";

export function CredentialsPage() {
  const tokens = useLoad(() => api.tokens(), []);
  const bundles = useLoad(() => api.bundles(), []);
  const [secret, setSecret] = useState("");
  const act = useAction();
  return (
    <Page title="Tokens and bundles">
      <h2>API tokens</h2>
      <ErrorBox error={tokens.error} />
      {tokens.data && tokens.data.length === 0 && <Empty>No API tokens.</Empty>}
      <ul class="plain">
        {(tokens.data ?? []).map((t) => (
          <li key={t.id}>
            {t.name} <code>{t.id}</code>{" "}
            <button type="button" class="danger" aria-label={"Revoke token " + t.name} onClick={async () => (await act.run(() => api.revokeToken(t.id), "Revoked " + t.name)) && tokens.reload()}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <InlineForm
        fields={[{ label: "New token name", name: "token-name" }]}
        button="Create token"
        submit={async (v) => {
          setSecret("");
          setSecret((await api.createToken(v["token-name"], "")).secret);
        }}
        success={(v) => "Created token " + v["token-name"]}
        onDone={tokens.reload}
      />
      {secret && (
        <div class="secret" role="status">
          <p>The token's secret, shown only now:</p>
          <code>{secret}</code>
        </div>
      )}
      <h2>Client bundles</h2>
      <ErrorBox error={bundles.error} />
      {bundles.data && bundles.data.length === 0 && <Empty>No client bundles.</Empty>}
      <ul class="plain">
        {(bundles.data ?? []).map((b) => (
          <li key={b.serial}>
            {b.label || "(no label)"} <code>{b.serial}</code> {b.revoked ? "revoked" : ""}{" "}
            {!b.revoked && (
              <button type="button" class="danger" aria-label={"Revoke bundle " + b.serial} onClick={async () => (await act.run(() => api.revokeBundle(b.serial), "Revoked bundle")) && bundles.reload()}>
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      <InlineForm
        fields={[{ label: "Bundle label", name: "bundle-label", required: false }]}
        button="Create and download bundle"
        submit={async (v) => {
          const r = await api.createBundle(v["bundle-label"]);
          const bytes = Uint8Array.from(atob(r.zip), (c) => c.charCodeAt(0));
          const a = document.createElement("a");
          a.href = URL.createObjectURL(new Blob([bytes], { type: "application/zip" }));
          a.download = `grantd-bundle-${r.bundle.serial}.zip`;
          a.click();
          URL.revokeObjectURL(a.href);
        }}
        success={() => "Created the bundle and downloaded it"}
        onDone={bundles.reload}
      />
      <ErrorBox error={act.error} />
      {act.done && <Status text={act.done} />}
    </Page>
  );
}
