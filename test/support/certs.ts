/**
 * Certificates made at test time with the `openssl` command line: a root CA, intermediates,
 * server and client certificates, and every broken case the ssl manual names a reason for
 * (expired, not yet valid, self-signed, unknown issuer, chains longer than `depth`, a key that
 * does not match its certificate, an encrypted key, corrupt PEM).
 *
 * Keys are P-256 (quick to make); one RSA server is there for ciphers that need RSA.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shortHost } from "./erlang.js";

/** A certificate (PEM, possibly followed by its chain) and its private key, as files and bytes. */
export interface Credential {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Pki {
  readonly dir: string;
  /** The trusted root (self-signed). `caFile` holds it alone. */
  readonly root: Credential;
  readonly caFile: string;
  /** Signed by root, then by int1, then by int2. */
  readonly int1: Credential;
  readonly int2: Credential;
  /** CN=localhost, signed by root. Leaf certificates name localhost, this host's short name and 127.0.0.1. */
  readonly server: Credential;
  readonly rsaServer: Credential;
  readonly client: Credential;
  /** Signed by int1; certFile holds leaf + int1. */
  readonly chained: Credential;
  /** Signed by int2; certFile holds leaf + int2 + int1: four certificates up to the root. */
  readonly deep: Credential;
  /** Signed by root, valid 2020-2021. */
  readonly expired: Credential;
  /** Signed by root, valid from 2090. */
  readonly notYetValid: Credential;
  /** Self-signed and in no CA file. */
  readonly selfSigned: Credential;
  /** Self-signed, with a key usage that does not allow signing certificates (not even itself). */
  readonly selfSignedNoCertSign: Credential;
  /** Signed by a CA nobody trusts (`rogueRoot`). */
  readonly unknownIssuer: Credential;
  readonly rogueRoot: Credential;
  /** Signed by int1 but certFile holds the leaf alone: the verifier cannot find int1. */
  readonly missingIntermediate: Credential;
  /** Signed by the client certificate (CA:false); certFile holds leaf + client. */
  readonly nonCaIssued: Credential;
  /** Signed by root for `localhost`, but for client authentication only (extendedKeyUsage). */
  readonly clientOnly: Credential;
  /** The server certificate with the client's key. */
  readonly mismatched: Credential;
  /** The server certificate with its key encrypted (AES-256) under `password`. */
  readonly encrypted: Credential;
  readonly password: string;
  /** Certificate and key in one file (certFile === keyFile). */
  readonly combined: Credential;
  /** A file that looks like PEM and is not. */
  readonly corruptFile: string;
  readonly corrupt: Buffer;
  remove(): void;
}

const caConfig = `
[ca]
default_ca = local
[local]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_ext]
basicConstraints = CA:false
subjectAltName = DNS:localhost,DNS:${shortHost},IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_only_ext]
basicConstraints = CA:false
subjectAltName = DNS:localhost,DNS:${shortHost},IP:127.0.0.1
extendedKeyUsage = clientAuth
`;

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

class Maker {
  constructor(readonly dir: string) {
    writeFileSync(join(dir, "ca.cnf"), caConfig);
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "1000\n");
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  key(name: string, kind: "ec" | "rsa" = "ec"): string {
    const file = `${name}.key`;
    if (kind === "ec") openssl(this.dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
    else openssl(this.dir, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file]);
    return file;
  }

  selfSigned(name: string, cn: string, ca: boolean, keyUsage?: string): Credential {
    const keyFile = this.key(name);
    const ext = ca
      ? ["-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
      : ["-addext", "basicConstraints=CA:false", "-addext", `subjectAltName=DNS:localhost,DNS:${shortHost},IP:127.0.0.1`];
    if (keyUsage !== undefined) ext.push("-addext", `keyUsage=${keyUsage}`);
    openssl(this.dir, ["req", "-x509", "-new", "-key", keyFile, "-subj", `/CN=${cn}`, "-days", "3650", ...ext, "-out", `${name}.pem`]);
    return this.credential(`${name}.pem`, keyFile);
  }

  /** A certificate for `cn` signed by `issuer`, valid between the two dates (YYYYMMDDHHMMSSZ). */
  signed(
    name: string,
    cn: string,
    issuer: Credential,
    options: { ca?: boolean; extensions?: string; from?: string; until?: string; kind?: "ec" | "rsa"; chain?: Credential[] } = {},
  ): Credential {
    const keyFile = this.key(name, options.kind);
    openssl(this.dir, ["req", "-new", "-key", keyFile, "-subj", `/CN=${cn}`, "-out", `${name}.csr`]);
    openssl(this.dir, [
      "ca", "-batch", "-notext", "-config", "ca.cnf",
      "-cert", issuer.certFile, "-keyfile", issuer.keyFile,
      "-extensions", options.extensions ?? (options.ca ? "ca_ext" : "leaf_ext"),
      "-startdate", options.from ?? "20200101000000Z",
      "-enddate", options.until ?? "20491231000000Z",
      "-in", `${name}.csr`, "-out", `${name}.pem`,
    ]);
    if (options.chain !== undefined) {
      const leaf = readFileSync(this.path(`${name}.pem`));
      const chain = options.chain.map((c) => leafOf(c.cert));
      writeFileSync(this.path(`${name}-chain.pem`), Buffer.concat([leaf, ...chain]));
      return this.credential(`${name}-chain.pem`, keyFile);
    }
    return this.credential(`${name}.pem`, keyFile);
  }

  credential(certName: string, keyName: string): Credential {
    const certFile = this.path(certName);
    const keyFile = this.path(keyName);
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  }

  write(name: string, contents: Buffer | string): string {
    writeFileSync(this.path(name), contents);
    return this.path(name);
  }
}

/** The first PEM certificate of `pem`. */
function leafOf(pem: Buffer): Buffer {
  const text = pem.toString("latin1");
  const end = text.indexOf("-----END CERTIFICATE-----") + "-----END CERTIFICATE-----\n".length;
  return Buffer.from(text.slice(text.indexOf("-----BEGIN CERTIFICATE-----"), end), "latin1");
}

/** Makes the whole set in a fresh temporary directory (about a second). */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "ts-ssl-pki-"));
  const m = new Maker(dir);
  const root = m.selfSigned("root", "Test Root CA", true);
  const int1 = m.signed("int1", "Test Intermediate 1", root, { ca: true });
  const int2 = m.signed("int2", "Test Intermediate 2", int1, { ca: true });
  const server = m.signed("server", "localhost", root);
  const rsaServer = m.signed("rsa-server", "localhost", root, { kind: "rsa" });
  const client = m.signed("client", "client", root);
  const chained = m.signed("chained", "localhost", int1, { chain: [int1] });
  const deep = m.signed("deep", "localhost", int2, { chain: [int2, int1] });
  const expired = m.signed("expired", "localhost", root, { from: "20200101000000Z", until: "20210101000000Z" });
  const notYetValid = m.signed("future", "localhost", root, { from: "20900101000000Z", until: "20910101000000Z" });
  const selfSigned = m.selfSigned("self", "localhost", false);
  const selfSignedNoCertSign = m.selfSigned("self-leaf", "localhost", false, "digitalSignature,keyAgreement");
  const rogueRoot = m.selfSigned("rogue", "Rogue CA", true);
  const unknownIssuer = m.signed("unknown", "localhost", rogueRoot);
  const missingIntermediate = m.signed("orphan", "localhost", int1);
  const nonCaIssued = m.signed("non-ca-issued", "localhost", client, { chain: [client] });
  const clientOnly = m.signed("client-only", "localhost", root, { extensions: "client_only_ext" });
  const mismatched = m.credential("server.pem", "client.key");

  const password = "s3cret pass";
  openssl(dir, ["pkey", "-in", "server.key", "-aes256", "-passout", `pass:${password}`, "-out", "server-enc.key"]);
  const encrypted = m.credential("server.pem", "server-enc.key");

  m.write("combined.pem", Buffer.concat([server.cert, server.key]));
  const combined = m.credential("combined.pem", "combined.pem");

  const corrupt = Buffer.from("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
  const corruptFile = m.write("corrupt.pem", corrupt);

  return {
    dir,
    root,
    caFile: root.certFile,
    int1,
    int2,
    server,
    rsaServer,
    client,
    chained,
    deep,
    expired,
    notYetValid,
    selfSigned,
    selfSignedNoCertSign,
    unknownIssuer,
    rogueRoot,
    missingIntermediate,
    nonCaIssued,
    clientOnly,
    mismatched,
    encrypted,
    password,
    combined,
    corruptFile,
    corrupt,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
