import type { NetworkFacts, ServiceFacts } from "../../swarm/facts";
import { stackText } from "../../stacks/reading/stack-text";
import { lintContext, planDeploy, planExistingNetworks, type StackNetwork } from "../../stacks/deploy/plan";
import { HASH_LABEL, renderStack } from "../../stacks/template/render";
import { loadStackFile } from "../../stacks/template/template";

const wp = loadStackFile("wordpress");
const rendered = renderStack(stackText(wp.text, wp.file), { stack: "blog", vars: { domain: "x.org" }, mtu: 1450 });
const net = (name: string, options: Record<string, string>, ingress = false): NetworkFacts => ({
  name,
  id: name,
  driver: "overlay",
  ingress,
  options,
  labels: {},
});
const svc = (name: string, hash: string, networkIds: string[] = []): ServiceFacts => ({
  id: name,
  name,
  labels: { [HASH_LABEL]: hash },
  constraints: [],
  env: [],
  networkIds,
  secrets: [],
  image: "i",
  endpointMode: "vip",
  version: 1,
  updatedAt: 0,
});

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
    const facts = {
      networks: [net("traefik_public", { encrypted: "" })],
      secrets: new Set(["blog_db_root_password", "blog_db_password"]),
      services: [svc("blog_db", "old")],
    };
    expect(planDeploy(rendered, facts, 1450, 2)).toEqual([
      { kind: "deploy-stack", stack: "blog", reason: "2 service(s) differ from the rendered file" },
    ]);
  });

  it("tells lint which cluster networks are encrypted, plain, and whether ingress is encrypted", () => {
    const ctx = lintContext({
      networks: [net("traefik_public", { encrypted: "" }), net("legacy", {}), net("ingress", {}, true)],
    });
    expect([...(ctx.encryptedNetworks ?? [])]).toEqual(["traefik_public"]);
    expect([...(ctx.plainNetworks ?? [])]).toEqual(["legacy", "ingress"]);
    expect(ctx.ingressEncrypted).toBe(false);
  });

  describe("existing networks", () => {
    const own: StackNetwork = { key: "internal", name: "blog_internal", owner: "own", path: ["networks", "internal"] };
    const shared: StackNetwork = {
      key: "traefik_public",
      name: "traefik_public",
      owner: "guaranteed",
      path: ["networks", "traefik_public"],
    };
    const foreign: StackNetwork = { key: "legacy", name: "legacy", owner: "external", path: ["networks", "legacy"] };
    const good = { encrypted: "", "com.docker.network.driver.mtu": "1450" };
    const facts = (networks: NetworkFacts[], services: ServiceFacts[] = []) => ({
      networks,
      secrets: new Set<string>(),
      services: [],
      networkUsers: services,
    });

    it("leaves encrypted networks with the cluster's MTU alone", () => {
      expect(
        planExistingNetworks(
          [own, shared],
          facts([net("blog_internal", good), net("traefik_public", good)]),
          1450,
          "blog",
        ),
      ).toEqual({ recreate: [], refuse: [] });
    });

    it("recreates the stack's own or guaranteed network when it is plain or lacks the MTU and nothing uses it", () => {
      const plan = planExistingNetworks(
        [own, shared],
        facts([
          net("blog_internal", { "com.docker.network.driver.mtu": "1450" }),
          net("traefik_public", { encrypted: "" }),
        ]),
        1450,
        "blog",
      );
      expect(plan.refuse).toEqual([]);
      expect(plan.recreate).toEqual([
        { name: "blog_internal", why: "network blog_internal exists not encrypted", external: false, mtu: 1450 },
        {
          name: "traefik_public",
          why: "network traefik_public exists no com.docker.network.driver.mtu option (needs 1450)",
          external: true,
          mtu: 1450,
        },
      ]);
      const actions = planDeploy(
        rendered,
        {
          ...facts([net("traefik_public", { encrypted: "" })]),
          services: [svc("blog_db", rendered.hash), svc("blog_wordpress", rendered.hash)],
        },
        1450,
        2,
        plan,
      );
      expect(actions.map((a) => a.kind)).toEqual([
        "recreate-network",
        "recreate-network",
        "create-secret",
        "create-secret",
        "deploy-stack",
      ]);
    });

    it("refuses, with the fix, when services use the network or it is someone else's", () => {
      const plan = planExistingNetworks(
        [own, foreign],
        facts(
          [net("blog_internal", { encrypted: "", "com.docker.network.driver.mtu": "1500" }), net("legacy", {})],
          [svc("blog_db", "h", ["blog_internal"])],
        ),
        1450,
        "blog",
      );
      expect(plan.recreate).toEqual([]);
      expect(plan.refuse.map((r) => [r.network.name, r.message])).toEqual([
        [
          "blog_internal",
          expect.stringMatching(/MTU 1500 instead of 1450, and services use it \(blog_db\).*docker stack rm blog/),
        ],
        [
          "legacy",
          expect.stringMatching(
            /not encrypted and no .* option.*not this stack's to replace.*docker network rm legacy && docker network create .*--opt encrypted/,
          ),
        ],
      ]);
    });
  });
});
