// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The few Hetzner Cloud API calls a resize needs, made from the NodeRoll provider (infra/node-roll.ts)
 * instead of by @pulumi/hcloud, which would resize every server of a role at once: a graceful
 * shutdown (ACPI, then a hard power-off only if the guest does not stop in time), the type change,
 * and the power-on the provider itself would leave out (terraform-provider-hcloud's update powers the
 * server off, changes the type and returns with it off).
 *
 * The endpoint and token are read inside the calls (HCLOUD_ENDPOINT, HCLOUD_TOKEN, or the token
 * handed in), never captured into state.
 */
import { sleep } from "../common/time";

/** Hetzner's public API; HCLOUD_ENDPOINT (as the hcloud CLI reads it) points elsewhere, e.g. the rehearsal's stand-in. */
export const HCLOUD_DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1";
/** One API request: the API answers in well under a second; a hung connection must not hold a roll. */
export const HCLOUD_REQUEST_TIMEOUT_MS = 30_000;
/** A server action (shutdown, change_type, poweron): a type change copies the disk and takes minutes on big disks. */
export const HCLOUD_ACTION_TIMEOUT_MS = 900_000;
/** A graceful shutdown: the guest's own services stop in seconds; past this the server is powered off hard. */
export const HCLOUD_SHUTDOWN_TIMEOUT_MS = 120_000;
/** Between two polls of an action or of the server's status: 3600 requests an hour is the account's whole budget. */
const HCLOUD_POLL_MS = 2_000;

export interface HcloudAccess {
  /** API token; default $HCLOUD_TOKEN. */
  readonly token?: string;
}

interface Action {
  readonly id: number;
  readonly status: "running" | "success" | "error";
  readonly error?: { readonly message?: string } | null;
}

async function call(access: HcloudAccess, method: string, path: string, body?: unknown): Promise<unknown> {
  const endpoint = (process.env.HCLOUD_ENDPOINT || HCLOUD_DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const token = access.token || process.env.HCLOUD_TOKEN;
  if (!token)
    throw new Error(
      "no Hetzner API token: set hcloud:token (pulumi config set --secret hcloud:token …) or HCLOUD_TOKEN",
    );
  const res = await fetch(`${endpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(HCLOUD_REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Hetzner API ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as unknown) : {};
}

async function waitAction(access: HcloudAccess, what: string, action: Action, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let a = action;
  while (a.status === "running") {
    if (Date.now() > deadline)
      throw new Error(`${what}: Hetzner action ${a.id} still running after ${timeoutMs / 1000} s`);
    await sleep(HCLOUD_POLL_MS);
    a = ((await call(access, "GET", `/actions/${a.id}`)) as { action: Action }).action;
  }
  if (a.status === "error") throw new Error(`${what}: ${a.error?.message ?? "Hetzner reports an error"}`);
}

async function act(access: HcloudAccess, serverId: number, name: string, body?: unknown): Promise<void> {
  const r = (await call(access, "POST", `/servers/${serverId}/actions/${name}`, body ?? {})) as { action: Action };
  await waitAction(access, `server ${serverId} ${name}`, r.action, HCLOUD_ACTION_TIMEOUT_MS);
}

export async function serverStatus(access: HcloudAccess, serverId: number): Promise<{ status: string; type: string }> {
  const r = (await call(access, "GET", `/servers/${serverId}`)) as {
    server: { status: string; server_type: { name: string } };
  };
  return { status: r.server.status, type: r.server.server_type.name };
}

/**
 * Shuts the server down (ACPI; powered off hard only if it is still running after
 * HCLOUD_SHUTDOWN_TIMEOUT_MS), changes its type (`upgrade_disk` = not keepDisk) and powers it on.
 * A server already of type `to` is only powered on if it is off: a re-run after a failure resumes.
 */
export async function resizeServer(
  access: HcloudAccess,
  serverId: number,
  to: string,
  keepDisk: boolean,
  log: (line: string) => void,
): Promise<void> {
  let now = await serverStatus(access, serverId);
  if (now.type !== to) {
    if (now.status !== "off") {
      log(`shutting server ${serverId} down`);
      await act(access, serverId, "shutdown");
      const deadline = Date.now() + HCLOUD_SHUTDOWN_TIMEOUT_MS;
      while ((now = await serverStatus(access, serverId)).status !== "off" && Date.now() < deadline)
        await sleep(HCLOUD_POLL_MS);
      if (now.status !== "off") {
        log(`server ${serverId} did not stop within ${HCLOUD_SHUTDOWN_TIMEOUT_MS / 1000} s; powering it off`);
        await act(access, serverId, "poweroff");
      }
    }
    log(`changing server ${serverId} to ${to} (${keepDisk ? "disk kept" : "disk upgraded"})`);
    await act(access, serverId, "change_type", { server_type: to, upgrade_disk: !keepDisk });
  }
  if ((await serverStatus(access, serverId)).status !== "running") {
    log(`powering server ${serverId} on`);
    await act(access, serverId, "poweron");
  }
}
