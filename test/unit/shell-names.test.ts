/**
 * Names that reach a remote shell: validated where they enter (transport/shell.ts nameProblem, used
 * by the inventory, the stacks config, the renderer and the CLI), quoted where they are used
 * (shellQuote, judged here by a real /bin/sh).
 */
import { execFileSync } from "child_process";
import { stackText } from "../../stacks/reading/stack-text";
import { validateInventory } from "../../inventory/inventory";
import { parseStacksConfig } from "../../stacks/pulumi/stack-config";
import { renderStack } from "../../stacks/template/render";
import { checkedName, nameProblem, NameKind, shellQuote } from "../../transport/shell";

/** Strings built to break out of a quoted word or to be read as an option or a second command. */
const HOSTILE = [
  "x; touch /tmp/p #",
  "x' ; touch /tmp/p ; echo '",
  "$(touch /tmp/p)",
  "`touch /tmp/p`",
  "x\ntouch /tmp/p",
  "x && touch /tmp/p",
  "x | touch /tmp/p",
  "--help",
  "-f",
  "x\u0000y",
  "x\r",
  "../../etc/passwd",
  "x y",
  "",
  "a".repeat(300),
  "wörker",
];

describe("shellQuote, judged by /bin/sh", () => {
  it.each(HOSTILE.filter((h) => !h.includes("\u0000")))("keeps %j one literal word", (hostile) => {
    const out = execFileSync("/bin/sh", ["-c", `printf '%s|' ${shellQuote(hostile)} end`], { encoding: "utf8" });
    expect(out).toBe(`${hostile}|end|`);
  });
});

describe("name validation", () => {
  const kinds: NameKind[] = ["stack", "network", "node", "service", "secret", "user"];
  it.each(kinds)("refuses every hostile %s name, naming where it came from", (kind) => {
    for (const hostile of HOSTILE) {
      const p = nameProblem(kind, hostile, "somewhere.key");
      expect({ hostile, p }).toEqual({ hostile, p: expect.stringMatching(/^somewhere\.key must be .*, got /) });
    }
  });

  it("accepts the names the product itself uses", () => {
    for (const [kind, ok] of [
      ["stack", "wordpress"],
      ["stack", "shop_2"],
      ["network", "traefik_public"],
      ["node", "worker-12"],
      ["node", "suaukdimq3i11uve1iqpmlk4r"],
      ["secret", "wordpress_db_password"],
      ["user", "root"],
      ["service", "traefik_traefik"],
    ] as const) {
      expect({ kind, ok, p: nameProblem(kind, ok, "k") }).toEqual({ kind, ok, p: undefined });
    }
  });

  it("checkedName throws the problem and returns a good name", () => {
    expect(() => checkedName("stack", "x; touch /tmp/p #", "stack rm NAME")).toThrow(
      'stack rm NAME must be lowercase letters, digits, - and _, starting with a letter or digit, at most 63 characters, got "x; touch /tmp/p #"',
    );
    expect(checkedName("stack", "blog", "stack rm NAME")).toBe("blog");
  });
});

describe("names are validated where they enter", () => {
  const node = {
    name: "worker-1",
    role: "manager",
    host: "10.0.0.2",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
    advertiseAddress: "10.0.0.2",
  };

  it("the inventory refuses hostile node names, users, label names and values (inventory/labels.ts), all at once", () => {
    const bad = {
      nodes: [{ ...node, name: "w; reboot", user: "root; reboot", labels: { "x; reboot #": "v", ok: "line\nbreak" } }],
    };
    let problems: readonly string[] = [];
    try {
      validateInventory(bad);
    } catch (err) {
      problems = (err as { problems: string[] }).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^nodes\[0\] \(w; reboot\)\.name must be a lowercase DNS label/),
      expect.stringMatching(/^nodes\[0\] \(w; reboot\)\.user must be a POSIX user name/),
      expect.stringMatching(/^nodes\[0\] \(w; reboot\)\.labels: label name "x; reboot #" must be/),
      expect.stringMatching(/^nodes\[0\] \(w; reboot\)\.labels\.ok value "line\\nbreak" must be/),
    ]);
  });

  it("the stacks config and the renderer refuse a hostile stack name", () => {
    expect(() =>
      parseStacksConfig(
        [{ template: "wordpress", name: "x; touch /tmp/p #", vars: { domain: "a.example.com" } }],
        1500,
      ),
    ).toThrow(/hcloud-swarm:stacks\[0\]\.name must be lowercase letters/);
    expect(() => renderStack(stackText("services: {a: {image: busybox}}\n", "s.yml"), { stack: "$(id)" })).toThrow(
      /the stack name must be lowercase letters/,
    );
  });

  it("the renderer refuses external network and secret names that are no Docker names", () => {
    const text = [
      "x-hcloud-swarm:",
      "  external-networks: ['pub; touch /tmp/p']",
      "  secrets:",
      "    'k;id': {generate: password}",
      "services: {a: {image: busybox, networks: [pub]}}",
      "networks: {pub: {external: true}}",
      "secrets: {'k;id': {external: true}}",
      "",
    ].join("\n");
    expect(() => renderStack(stackText(text, "s.yml"), { stack: "s" })).toThrow(
      /external network "pub; touch \/tmp\/p" must be[\s\S]*secret "k;id" \(Docker name <stack>_<key>\) must be/,
    );
  });
});
