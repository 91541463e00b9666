/**
 * Versioned secret names: a known value gets its own name, a changed value a new one, an existing
 * secret without a written-down value is kept (day two: never a new database password by surprise).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chooseSecretVersions, isVersionOf, readSecretsFile, versionedName } from "../../stacks/deploy/secret-versions";
import { htpasswdLine } from "../../stacks/deploy/secrets";

const spec = (key: string, generate: "password" | "htpasswd" = "password") => ({
  key,
  name: `wp_${key}`,
  description: "",
  generate,
  user: "admin",
});
const value = (name: string, content: string) => ({ name, content, reveal: content });

describe("versioned stack secrets", () => {
  it("names a value by its hash; another value, another name; the same value, the same name", () => {
    expect(versionedName("wp_db_password", "a")).toMatch(/^wp_db_password_v[0-9a-f]{8}$/);
    expect(versionedName("wp_db_password", "a")).toBe(versionedName("wp_db_password", "a"));
    expect(versionedName("wp_db_password", "b")).not.toBe(versionedName("wp_db_password", "a"));
    expect(isVersionOf("wp_db_password", "wp_db_password")).toBe(true);
    expect(isVersionOf(versionedName("wp_db_password", "a"), "wp_db_password")).toBe(true);
    // Another key that only starts like this one is not a version of it.
    expect(isVersionOf("wp_db_password_vault", "wp_db_password")).toBe(false);
    expect(isVersionOf("wp_db_password_v0123abcd_x", "wp_db_password")).toBe(false);
  });

  it("creates the version of a known value only when the cluster lacks it", () => {
    const known = { wp_db_password: value("wp_db_password", "s3cret") };
    const name = versionedName("wp_db_password", "s3cret");
    const first = chooseSecretVersions([spec("db_password")], known, new Set(["wp_db_password"]), new Set(), undefined);
    expect(first).toEqual({
      names: { db_password: name },
      values: { [name]: { name, content: "s3cret", reveal: "s3cret" } },
      fresh: [],
      notes: [],
    });
    const again = chooseSecretVersions([spec("db_password")], known, new Set([name]), new Set([name]), undefined);
    expect(again.values).toEqual({});
    expect(again.names).toEqual({ db_password: name });
  });

  it("keeps an existing secret whose value is written down nowhere, the one in use first; generates only for none", () => {
    const used = versionedName("wp_db_password", "x");
    const kept = chooseSecretVersions(
      [spec("db_password")],
      {},
      new Set(["wp_db_password", used, "wp_db_password_vault"]),
      new Set([used]),
      () => value("wp_db_password", "new"),
    );
    expect(kept.names).toEqual({ db_password: used });
    expect(kept.fresh).toEqual([]);
    expect(kept.notes[0]).toMatch(/kept as it is: no value for wp_db_password is written down/);
    const made = chooseSecretVersions([spec("db_password")], {}, new Set(), new Set(), () =>
      value("wp_db_password", "new"),
    );
    expect(made.fresh).toEqual([value("wp_db_password", "new")]);
    expect(made.names.db_password).toBe(versionedName("wp_db_password", "new"));
    // The Pulumi path never makes a value here.
    expect(() => chooseSecretVersions([spec("db_password")], {}, new Set(), new Set(), undefined)).toThrow(
      /no kept value for secret wp_db_password/,
    );
  });

  it("a value this Pulumi state never deployed does not replace the cluster's secret; one it did, does", () => {
    const existing = new Set([versionedName("wp_db_password", "old")]);
    const known = { wp_db_password: value("wp_db_password", "new") };
    const fresh = chooseSecretVersions([spec("db_password")], known, existing, existing, undefined, () => false);
    expect(fresh.names).toEqual({ db_password: versionedName("wp_db_password", "old") });
    expect(fresh.values).toEqual({});
    expect(fresh.notes[0]).toMatch(/never deployed from this state/);
    const rotated = chooseSecretVersions([spec("db_password")], known, existing, existing, undefined, () => true);
    expect(rotated.names).toEqual({ db_password: versionedName("wp_db_password", "new") });
  });

  it("reads values back from the secrets file, old lines and other stacks ignored, htpasswd rebuilt", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hsw-secret-"));
    const file = path.join(dir, "wp.env");
    fs.writeFileSync(
      file,
      "# Generated\n# replaced 2026-01-01: wp_db_password=old\nwp_db_password=new=with=equals\nwp_dash=admin:pw\nother_x=y\n",
    );
    try {
      expect(readSecretsFile(file, [spec("db_password"), spec("dash", "htpasswd")])).toEqual({
        wp_db_password: value("wp_db_password", "new=with=equals"),
        wp_dash: { name: "wp_dash", content: htpasswdLine("admin", "pw"), reveal: "admin:pw" },
      });
      fs.writeFileSync(file, "wp_dash=nocolon\n");
      expect(() => readSecretsFile(file, [spec("dash", "htpasswd")])).toThrow(/wp_dash must be user:password/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
