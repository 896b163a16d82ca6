/**
 * The certificate matrix, OTP's own ssl as the oracle: certificates and keys of every kind a
 * user brings (RSA 1024 to 4096, the NIST curves, Ed25519 and Ed448; SHA-1 to SHA-512; PKCS#1,
 * SEC1, PKCS#8 and encrypted keys; chains with intermediates), made at test time both with the
 * `openssl` command line and with `public_key:pkix_test_data/1`. Each cell runs in three roles
 * (ts_ssl as server, as client with `{verify, 2}`, as a `{verify, 2}` server checking a client
 * certificate) against a native ssl peer limited to TLS 1.2, then to TLS 1.3; in each, OTP's ssl
 * goes first (through ts_ssl_native, the 3.9 API) and ts_ssl second. Where native ssl gets through,
 * ts_ssl must; where it refuses, ts_ssl must refuse with a reason of the manual. The matrix is
 * printed at the end.
 *
 * One DIMENSION is varied at a time against the baseline (openssl, P-256, SHA-256, PKCS#8, no
 * intermediate), plus SHA-1 with each key type, since SHA-1 is what pkix_test_data/1 uses.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { MemoryLogger } from "../../bridge/log.js";
import { decode } from "../../etf/index.js";
import { startSslBridge } from "../support/bridge.js";
import { CertMaker, chainSet, type ChainSpec } from "../support/certs.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, stopAll, tsSslEbin } from "../support/erlang.js";

const roles = ["server", "client", "client_auth"] as const;
const versions = ["tlsv1.2", "tlsv1.3"] as const;
const password = "matrix pass";

/** A cell made with the openssl command line. */
interface OpensslCell {
  readonly name: string;
  readonly spec: ChainSpec;
  /** The `{password, P}` given, when not the one the keys are encrypted under. */
  readonly given?: string;
}

/** A cell made by pkix_test_data/1: the options each certificate gets (Erlang terms). */
interface PkixCell {
  readonly name: string;
  readonly opts: string;
  readonly intermediates: 0 | 1 | 2;
}

const base: ChainSpec = { kind: "P-256", intermediates: 0, form: "pkcs8" };
const vary = (name: string, change: Partial<ChainSpec>, given?: string): OpensslCell => ({
  name: `openssl ${name}`,
  spec: { ...base, ...change },
  ...(given !== undefined ? { given } : {}),
});
const opensslCells: OpensslCell[] = [
  vary("P-256 SHA-256 (baseline)", {}),
  ...(["rsa1024", "rsa2048", "rsa3072", "rsa4096", "P-384", "P-521"] as const).map((kind) => vary(`${kind} SHA-256`, { kind })),
  ...(["ed25519", "ed448"] as const).map((kind) => vary(kind, { kind })),
  ...["sha1", "sha384", "sha512"].map((digest) => vary(`P-256 ${digest.replace("sha", "SHA-")}`, { digest })),
  ...(["rsa1024", "rsa2048", "P-384", "P-521"] as const).map((kind) => vary(`${kind} SHA-1`, { kind, digest: "sha1" })),
  vary("rsa2048 key PKCS#1", { kind: "rsa2048", form: "traditional" }),
  vary("P-256 key SEC1", { form: "traditional" }),
  vary("rsa2048 key PKCS#8 encrypted", { kind: "rsa2048", form: "pkcs8-encrypted" }),
  vary("P-256 key PKCS#8 encrypted", { form: "pkcs8-encrypted" }),
  vary("rsa2048 key PKCS#1 encrypted", { kind: "rsa2048", form: "traditional-encrypted" }),
  vary("P-256 key SEC1 encrypted", { form: "traditional-encrypted" }),
  vary("P-256 key PKCS#8 encrypted, wrong password", { form: "pkcs8-encrypted" }, "not it"),
  vary("rsa512 SHA-256", { kind: "rsa512" }),
  vary("P-256 1 intermediate", { intermediates: 1 }),
  vary("P-256 2 intermediates", { intermediates: 2 }),
  vary("P-256 SHA-1 2 intermediates", { digest: "sha1", intermediates: 2 }),
];

const pkixCells: PkixCell[] = [
  { name: "pkix defaults", opts: "[]", intermediates: 1 },
  { name: "pkix rsa2048 (SHA-1)", opts: "[{key, {rsa, 2048, 17}}]", intermediates: 1 },
  { name: "pkix P-256 (SHA-1)", opts: "[{key, {namedCurve, secp256r1}}]", intermediates: 1 },
  { name: "pkix P-384 (SHA-1) 2 intermediates", opts: "[{key, {namedCurve, secp384r1}}]", intermediates: 2 },
  { name: "pkix rsa2048 SHA-256", opts: "[{key, {rsa, 2048, 17}}, {digest, sha256}]", intermediates: 0 },
  { name: "pkix ed25519", opts: "[{key, {namedCurve, ed25519}}]", intermediates: 0 },
];

/**
 * Outcomes of native ssl that come from OTP's ssl being on both ends, so that ts_ssl neither
 * can nor should copy them: "cell|role version" -> native's outcome, ts_ssl's, and why. The
 * test fails if one of them changes.
 */
const smallRsa =
  "OTP's ssl, signing with a small RSA key, takes the first RSA algorithm the other end offers even when the key cannot make it (RSA-PSS with SHA-512 needs 1040 bits), and fails (unacceptable_rsa_key); which comes first is the other end's order, OTP's or OpenSSL's";
const ed448Label = "OTP 25 labels its Ed448 CertificateVerify as ed25519 (0x0807); OpenSSL refuses the mislabelled signature (wrong signature type), OTP does not check the label";
const departures = new Map<string, { native: string; tsSsl: string; why: string }>([
  ["openssl rsa1024 SHA-256|client tlsv1.2", { native: "handshake_failure alert", tsSsl: "ok", why: smallRsa }],
  ["openssl rsa1024 SHA-1|client tlsv1.2", { native: "handshake_failure alert", tsSsl: "ok", why: smallRsa }],
  ["openssl rsa512 SHA-256|client_auth tlsv1.2", { native: "ok", tsSsl: "esslerrssl", why: smallRsa }],
  ["openssl ed448|client tlsv1.3", { native: "ok", tsSsl: "esslconnect", why: ed448Label }],
  ["openssl ed448|client_auth tlsv1.3", { native: "ok", tsSsl: "esslaccept", why: ed448Label }],
]);

/** The manual's reasons (ERRORS) that a refused cell may give. */
const manualReasons = new Set([
  "closed", "ecacertfile", "ecertfile", "ekeyfile", "ekeymismatch", "ecipher", "esslaccept", "esslconnect", "esslerrssl",
  "epeercert", "epeercertexpired", "epeercertinvalid", "eselfsignedcert", "enoissuercert", "echaintoolong",
]);
const fileReasons = new Set(["ecacertfile", "ecertfile", "ekeyfile", "ekeymismatch"]);

let dir: string;
let helperDir: string;
let epmd: Epmd;
let bridge: Node;
let erl: ErlNode;
const log = new MemoryLogger();
/** Cell name -> "role version" -> "native / ts_ssl". */
const matrix = new Map<string, Map<string, string>>();

const str = (s: string) => JSON.stringify(s);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ts-ssl-matrix-"));
  helperDir = mkdtempSync(join(tmpdir(), "ts-ssl-matrix-beam-"));
  erlc(
    [
      join(repoRoot, "test", "ssl", "cert_matrix.erl"),
      join(repoRoot, "erlang_stub", "test", "ts_ssl_native.erl"),
      join(repoRoot, "erlang_stub", "test", "ts_ssl_peers.erl"),
      join(repoRoot, "erlang_stub", "test", "ts_ssl_certs.erl"),
    ],
    helperDir,
    ["-pa", tsSslEbin],
  );
  const cookie = randomCookie();
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port, log);
  erl = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [helperDir] });
  await erl.eval(`
    {ok, _} = application:ensure_all_started(ssl),
    ok = application:set_env(ts_ssl, bridge, '${bridge.name.name}'),
    ok = ts_ssl:start()`);
  const m = new CertMaker(dir);
  for (const [i, cell] of opensslCells.entries()) {
    const set = chainSet(m, `c${i}`, cell.spec, password);
    const pw = cell.spec.form.endsWith("encrypted") ? `, {password, ${str(cell.given ?? password)}}` : "";
    const opts = (c: { certFile: string; keyFile: string }) => `[{certfile, ${str(c.certFile)}}, {keyfile, ${str(c.keyFile)}}${pw}]`;
    await erl.eval(`persistent_term:put({matrix, ${str(cell.name)}},
      #{ca => ${str(set.caFile)}, server => ${opts(set.server)}, client => ${opts(set.client)}})`);
  }
  for (const [i, cell] of pkixCells.entries()) {
    const made = await erl.eval(`(fun() ->
      Files = ts_ssl_certs:pkix_test_data(${str(dir)}, "p${i}", #{opts => ${cell.opts}, intermediates => ${cell.intermediates}}),
      persistent_term:put({matrix, ${str(cell.name)}}, Files),
      is_map(Files) orelse Files end)()`);
    expect(made.text, `${cell.name}: pkix_test_data/1`).toBe("true");
  }
}, 120_000);

afterAll(async () => {
  if (matrix.size > 0) console.log(table());
  await bridge?.stop();
  await stopAll();
  for (const d of [dir, helperDir]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
});

/** The matrix as a Markdown table: a row per cell, a column per role and version. */
function table(): string {
  const columns = roles.flatMap((r) => versions.map((v) => `${r} ${v}`));
  const lines = [`| cell | ${columns.join(" | ")} |`, `| --- |${" --- |".repeat(columns.length)}`];
  for (const [cell, results] of matrix) lines.push(`| ${cell} | ${columns.map((c) => results.get(c) ?? "").join(" | ")} |`);
  const notes = [...departures].map(([where, d]) => `(*) ${where.replace("|", ", ")}: ${d.why}`);
  return `certificate matrix (native ssl / ts_ssl):\n${lines.join("\n")}\n${notes.join("\n")}`;
}

/** Native ssl's outcome and ts_ssl's for one cell, role and version. */
async function compare(cell: string, role: string, version: string): Promise<[string, string]> {
  const r = await erl.eval(`cert_matrix:compare(${role}, '${version}', persistent_term:get({matrix, ${str(cell)}}))`);
  const text = decode(r.etf);
  if (!(text instanceof Uint8Array)) throw new Error(`${cell} ${role} ${version}: ${r.text}`);
  const [native, tsSsl] = Buffer.from(text).toString().split("|") as [string, string];
  return [native, tsSsl];
}

describe.each([...opensslCells.map((c) => c.name), ...pkixCells.map((c) => c.name)])("%s", (cell) => {
  it("ts_ssl gets through where native ssl does, and refuses with the manual's reason where it refuses", async () => {
    const results = new Map<string, string>();
    matrix.set(cell, results);
    const wrong: string[] = [];
    for (const role of roles) {
      for (const version of versions) {
        const before = log.entries.length;
        const [native, tsSsl] = await compare(cell, role, version);
        const departure = departures.get(`${cell}|${role} ${version}`);
        results.set(`${role} ${version}`, `${native} / ${tsSsl}${departure !== undefined ? " (*)" : ""}`);
        const ownReason = tsSsl.startsWith("peer: ") ? undefined : tsSsl;
        const fine =
          departure !== undefined
            ? native === departure.native && tsSsl === departure.tsSsl
            : native === "ok"
              ? tsSsl === "ok"
              : tsSsl !== "ok" && (ownReason === undefined || manualReasons.has(ownReason));
        if (!fine) wrong.push(`${role} ${version}: native ${native}, ts_ssl ${tsSsl}`);
        // A file refused is named in the bridge's log, with what OpenSSL objected to.
        if (ownReason !== undefined && fileReasons.has(ownReason)) {
          const said = log.entries.slice(before).filter((e) => e.message.startsWith(`ts_ssl_bridge: ${ownReason}: `));
          if (said.length === 0) wrong.push(`${role} ${version}: ${ownReason} without a log line`);
        }
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});
