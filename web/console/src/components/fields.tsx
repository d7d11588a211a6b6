// Form controls with a real <label for>, an optional hint, and the error
// next to the field: <p id="<id>-error" role="alert">, which the input names
// in aria-describedby (with aria-invalid) while it is shown.

import type { ComponentChildren } from "preact";

interface Base {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  required?: boolean;
  disabled?: boolean;
}

function describedBy(p: Base): string | undefined {
  const ids: string[] = [];
  if (p.hint) {
    ids.push(`${p.id}-hint`);
  }
  if (p.error) {
    ids.push(`${p.id}-error`);
  }
  return ids.length > 0 ? ids.join(" ") : undefined;
}

function Hint(p: Base) {
  return p.hint ? (
    <p id={`${p.id}-hint`} class="hint">
      {p.hint}
    </p>
  ) : null;
}

export function FieldError(p: { id: string; error?: string | undefined }) {
  return p.error ? (
    <p id={`${p.id}-error`} class="field-error" role="alert">
      {p.error}
    </p>
  ) : null;
}

function Label(p: Base) {
  return (
    <label for={p.id}>
      {p.label}
      {p.required ? <span class="required"> (required)</span> : null}
    </label>
  );
}

export function TextField(
  p: Base & {
    value: string;
    onValue: (v: string) => void;
    type?: "text" | "password" | "url" | "search";
    autocomplete?: string;
    placeholder?: string;
    inputMode?: "text" | "numeric";
    spellcheck?: boolean;
  },
) {
  return (
    <div class="field">
      <Label {...p} />
      <input
        id={p.id}
        name={p.id}
        // Preact types each input type's attributes apart; these four take the same ones.
        type={(p.type ?? "text") as "text"}
        value={p.value}
        onInput={(e) => p.onValue(e.currentTarget.value)}
        autocomplete={p.autocomplete ?? "off"}
        placeholder={p.placeholder}
        inputMode={p.inputMode}
        spellcheck={p.spellcheck ?? false}
        required={p.required}
        disabled={p.disabled}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy(p)}
      />
      <Hint {...p} />
      <FieldError id={p.id} error={p.error} />
    </div>
  );
}

export function TextAreaField(
  p: Base & { value: string; onValue: (v: string) => void; rows?: number; placeholder?: string },
) {
  return (
    <div class="field">
      <Label {...p} />
      <textarea
        id={p.id}
        name={p.id}
        value={p.value}
        rows={p.rows ?? 3}
        onInput={(e) => p.onValue(e.currentTarget.value)}
        placeholder={p.placeholder}
        spellcheck={false}
        required={p.required}
        disabled={p.disabled}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy(p)}
      />
      <Hint {...p} />
      <FieldError id={p.id} error={p.error} />
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

export function SelectField(p: Base & { value: string; onValue: (v: string) => void; options: Option[] }) {
  return (
    <div class="field">
      <Label {...p} />
      <select
        id={p.id}
        name={p.id}
        value={p.value}
        onChange={(e) => p.onValue(e.currentTarget.value)}
        required={p.required}
        disabled={p.disabled}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy(p)}
      >
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Hint {...p} />
      <FieldError id={p.id} error={p.error} />
    </div>
  );
}

export function CheckboxField(p: Base & { checked: boolean; onChecked: (v: boolean) => void }) {
  return (
    <div class="field field-checkbox">
      <input
        id={p.id}
        name={p.id}
        type="checkbox"
        checked={p.checked}
        onChange={(e) => p.onChecked(e.currentTarget.checked)}
        disabled={p.disabled}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy(p)}
      />
      <label for={p.id}>{p.label}</label>
      <Hint {...p} />
      <FieldError id={p.id} error={p.error} />
    </div>
  );
}

/** The error of a form as a whole: <p id="<form id>-error" role="alert">. */
export function FormError(p: { id: string; error?: string | undefined }) {
  return <FieldError id={p.id} error={p.error} />;
}

/** A polite live region for what an action did ("Saved."). */
export function Status(p: { id?: string; children?: ComponentChildren }) {
  return (
    <p id={p.id} class="status" role="status" aria-live="polite">
      {p.children}
    </p>
  );
}
