#!/usr/bin/env node
// Makes a fresh clone runnable: npm packages, the TypeScript build and the Erlang stub.
// `npm start`, `npm test` and `npm run bench` run this first; it is quick when nothing changed.
// It only uses Node's own modules, since it runs before `npm ci`.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");

function fail(message) {
  console.error(`\nts-ssl setup: ${message}\n`);
  process.exit(1);
}

function run(command, args, what) {
  if (!quiet) console.error(`ts-ssl setup: ${what}`);
  const result = spawnSync(command, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) fail(`${what} failed: ${result.error.message}`);
  if (result.status !== 0) fail(`${what} failed (exit status ${result.status}).`);
}

function onPath(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  fail(`Node.js 20.19 or newer is needed; this is ${process.version}.`);
}

// The tests also make certificates and talk to TLS peers with the openssl command line, watch
// loopback with tcpdump (which needs root or CAP_NET_RAW) to see what distribution sends, and
// run curl against the HTTPS programs; `npm run check` runs Dialyzer on the Erlang application.
const needed = [
  "erl",
  "erlc",
  "epmd",
  "rebar3",
  ...(process.env.npm_lifecycle_event === "pretest" ? ["dialyzer", "openssl", "tcpdump", "curl"] : []),
];
const missing = needed.filter((c) => !onPath(c));
if (missing.length > 0) {
  fail(
    `${missing.join(", ")} not found on PATH. On Debian or Ubuntu (the packages .ci/run installs):\n` +
      "  sudo apt-get install -y erlang-base erlang-ssl erlang-public-key erlang-crypto erlang-asn1 \\\n" +
      "    erlang-dev erlang-common-test erlang-eunit erlang-tools erlang-syntax-tools erlang-dialyzer rebar3 \\\n" +
      "    openssl tcpdump curl",
  );
}

const lock = join(root, "package-lock.json");
const installed = join(root, "node_modules", ".package-lock.json");
if (mtime(installed) < mtime(lock)) {
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], "installing npm packages (npm ci)");
}

run(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], "building TypeScript (tsc)");
run("rebar3", ["compile"], "building the Erlang application ts_ssl (rebar3 compile)");
