import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CliError, parseNodeArgs } from "../../bridge/cli.js";
import { shortHostName } from "../../bridge/names.js";
import { testDir } from "../support/temp.js";

const env = (over: NodeJS.ProcessEnv = {}) => ({ HOME: testDir("bridge-cli-"), ...over });

function failure(argv: string[], e: NodeJS.ProcessEnv = env()): CliError {
  try {
    parseNodeArgs(argv, e);
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe("parseNodeArgs", () => {
  it("defaults to ts_ssl_bridge@<short host> with short names and EPMD on 4369", () => {
    const a = parseNodeArgs(["--setcookie", "C"], env());
    expect(a).toMatchObject({ name: `ts_ssl_bridge@${shortHostName()}`, longNames: false, cookie: "C", epmdPort: 4369 });
    expect(a.cookieSource).toBe("--setcookie");
  });

  it("takes --sname, -sname and --sname=", () => {
    for (const argv of [["--sname", "b1"], ["-sname", "b1"], ["--sname=b1"]]) {
      expect(parseNodeArgs([...argv, "--setcookie", "x"], env()).name).toBe(`b1@${shortHostName()}`);
    }
    expect(parseNodeArgs(["--sname", "b1@myhost", "--setcookie", "x"], env()).name).toBe("b1@myhost");
  });

  it("takes --name NAME@HOST as a long name", () => {
    expect(parseNodeArgs(["--name", "b2@127.0.0.1", "--setcookie", "x"], env())).toMatchObject({
      name: "b2@127.0.0.1",
      longNames: true,
    });
  });

  it("reads ERL_EPMD_PORT", () => {
    expect(parseNodeArgs(["--setcookie", "x"], env({ ERL_EPMD_PORT: "4400" })).epmdPort).toBe(4400);
    expect(failure(["--setcookie", "x"], env({ ERL_EPMD_PORT: "port" })).code).toBe("bad_epmd_port");
  });

  it("says clearly what is wrong with bad arguments", () => {
    expect(failure(["--sname"]).code).toBe("missing_value");
    expect(failure(["--sname", "--setcookie", "x"]).code).toBe("missing_value");
    expect(failure(["--sname", "a", "--name", "b@h.x"]).code).toBe("conflict");
    expect(failure(["--sname", "a", "--sname", "b"]).code).toBe("conflict");
    expect(failure(["--cookie", "x"]).code).toBe("unknown_argument");
    expect(failure(["extra"]).code).toBe("unknown_argument");
    expect(failure(["--sname", "a.b"]).code).toBe("bad_node_name");
    expect(failure(["--sname", "a@host.example"]).code).toBe("bad_node_name");
    expect(failure(["--sname", "a@"]).code).toBe("bad_node_name");
    expect(failure(["--setcookie", ""]).code).toBe("bad_cookie");
  });

  it("creates ~/.erlang.cookie as erl does when it is missing: 20 uppercase letters, mode 0400", () => {
    const e = env();
    const a = parseNodeArgs([], e);
    const file = join(e.HOME!, ".erlang.cookie");
    expect(a).toMatchObject({ cookieSource: file, cookieCreated: true });
    expect(a.cookie).toMatch(/^[A-Z]{20}$/);
    expect(readFileSync(file, "latin1")).toBe(a.cookie);
    expect(statSync(file).mode & 0o777).toBe(0o400);
    // Read back the second time, not made again.
    expect(parseNodeArgs([], e)).toMatchObject({ cookie: a.cookie, cookieCreated: false });
  });

  it("reads an existing cookie file, trailing newline and all, and --setcookie wins over it", () => {
    const e = env();
    const file = join(e.HOME!, ".erlang.cookie");
    writeFileSync(file, "MY COOKIE\n", { mode: 0o600 });
    expect(parseNodeArgs([], e).cookie).toBe("MY COOKIE");
    expect(parseNodeArgs(["--setcookie", "other"], e).cookie).toBe("other");
  });

  it("refuses a cookie file others can read, as erl does", () => {
    const e = env();
    const file = join(e.HOME!, ".erlang.cookie");
    writeFileSync(file, "ABC");
    chmodSync(file, 0o644);
    expect(failure([], e).message).toMatch(/accessible by owner only/);
  });

  it("refuses a cookie file with control characters", () => {
    const e = env();
    writeFileSync(join(e.HOME!, ".erlang.cookie"), "A\u0001B", { mode: 0o400 });
    expect(failure([], e).code).toBe("bad_cookie");
  });

  it("takes erl's -kernel net_ticktime N, and no other kernel parameter", () => {
    expect(parseNodeArgs(["--setcookie", "x"], env()).netTickTime).toBeUndefined();
    for (const argv of [["--kernel", "net_ticktime", "4"], ["-kernel", "net_ticktime", "4"], ["--kernel=net_ticktime", "4"]]) {
      expect(parseNodeArgs([...argv, "--setcookie", "x"], env()).netTickTime).toBe(4);
    }
    expect(failure(["--kernel", "net_setuptime", "4", "--setcookie", "x"]).code).toBe("unknown_argument");
    expect(failure(["--kernel"]).code).toBe("unknown_argument");
    for (const bad of ["0", "-1", "1.5", "four"]) {
      expect(failure(["--kernel", "net_ticktime", bad, "--setcookie", "x"]).code).toMatch(/bad_net_ticktime|missing_value/);
    }
  });
});
