import type { NetworkFacts, ServiceFacts } from "../../stacks/cluster";
import { lintContext, mtuWarnings, planDeploy } from "../../stacks/plan";
import { HASH_LABEL, renderStack } from "../../stacks/render";
import { loadStackFile } from "../../stacks/template";

const wp = loadStackFile("wordpress");
const rendered = renderStack(wp.text, wp.file, { stack: "blog", vars: { domain: "x.org" }, mtu: 1450 });
const net = (name: string, options: Record<string, string>, ingress = false): NetworkFacts => ({ name, id: name, driver: "overlay", ingress, options, labels: {} });
const svc = (name: string, hash: string): ServiceFacts => ({ name, labels: { [HASH_LABEL]: hash }, constraints: [], env: [], networkIds: [], secrets: [], image: "i", endpointMode: "vip", version: 1 });

describe("stack deploy plan", () => {
  it("creates the external network and secrets, then deploys, on an empty cluster", () => {
    const actions = planDeploy(rendered, { networks: [], secrets: new Set(), services: [] }, 1450, 2);
    expect(actions).toEqual([
      { kind: "create-network", name: "traefik_public", mtu: 1450 },
      { kind: "create-secret", name: "blog_db_root_password", key: "db_root_password" },
      { kind: "create-secret", name: "blog_db_password", key: "db_password" },
      { kind: "deploy-stack", stack: "blog", reason: "stack is not deployed" },
    ]);
  });

  it("does nothing when every service already carries this rendering's hash", () => {
    const facts = {
      networks: [net("traefik_public", { encrypted: "" })],
      secrets: new Set(["blog_db_root_password", "blog_db_password"]),
      services: [svc("blog_db", rendered.hash), svc("blog_wordpress", rendered.hash)],
    };
    expect(planDeploy(rendered, facts, 1450, 2)).toEqual([]);
  });

  it("redeploys when a service differs or is missing, but never recreates existing secrets", () => {
    const facts = { networks: [net("traefik_public", { encrypted: "" })], secrets: new Set(["blog_db_root_password", "blog_db_password"]), services: [svc("blog_db", "old")] };
    expect(planDeploy(rendered, facts, 1450, 2)).toEqual([{ kind: "deploy-stack", stack: "blog", reason: "2 service(s) differ from the rendered file" }]);
  });

  it("tells lint which cluster networks are encrypted, plain, and whether ingress is encrypted", () => {
    const ctx = lintContext({ networks: [net("traefik_public", { encrypted: "" }), net("legacy", {}), net("ingress", {}, true)] });
    expect([...(ctx.encryptedNetworks ?? [])]).toEqual(["traefik_public"]);
    expect([...(ctx.plainNetworks ?? [])]).toEqual(["legacy", "ingress"]);
    expect(ctx.ingressEncrypted).toBe(false);
  });

  it("warns when an existing external network lacks the cluster's MTU", () => {
    expect(mtuWarnings(rendered, { networks: [net("traefik_public", { encrypted: "" })], secrets: new Set(), services: [] }, 1450)).toEqual([expect.stringMatching(/no MTU option instead of 1450/)]);
  });
});
