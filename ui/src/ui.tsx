// Small building blocks: every control labelled, every error in a live
// region with the API's own message, a busy state for long calls.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { APIError } from "./api";

export function errorText(e: unknown): string {
  if (e instanceof APIError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** useLoad runs load when deps change; reload() runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setError("");
    load().then(
      (d) => live && setData(d),
      (e) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function ErrorBox({ error }: { error: string }) {
  return (
    <div role="alert" class="error" hidden={!error}>
      {error}
    </div>
  );
}

export function Status({ text }: { text: string }) {
  return (
    <p role="status" class="status">
      {text}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Field(props: {
  label: string;
  value: string;
  onInput: (v: string) => void;
  type?: string;
  list?: string;
  required?: boolean;
  placeholder?: string;
  autocomplete?: string;
  name?: string;
}) {
  const id = "f-" + (props.name ?? props.label.toLowerCase().replace(/[^a-z0-9]+/g, "-"));
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name ?? id}
        type={props.type ?? "text"}
        value={props.value}
        list={props.list}
        required={props.required}
        placeholder={props.placeholder}
        autocomplete={props.autocomplete ?? "off"}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}

export function Select(props: { label: string; value: string; onChange: (v: string) => void; options: [string, string][]; name?: string }) {
  const id = "s-" + (props.name ?? props.label.toLowerCase().replace(/[^a-z0-9]+/g, "-"));
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name ?? id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map(([v, text]) => (
          <option value={v} key={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Action runs a call with a busy state and reports its error or success. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  async function run(f: () => Promise<unknown>, success: string) {
    setBusy(true);
    setError("");
    setDone("");
    try {
      await f();
      setDone(success);
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, done, run };
}

export function Page(props: { title: string; children: ComponentChildren }) {
  useEffect(() => {
    document.title = props.title + " · grantd";
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1}>
        {props.title}
      </h1>
      {props.children}
    </section>
  );
}

export function Link(props: { to: string; children: ComponentChildren }) {
  return <a href={"#" + props.to}>{props.children}</a>;
}

export interface FieldSpec {
  label: string;
  name: string;
  type?: string;
  required?: boolean;
  autocomplete?: string;
}

/** InlineForm is a one-line form of text fields and a button: it runs
 * submit with the values, says what happened, and clears itself after a
 * success. */
export function InlineForm(props: {
  fields: FieldSpec[];
  button: string;
  submit: (values: Record<string, string>) => Promise<unknown>;
  success: (values: Record<string, string>) => string;
  onDone?: () => void;
}) {
  const empty = () => Object.fromEntries(props.fields.map((f) => [f.name, ""]));
  const [values, setValues] = useState<Record<string, string>>(empty);
  const act = useAction();
  return (
    <>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await act.run(() => props.submit(values), props.success(values))) {
            setValues(empty());
            props.onDone?.();
          }
        }}
      >
        {props.fields.map((f) => (
          <Field
            key={f.name}
            label={f.label}
            name={f.name}
            type={f.type}
            required={f.required ?? true}
            autocomplete={f.autocomplete}
            value={values[f.name]}
            onInput={(v) => setValues({ ...values, [f.name]: v })}
          />
        ))}
        <button type="submit" disabled={act.busy}>
          {props.button}
        </button>
      </form>
      <ErrorBox error={act.error} />
      {act.done && <Status text={act.done} />}
    </>
  );
}
