/** Deploy refuses a template image known not to work with the cluster's engine (traefik < 3.6.1 on Docker 29+). */
import { imageEngineProblems, tagVersion } from "../../stacks/lint/image-engine";
import { loadStackFile } from "../../stacks/template/template";

const engines29 = [
  ["manager-1", "29.1.2"],
  ["worker-1", "28.2.2"],
] as const;

describe("images against the cluster's engine", () => {
  it("reads tags the way registries name Traefik releases", () => {
    expect([tagVersion("v3.5"), tagVersion("3.5.6"), tagVersion("v3.6.4-alpine"), tagVersion("latest")]).toEqual([
      [3, 5, Number.MAX_SAFE_INTEGER],
      [3, 5, 6],
      [3, 6, 4],
      undefined,
    ]);
  });

  it("refuses traefik before 3.6.1 when a node runs Docker 29 or later, naming the node and the fix", () => {
    for (const image of ["traefik:v3.5", "traefik:3.5.6", "docker.io/library/traefik:v3.6.0", "traefik:v2.11"]) {
      const [p, ...rest] = imageEngineProblems([["traefik", image]], engines29);
      expect(rest).toEqual([]);
      expect(p).toMatch(
        new RegExp(
          `^service "traefik": image ${image.replace(/\./g, "\\.")} does not work on Docker Engine 29 and later \\(manager-1: 29\\.1\\.2\\).*API 1\\.24.*use .*traefik:v3\\.6\\.1 or later`,
        ),
      );
    }
  });

  it("accepts 3.6.1 and later, tags it cannot read, and every traefik on Docker 28", () => {
    expect(
      imageEngineProblems(
        [
          ["t", "traefik:v3.6"],
          ["u", "traefik:v3.6.1"],
          ["v", "traefik:latest"],
          ["w", "traefik@sha256:abc"],
          ["x", "traefik:v4.0"],
        ],
        engines29,
      ),
    ).toEqual([]);
    expect(imageEngineProblems([["t", "traefik:v3.5"]], [["manager-1", "28.2.2"]])).toEqual([]);
    expect(imageEngineProblems([["t", "nottraefik:v3.5"]], engines29)).toEqual([]);
  });

  it("the shipped traefik template passes on Docker 29", () => {
    const text = loadStackFile("traefik").text;
    const image = /image: (\S+)/.exec(text)?.[1] ?? "";
    expect(image).toMatch(/^traefik:v3\.\d+/);
    expect(imageEngineProblems([["traefik", image]], engines29)).toEqual([]);
  });
});
