// A data table: scrolls sideways in its wrapper, a caption for screen
// readers, one header row of column names and, when the rows have buttons,
// an Actions column named for screen readers only.

import type { ComponentChildren } from "preact";

export function Table(p: {
  id?: string;
  class?: string;
  hidden?: boolean;
  caption: ComponentChildren;
  /** Column names; false leaves a column out. */
  columns: (string | false)[];
  /** A last column of row actions. */
  actions?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table id={p.id} class={p.class} hidden={p.hidden}>
        <caption class="visually-hidden">{p.caption}</caption>
        <thead>
          <tr>
            {p.columns.map((c) =>
              c === false ? null : (
                <th key={c} scope="col">
                  {c}
                </th>
              ),
            )}
            {p.actions ? (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>{p.children}</tbody>
      </table>
    </div>
  );
}
