/**
 * TLS distribution for tests and benchmarks: ssl_dist_optfile files as OTP reads them, the
 * `erl` flags that use one, and the bridge's transport configured from the same file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DistTransport } from "../../bridge/dist-transport.js";
import { tlsTransport } from "../../bridge/tls-dist.js";
import { readSslDistOptfile, tlsDistConfig } from "../../bridge/tls-dist-options.js";
import type { Credential } from "./certs.js";

/** An Erlang string literal for a plain path. */
export const erlString = (s: string): string => JSON.stringify(s);

/** Options for a side that shows `cred` (none: no certificate) and trusts `ca`, verifying the peer, with `extra` added. */
export function nodeOptions(cred: Credential | undefined, ca: string, extra: string[] = []): string[] {
  const own = cred === undefined ? [] : [`{certfile, ${erlString(cred.certFile)}}`, `{keyfile, ${erlString(cred.keyFile)}}`];
  return [...own, `{cacertfile, ${erlString(ca)}}`, "{verify, verify_peer}", ...extra];
}

/** Writes `dir/name.conf`, an ssl_dist_optfile of the two sides' options, and returns its path. */
export function optfile(dir: string, name: string, server: string[], client: string[]): string {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, `%% TLS distribution options of ${name}\n[{server, [${server.join(",\n            ")}]},\n {client, [${client.join(",\n            ")}]}].\n`);
  return file;
}

/** A node that shows `cred`, trusts `ca`, and requires a certificate from the nodes that connect. */
export function mutualOptfile(dir: string, name: string, cred: Credential, ca: string): string {
  return optfile(dir, name, nodeOptions(cred, ca, ["{fail_if_no_peer_cert, true}"]), nodeOptions(cred, ca));
}

/** The `erl` flags for TLS distribution as `file` configures it. */
export const tlsDistArgs = (file: string): string[] => ["-proto_dist", "inet_tls", "-ssl_dist_optfile", file];

/** The bridge's TLS transport as `file` configures it. */
export const tlsDistTransport = (file: string): DistTransport => tlsTransport(tlsDistConfig(readSslDistOptfile(file)));
