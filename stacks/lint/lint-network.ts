// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * The network rules, judged on what `docker stack deploy` creates and attaches: only networks that
 * some service uses are created (a declared, unused one is never made, so it is not judged), and a
 * service with no `networks:` — or with `networks: []` / `{}`, which Docker reads the same way — is
 * attached to `default`. That `default` may be declared: encrypted (fine), external under another
 * real name (judged as that network), or external with the real name `host` (the node's host
 * network, refused like `network_mode: host`).
 */
import type { LintContext } from "./lint";
import type { At } from "./lint-at";
import type { NetworkModel, ServiceModel, StackModel } from "../reading/structure";

/** External networks that are not overlays. */
const NOT_OVERLAY: readonly string[] = ["none", "bridge"];
const HOST_STACK =
  "the service shares the node's network stack (every interface and port, the swarm's own ports, the metadata address)";

/** Network keys each service is attached to, `default` included when it lists none. */
export function attachedKeys(svc: ServiceModel): string[] {
  return svc.networks === undefined ? ["default"] : svc.networks.map((r) => r.key);
}

/** The networks Docker creates or attaches for this stack: those some service uses. */
function usedNetworks(model: StackModel): NetworkModel[] {
  return model.networks.filter((n) => model.services.some((s) => attachedKeys(s).includes(n.key)));
}

export function networkRules(
  stack: string,
  model: StackModel,
  guaranteed: readonly string[],
  ctx: LintContext,
  at: At,
): void {
  for (const n of usedNetworks(model)) {
    const overlay = n.driver === undefined || n.driver === "overlay";
    if (!n.external) {
      const real = n.name !== n.key ? n.name : `${stack}_${n.key}`;
      if (overlay && !n.encrypted) {
        at(
          n.path,
          "unencrypted-overlay",
          `overlay network ${real} is not encrypted${n.key === "default" ? " (services without networks: join it)" : ""}: traffic between nodes would cross the wire in clear; add driver_opts: {encrypted: ""}`,
          { network: n.key },
        );
      }
      continue;
    }
    const named = n.name !== n.key ? ` (its real name; the key is "${n.key}")` : "";
    const where = n.name !== n.key ? [...n.path, "name"] : n.path;
    // The host network is judged per service that joins it (hostNetworkRules).
    if (n.name === "host" || NOT_OVERLAY.includes(n.name)) continue;
    if (ctx.plainNetworks?.has(n.name)) {
      at(
        where,
        "external-network",
        `external network "${n.name}"${named} exists in the cluster WITHOUT encryption, which cannot be added later; recreate it: docker network rm ${n.name} && docker network create -d overlay --attachable --opt encrypted ${n.name}`,
        { network: n.key },
      );
    } else if (!guaranteed.includes(n.name) && !ctx.encryptedNetworks?.has(n.name)) {
      at(
        where,
        "external-network",
        `external network "${n.name}"${named} is not known to be encrypted; list it under x-hcloud-swarm: external-networks: so deploy creates it encrypted, or create it with --opt encrypted before deploying`,
        { network: n.key },
      );
    }
  }
  if (model.networks.some((n) => n.key === "default")) return;
  for (const svc of model.services) {
    const ref = svc.networks?.find((r) => r.key === "default");
    if (svc.networks === undefined || ref) {
      at(
        ref?.path ?? svc.path,
        "unencrypted-overlay",
        `the service has no networks: (or an empty list), so stack deploy attaches it to the implicit overlay "${stack}_default", which is not encrypted; give it an encrypted network, or declare networks: default: driver_opts: {encrypted: ""}`,
        { service: svc.name, network: `${stack}_default` },
      );
    }
  }
}

/** A service on a network whose real name is `host`, listed or through `default`. */
export function hostNetworkRules(
  model: StackModel,
  allowed: (service: string) => boolean,
  declare: string,
  at: At,
): void {
  for (const svc of model.services) {
    for (const key of attachedKeys(svc)) {
      const n = model.networks.find((x) => x.key === key);
      if (!n?.external || n.name !== "host" || allowed(svc.name)) continue;
      const ref = svc.networks?.find((r) => r.key === key);
      const how = ref
        ? `network "${key}" is the host network`
        : `the service has no networks:, so it joins "default", which is declared external with the real name host`;
      at(
        ref?.path ?? svc.path,
        "host-access",
        `${how}: ${HOST_STACK}; remove it (give the service an encrypted overlay), or ${declare}`,
        { service: svc.name, network: key },
      );
    }
  }
}
