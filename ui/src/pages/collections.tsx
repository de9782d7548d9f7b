// The collection tree, loaded one level at a time (20,000 collections stay
// fast): expand a node to list its children; select it for its grants.
import { useEffect, useState } from "preact/hooks";
import { api, type Collection } from "../api";
import { ErrorBox, Field, Page, Status, useAction, useLoad, Link, errorText } from "../ui";
import { GrantTable } from "./grants";

/** useChildren loads a node's children a page at a time ("Show more"). */
function useChildren(path: string, open: boolean) {
  const [items, setItems] = useState<Collection[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const load = async (token: string) => {
    setBusy(true);
    try {
      const page = await api.collections(path, token);
      setItems((xs) => (token ? [...xs, ...page.items] : page.items));
      setNext(page.next);
      setError("");
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    if (open) load("");
  }, [open, path]);
  return { items, next, error, busy, more: () => load(next) };
}

function Node(props: { c: Collection; selected: string; onSelect: (p: string) => void; depth: number }) {
  const [open, setOpen] = useState(props.c.path === "/" || props.selected.startsWith(props.c.path + "/"));
  const children = useChildren(props.c.path, open);
  const name = props.c.path === "/" ? "/" : props.c.path.slice(props.c.path.lastIndexOf("/") + 1);
  return (
    <li role="treeitem" aria-expanded={open} aria-selected={props.selected === props.c.path} aria-level={props.depth}>
      <button type="button" class="toggle" aria-label={(open ? "Collapse " : "Expand ") + props.c.path} onClick={() => setOpen(!open)}>
        {open ? "▾" : "▸"}
      </button>
      <button type="button" class={"node" + (props.selected === props.c.path ? " selected" : "")} onClick={() => props.onSelect(props.c.path)}>
        {name}
      </button>
      {open && children.error && <ErrorBox error={children.error} />}
      {open && children.items.length > 0 && (
        <ul role="group">
          {children.items.map((c) => (
            <Node key={c.path} c={c} selected={props.selected} onSelect={props.onSelect} depth={props.depth + 1} />
          ))}
        </ul>
      )}
      {open && children.next && (
        <button type="button" class="more" disabled={children.busy} onClick={children.more}>
          Show more of {props.c.path}
        </button>
      )}
    </li>
  );
}

export function CollectionsPage(props: { path: string }) {
  const selected = props.path || "/";
  const select = (p: string) => (location.hash = "#/collections" + (p === "/" ? "" : p));
  const [name, setName] = useState("");
  const act = useAction();
  const grants = useLoad(() => api.grants({ object: "collection:" + selected }), [selected, act.done]);
  const [treeKey, setTreeKey] = useState(0);
  return (
    <Page title="Collections">
      <div class="split">
        <nav aria-label="Collection tree" class="tree">
          <ul role="tree" aria-label="Collections" key={treeKey}>
            <Node c={{ path: "/" }} selected={selected} onSelect={select} depth={1} />
          </ul>
        </nav>
        <div class="detail">
          <h2>{selected}</h2>
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              const path = (selected === "/" ? "" : selected) + "/" + name;
              if (await act.run(() => api.createCollection(path), `Created ${path}`)) {
                setName("");
                setTreeKey((k) => k + 1);
              }
            }}
          >
            <Field label="New child collection" name="child" value={name} onInput={setName} required />
            <button type="submit" disabled={act.busy}>
              Create
            </button>
          </form>
          {selected !== "/" && (
            <button
              type="button"
              class="danger"
              disabled={act.busy}
              onClick={async () => {
                if (!confirm(`Delete ${selected} and the grants on it?`)) return;
                if (await act.run(() => api.deleteCollection(selected, true), `Deleted ${selected}`)) {
                  setTreeKey((k) => k + 1);
                  select(selected.slice(0, selected.lastIndexOf("/")) || "/");
                }
              }}
            >
              Delete {selected}
            </button>
          )}
          <ErrorBox error={act.error} />
          {act.done && <Status text={act.done} />}
          <h3>Grants on {selected}</h3>
          <ErrorBox error={grants.error} />
          {grants.data && (
            <GrantTable
              grants={grants.data}
              onChange={grants.reload}
              empty={
                <>
                  No grants on this collection. <Link to={"/grants?object=collection:" + selected}>Grant a role here</Link>.
                </>
              }
            />
          )}
        </div>
      </div>
    </Page>
  );
}
