// Users: local and from auth providers; create a local user, disable or
// enable one.

import { useState } from "preact/hooks";

import { ConfirmButton } from "../../components/confirm";
import { CheckboxField, FormError, Status, TextField } from "../../components/fields";
import { DateTime } from "../../components/time";
import { Table } from "../../components/table";
import { checkPassword, checkUsername, placeError, useForm, useListActions, type Errors } from "../../lib/forms";
import { useServices } from "../../lib/services";
import type { Me, User } from "../../lib/types";

export function Users(p: { me: Me; users: User[]; reload: () => Promise<void> }) {
  const { api } = useServices();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const { errors, busy, submit } = useForm();
  const { said, setSaid, listError, act } = useListActions();

  const create = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const errs: Errors = {};
    const u = checkUsername(username.trim());
    if (u) {
      errs["user-username"] = u;
    }
    const pw = checkPassword(password);
    if (pw) {
      errs["user-password"] = pw;
    }
    await submit(
      errs,
      async () => {
        const created = await api.createUser(username.trim(), password, admin);
        setSaid(`User ${created.username} was created.`);
        setUsername("");
        setPassword("");
        setAdmin(false);
        await p.reload();
      },
      (err) => placeError(err, { username: "user-username", password: "user-password", admin: "user-admin" }, "user-username"),
    );
  };

  const setDisabled = (u: User, disabled: boolean) =>
    act(async () => {
      await api.setUserDisabled(u.id, disabled);
      setSaid(`${u.username} is ${disabled ? "disabled; its tokens were deleted" : "enabled again"}.`);
      await p.reload();
    });

  const users = [...p.users].sort((a, b) => (a.username < b.username ? -1 : 1));

  return (
    <section class="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <Status id="users-status">{said}</Status>
      <FormError id="users" error={listError} />
      <Table id="users" caption="Users" columns={["Username", "Provider", "Name", "Admin", "Groups", "Status", "Created"]} actions>
        {users.map((u) => (
          <tr key={u.id} data-user-id={u.id}>
            <th scope="row">{u.username}</th>
            <td>{u.provider}</td>
            <td>{u.displayName ?? u.login ?? ""}</td>
            <td>{u.admin ? "yes" : "no"}</td>
            <td class="wrap">
              {u.groups && u.groups.length > 0 ? (
                <ul class="plain">
                  {u.groups.map((g) => (
                    <li key={g}>{g}</li>
                  ))}
                </ul>
              ) : (
                ""
              )}
            </td>
            <td data-field="status">{u.disabled ? "disabled" : "enabled"}</td>
            <td>
              <DateTime iso={u.createdAt} />
            </td>
            <td class="row-actions">
              {u.id === p.me.id ? (
                <span class="muted">you</span>
              ) : u.disabled ? (
                <button type="button" class="user-enable" aria-label={`Enable ${u.username}`} onClick={() => void setDisabled(u, false)}>
                  Enable
                </button>
              ) : (
                <ConfirmButton
                  label="Disable"
                  ariaLabel={`Disable ${u.username}`}
                  className="user-disable"
                  confirmClassName="user-disable-confirm"
                  question={`Disable ${u.username}? Every token of the user is deleted at once; enabling again revives none.`}
                  confirmLabel="Disable user"
                  onConfirm={() => setDisabled(u, true)}
                />
              )}
            </td>
          </tr>
        ))}
      </Table>

      <h3>New local user</h3>
      <form id="user" onSubmit={create} noValidate>
        <TextField
          id="user-username"
          label="Username"
          value={username}
          onValue={setUsername}
          required
          hint="1–63 of a–z, 0–9, . _ @ -, starting with a letter or digit."
          error={errors["user-username"]}
        />
        <TextField
          id="user-password"
          label="Password"
          type="password"
          autocomplete="new-password"
          value={password}
          onValue={setPassword}
          required
          hint="12 to 72 bytes."
          error={errors["user-password"]}
        />
        <CheckboxField
          id="user-admin"
          label="Drover admin (may do anything, in every cluster)"
          checked={admin}
          onChecked={setAdmin}
          error={errors["user-admin"]}
        />
        <FormError id="user" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="user-create" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
    </section>
  );
}
