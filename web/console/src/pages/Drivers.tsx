// #/drivers: the registered cluster drivers; admins install one by URL,
// remove one, or go on to create a cluster with it.

import { useEffect, useState } from "preact/hooks";

import { ConfirmButton } from "../components/confirm";
import { FormError, SelectField, Status, TextField } from "../components/fields";
import { LoadError, Page } from "../components/page";
import { DateTime } from "../components/time";
import { Table } from "../components/table";
import { checkDNSLabel, formMessage, placeError, useForm, useListActions, type Errors } from "../lib/forms";
import { href } from "../lib/router";
import { useServices } from "../lib/services";
import type { Driver, Me } from "../lib/types";

export function Drivers(p: { me: Me }) {
  const { api } = useServices();
  const [drivers, setDrivers] = useState<Driver[] | undefined>();
  const [loadError, setLoadError] = useState("");
  const { said, setSaid, listError, act } = useListActions();

  const load = async () => {
    try {
      setDrivers((await api.drivers()).items ?? []);
      setLoadError("");
    } catch (err) {
      setLoadError(formMessage(err));
    }
  };
  useEffect(() => {
    void load();
  }, [api]);

  const remove = (d: Driver) =>
    act(async () => {
      await api.del(`/v3/drivers/${encodeURIComponent(d.name)}`);
      setSaid(`Driver ${d.name} was removed.`);
      await load();
    });

  return (
    <Page title="Drivers">
      <p class="hint">
        Drivers provision clusters (a hosted service, or machines of your own); Drover then installs its agents in
        them.
      </p>
      <Status id="drivers-status">{said}</Status>
      <FormError id="drivers" error={listError} />
      {loadError ? <LoadError message={loadError} /> : null}
      {drivers === undefined && !loadError ? <p role="status">Loading…</p> : null}
      {drivers !== undefined && drivers.length === 0 ? <p>No drivers are registered.</p> : null}
      {drivers !== undefined && drivers.length > 0 ? (
        <Table id="drivers" caption="Registered drivers" columns={["Name", "Source", "Sandboxed", "Address", "Checksum", "Installed"]} actions={p.me.admin}>
          {drivers.map((d) => (
            <tr key={d.name} data-driver={d.name}>
              <th scope="row">{d.name}</th>
              <td class="wrap">{d.builtin ? "built in" : (d.url ?? "")}</td>
              <td>{d.sandboxed ? "yes" : "no (runs as the server's user, or is refused)"}</td>
              <td>{d.address}</td>
              <td>
                <code title={d.checksum}>{d.checksum.slice(0, 12)}</code>
              </td>
              <td>{d.createdAt ? <DateTime iso={d.createdAt} /> : ""}</td>
              {p.me.admin ? (
                <td class="row-actions">
                  <a class="button" href={href("drivers", d.name, "create")}>
                    Create a cluster
                  </a>
                  {d.builtin ? null : (
                    <ConfirmButton
                      label="Remove"
                      ariaLabel={`Remove driver ${d.name}`}
                      className="driver-remove"
                      confirmClassName="driver-remove-confirm"
                      question={`Remove driver ${d.name}?`}
                      confirmLabel="Remove driver"
                      onConfirm={() => remove(d)}
                    />
                  )}
                </td>
              ) : null}
            </tr>
          ))}
        </Table>
      ) : null}
      {p.me.admin ? <InstallDriver onInstalled={load} /> : null}
    </Page>
  );
}

const sha256RE = /^[0-9a-fA-F]{64}$/;

function InstallDriver(p: { onInstalled: () => Promise<void> }) {
  const { api } = useServices();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [checksum, setChecksum] = useState("");
  const [address, setAddress] = useState("port");
  const { errors, busy, submit: send } = useForm();
  const [said, setSaid] = useState("");

  const submit = async (e: Event) => {
    e.preventDefault();
    setSaid("");
    const errs: Errors = {};
    const badName = checkDNSLabel(name.trim(), "driver name");
    if (badName) {
      errs["driver-name"] = badName;
    }
    let u: URL | undefined;
    try {
      u = new URL(url.trim());
    } catch {
      errs["driver-url"] = "Enter the driver's download URL (https://…).";
    }
    if (u && u.protocol !== "https:" && u.protocol !== "http:") {
      errs["driver-url"] = "The URL must be http or https.";
    }
    if (checksum.trim() !== "" && !sha256RE.test(checksum.trim())) {
      errs["driver-checksum"] = "The checksum is a SHA-256: 64 hexadecimal characters.";
    }
    if (u && u.protocol === "http:" && checksum.trim() === "") {
      errs["driver-checksum"] = "An http URL needs a checksum.";
    }
    await send(
      errs,
      async () => {
        const body: Record<string, string> = { name: name.trim(), url: url.trim(), address };
        if (checksum.trim() !== "") {
          body["checksum"] = checksum.trim();
        }
        const d = await api.post<Driver>("/v3/drivers", body);
        setSaid(`Driver ${d.name} was installed.`);
        setName("");
        setUrl("");
        setChecksum("");
        await p.onInstalled();
      },
      (err) => placeError(err, { name: "driver-name", url: "driver-url", checksum: "driver-checksum", address: "driver-address" }),
    );
  };

  return (
    <section class="card" aria-labelledby="driver-install-title">
      <h2 id="driver-install-title">Install a driver</h2>
      <form id="driver" onSubmit={submit} noValidate>
        <TextField id="driver-name" label="Name" value={name} onValue={setName} required error={errors["driver-name"]} />
        <TextField
          id="driver-url"
          label="Download URL"
          type="url"
          value={url}
          onValue={setUrl}
          required
          error={errors["driver-url"]}
        />
        <TextField
          id="driver-checksum"
          label="SHA-256 checksum"
          value={checksum}
          onValue={setChecksum}
          hint="Required for an http URL; the download is refused when it does not match."
          error={errors["driver-checksum"]}
        />
        <SelectField
          id="driver-address"
          label="Listens on"
          value={address}
          onValue={setAddress}
          options={[
            { value: "port", label: "a loopback port (kontainer-engine drivers)" },
            { value: "unix", label: "a unix socket" },
          ]}
          error={errors["driver-address"]}
        />
        <FormError id="driver" error={errors[""]} />
        <div class="actions">
          <button type="submit" id="driver-install" class="primary" disabled={busy}>
            {busy ? "Installing…" : "Install driver"}
          </button>
        </div>
        <Status id="driver-status">{said}</Status>
      </form>
    </section>
  );
}
