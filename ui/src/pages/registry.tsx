// Repositories the caller may view.
import { api } from "../api";
import { ErrorBox, Page, useLoad, Empty, Link } from "../ui";

export function RepositoriesPage() {
  const repos = useLoad(() => api.repositories(), []);
  return (
    <Page title="Repositories">
      <ErrorBox error={repos.error} />
      {repos.data && repos.data.length === 0 && <Empty>No repositories you may view.</Empty>}
      <ul class="plain">
        {(repos.data ?? []).map((r) => (
          <li key={r.namespace + "/" + r.name}>
            <Link to={`/grants?object=repository:${r.namespace}/${r.name}`}>
              {r.namespace}/{r.name}
            </Link>{" "}
            ({r.visibility}) {r.description}
          </li>
        ))}
      </ul>
    </Page>
  );
}
