/**
 * Talks to a node's daemons from the host without spawning anything: dockerd's API over its unix
 * socket, reached through /proc/<pid>/root, i.e. inside the node's mount namespace. Spawning the
 * docker CLI 20 times in a poll loop would cost seconds on 2 cores.
 */
import * as fs from "fs";
import * as http from "http";

/** A single probe must not hang a status or readiness loop. */
const PROBE_TIMEOUT_MS = 2_000;
/** Loading a 2 MB image into a fresh dockerd; generous because 20 nodes import at once on 2 cores. */
const IMPORT_TIMEOUT_MS = 120_000;

/** The docker socket of the node that `pid` belongs to. */
export function dockerSocketOf(pid: number): string {
  return `/proc/${pid}/root/run/docker.sock`;
}

interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

function api(
  socketPath: string,
  method: string,
  urlPath: string,
  body?: fs.ReadStream,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method,
        path: urlPath,
        timeout: timeoutMs,
        headers: body ? { "Content-Type": "application/x-tar" } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${urlPath} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

/** True when dockerd answers `GET /_ping` with OK. */
export async function dockerPing(socketPath: string): Promise<boolean> {
  try {
    const r = await api(socketPath, "GET", "/_ping");
    return r.status === 200 && r.body === "OK";
  } catch {
    return false;
  }
}

/** `docker info` fields the bed reports: the node's own name and engine version. */
export async function dockerInfo(socketPath: string): Promise<{ name: string; serverVersion: string }> {
  const r = await api(socketPath, "GET", "/info");
  if (r.status !== 200) throw new Error(`GET /info answered ${r.status}: ${r.body.slice(0, 200)}`);
  const info = JSON.parse(r.body) as { Name: string; ServerVersion: string };
  return { name: info.Name, serverVersion: info.ServerVersion };
}

/** `docker load` through the API. The answer is a JSON stream; an error shows up in it, not in the status. */
export async function dockerLoad(socketPath: string, tarPath: string): Promise<void> {
  const r = await api(socketPath, "POST", "/images/load?quiet=1", fs.createReadStream(tarPath), IMPORT_TIMEOUT_MS);
  const err = /"error(?:Detail)?":\s*"?([^"}]*)/.exec(r.body);
  if (r.status !== 200 || err)
    throw new Error(`loading ${tarPath} failed (${r.status}): ${err ? err[1] : r.body.slice(0, 300)}`);
}

/** Loads the bed's image into one node's dockerd, given any pid of that node. */
export function importImage(nodePid: number, tar: string): Promise<void> {
  return dockerLoad(dockerSocketOf(nodePid), tar);
}
