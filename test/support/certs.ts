/**
 * Certificates made at test time with the `openssl` command line: a root CA, intermediates,
 * server and client certificates, and every broken case the ssl manual names a reason for
 * (expired, not yet valid, self-signed, unknown issuer, chains longer than `depth`, a key that
 * does not match its certificate, an encrypted key, corrupt PEM).
 *
 * Keys are P-256 (quick to make); one RSA server is there for ciphers that need RSA. `CertMaker`
 * makes any other kind: RSA of any size, the NIST curves, Ed25519 and Ed448, any digest, keys
 * written in each PEM form.
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
  /** A root and a server certificate it issued, both signed with SHA-1 (`sha1Root.certFile` is their CA file). */
  readonly sha1Root: Credential;
  readonly sha1Server: Credential;
  /** An RSA 512 server certificate (signed with SHA-256), a key OpenSSL's default security level refuses. */
  readonly rsa512: Credential;
  /** A certificate for an X25519 key, which agrees keys and cannot sign: OpenSSL has no TLS use for it. */
  readonly x25519: Credential;
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

/** A key algorithm: `rsa` and its size in bits, a NIST curve, or an EdDSA curve. */
export type KeyKind = `rsa${number}` | "P-256" | "P-384" | "P-521" | "ed25519" | "ed448";

/**
 * How a private key is written: PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`), OpenSSL's
 * "traditional" forms; PKCS#8; PKCS#8 encrypted (PBES2, AES-256); a traditional key encrypted
 * with AES-128-CBC (`Proc-Type: 4,ENCRYPTED`).
 */
export type KeyForm = "traditional" | "pkcs8" | "pkcs8-encrypted" | "traditional-encrypted";

export interface SignOptions {
  ca?: boolean;
  extensions?: string;
  from?: string;
  until?: string;
  kind?: KeyKind;
  /** The issuer's digest: `sha1`, `sha256`, `sha384`, `sha512` (none for EdDSA issuers). */
  digest?: string;
  chain?: Credential[];
}

export class CertMaker {
  constructor(readonly dir: string) {
    writeFileSync(join(dir, "ca.cnf"), caConfig);
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "1000\n");
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  key(name: string, kind: KeyKind = "P-256"): string {
    const file = `${name}.key`;
    const rsa = /^rsa(\d+)$/.exec(kind);
    const spec = rsa !== null
      ? ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${rsa[1]}`]
      : kind.startsWith("P-") ? ["-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${kind}`] : ["-algorithm", kind];
    openssl(this.dir, ["genpkey", ...spec, "-out", file]);
    return file;
  }

  /** `name`'s key written again in `form` (`password` for the encrypted forms); the new file's name. */
  rewriteKey(name: string, form: KeyForm, password: string): string {
    const file = `${name}-${form}.key`;
    const args = {
      traditional: ["pkey", "-traditional"],
      pkcs8: ["pkey"],
      "pkcs8-encrypted": ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", `pass:${password}`],
      "traditional-encrypted": ["pkey", "-traditional", "-aes128", "-passout", `pass:${password}`],
    }[form];
    openssl(this.dir, [...args, "-in", `${name}.key`, "-out", file]);
    return this.path(file);
  }

  selfSigned(name: string, cn: string, ca: boolean, keyUsage?: string, options: { kind?: KeyKind; digest?: string } = {}): Credential {
    const keyFile = this.key(name, options.kind);
    const ext = ca
      ? ["-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
      : ["-addext", "basicConstraints=CA:false", "-addext", `subjectAltName=DNS:localhost,DNS:${shortHost},IP:127.0.0.1`];
    if (keyUsage !== undefined) ext.push("-addext", `keyUsage=${keyUsage}`);
    const digest = options.digest === undefined || options.kind?.startsWith("ed") ? [] : [`-${options.digest}`];
    openssl(this.dir, ["req", "-x509", "-new", "-key", keyFile, ...digest, "-subj", `/CN=${cn}`, "-days", "3650", ...ext, "-out", `${name}.pem`]);
    return this.credential(`${name}.pem`, keyFile);
  }

  /** A certificate for `cn` signed by `issuer`, valid between the two dates (YYYYMMDDHHMMSSZ). */
  signed(name: string, cn: string, issuer: Credential, options: SignOptions = {}): Credential {
    const keyFile = this.key(name, options.kind);
    openssl(this.dir, ["req", "-new", "-key", keyFile, "-subj", `/CN=${cn}`, "-out", `${name}.csr`]);
    openssl(this.dir, [
      "ca", "-batch", "-notext", "-config", "ca.cnf",
      "-cert", issuer.certFile, "-keyfile", issuer.keyFile,
      ...(options.digest !== undefined ? ["-md", options.digest] : []),
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

/** What one PKI of a certificate matrix is made of. */
export interface ChainSpec {
  /** Every key of it, the CAs' and the leaves'. */
  readonly kind: KeyKind;
  /** The CAs' digest; OpenSSL's default (SHA-256) when absent, none for EdDSA. */
  readonly digest?: string;
  /** CAs between the root and the leaves, sent in `certfile` after the leaf. */
  readonly intermediates: 0 | 1 | 2;
  /** How the leaves' keys are written; the encrypted forms under `password`. */
  readonly form: KeyForm;
}

/** A root (`caFile`), and a server and a client certificate under it, each with its chain. */
export interface ChainSet {
  readonly caFile: string;
  readonly server: { readonly certFile: string; readonly keyFile: string };
  readonly client: { readonly certFile: string; readonly keyFile: string };
}

/** The PKI `spec` describes, in files whose names start with `name`. */
export function chainSet(m: CertMaker, name: string, spec: ChainSpec, password: string): ChainSet {
  const { kind, digest } = spec;
  const root = m.selfSigned(`${name}-root`, `${name} Root CA`, true, undefined, { kind, digest });
  const cas = [root];
  for (let i = 1; i <= spec.intermediates; i++) {
    cas.unshift(m.signed(`${name}-int${i}`, `${name} Intermediate ${i}`, cas[0]!, { ca: true, kind, digest }));
  }
  const intermediates = cas.slice(0, -1);
  const leaf = (role: string) => {
    const c = m.signed(`${name}-${role}`, role === "server" ? "localhost" : `${name} client`, cas[0]!, {
      kind,
      digest,
      ...(intermediates.length > 0 ? { chain: intermediates } : {}),
    });
    return { certFile: c.certFile, keyFile: m.rewriteKey(`${name}-${role}`, spec.form, password) };
  };
  return { caFile: root.certFile, server: leaf("server"), client: leaf("client") };
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
  const m = new CertMaker(dir);
  const root = m.selfSigned("root", "Test Root CA", true);
  const int1 = m.signed("int1", "Test Intermediate 1", root, { ca: true });
  const int2 = m.signed("int2", "Test Intermediate 2", int1, { ca: true });
  const server = m.signed("server", "localhost", root);
  const rsaServer = m.signed("rsa-server", "localhost", root, { kind: "rsa2048" });
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
  const sha1Root = m.selfSigned("sha1-root", "SHA-1 Root CA", true, undefined, { digest: "sha1" });
  const sha1Server = m.signed("sha1-server", "localhost", sha1Root, { digest: "sha1" });
  const rsa512 = m.signed("rsa512", "localhost", root, { kind: "rsa512" });
  // An X25519 key cannot sign its own request: the server's request, with this key put in.
  openssl(dir, ["genpkey", "-algorithm", "X25519", "-out", "x25519.key"]);
  openssl(dir, ["pkey", "-in", "x25519.key", "-pubout", "-out", "x25519.pub"]);
  openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", root.certFile, "-CAkey", root.keyFile, "-force_pubkey", "x25519.pub", "-days", "3650", "-out", "x25519.pem"]);
  const x25519 = m.credential("x25519.pem", "x25519.key");

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
    sha1Root,
    sha1Server,
    rsa512,
    x25519,
    password,
    combined,
    corruptFile,
    corrupt,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
