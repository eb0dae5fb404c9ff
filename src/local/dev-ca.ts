/**
 * The local development CA: created once under a directory (e.g. `.keyless/ca/`), kept on disk and reused, so that
 * clients can trust one certificate across runs. It issues the broker's TLS server certificate for localhost,
 * 127.0.0.1 and ::1 (cached too; reissued when expired, near expiry, or when the host list changes).
 *
 * How a client trusts it:
 *   - another process: `NODE_EXTRA_CA_CERTS=<caCertPath>` (Node reads it only at process start; put it in .env).
 *   - in-process: `trustDevCaInProcess(caCertPem)` — @azure/service-bus 7.9.5 / core-amqp pass no TLS options
 *     through to rhea (no `ca` option exists on ServiceBusClient), so this replaces Node's default CA list with
 *     itself plus the dev CA via `tls.setDefaultCACertificates` (Node ≥ 22.15 / 24). Connections made afterwards
 *     in this process, by any library using Node's default trust store, accept the broker's certificate.
 */
import { randomBytes, type webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";

// @peculiar/x509 2.x resolves its services through tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

import { trustCaCertificates } from "../shared/trust-ca.ts";

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CA_VALIDITY_DAYS = 3650;
const LEAF_VALIDITY_DAYS = 365;
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_HOSTS = ["localhost", "127.0.0.1", "::1"];

export interface DevCa {
  readonly caCertPath: string;
  readonly caCertPem: string;
  /** A server key+certificate (PEM) for these hosts, signed by the CA; cached on disk beside it. */
  serverCert(hosts?: string[]): Promise<{ key: string; cert: string }>;
}

const days = (n: number) => n * 24 * 3600 * 1000;
const serial = () =>
  randomBytes(16)
    .toString("hex")
    .replace(/^[89a-f]/, "1");

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const buf = Buffer.from(b64, "base64");
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function writePrivate(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function ensureDevCa(dir: string): Promise<DevCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caCertPath = join(dir, "ca.crt");
  const caKeyPath = join(dir, "ca.key");

  if (!(await exists(caCertPath)) || !(await exists(caKeyPath))) {
    const keys = (await crypto.subtle.generateKey(ALGORITHM, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const name = "CN=keyless local development CA, O=keyless-worker";
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: name,
      issuer: name,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + days(CA_VALIDITY_DAYS)),
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    await writePrivate(
      caKeyPath,
      toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
    );
    await writeFile(caCertPath, cert.toString("pem") + "\n");
  }

  const caCertPem = await readFile(caCertPath, "utf8");
  const caCert = new x509.X509Certificate(caCertPem);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    fromPem(await readFile(caKeyPath, "utf8")),
    ALGORITHM,
    false,
    ["sign"],
  );

  const serverCert = async (hosts: string[] = DEFAULT_HOSTS) => {
    const wanted = [...new Set(hosts)].sort();
    const certPath = join(dir, "server.crt");
    const keyPath = join(dir, "server.key");
    if ((await exists(certPath)) && (await exists(keyPath))) {
      const cert = await readFile(certPath, "utf8");
      const leaf = new x509.X509Certificate(cert);
      const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
      const have = (san?.names.items ?? []).map((n) => n.value).sort();
      const fresh = leaf.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS;
      const sameIssuer =
        leaf.issuer === caCert.subject &&
        (await leaf.verify({ publicKey: caCert.publicKey }).catch(() => false));
      if (fresh && sameIssuer && JSON.stringify(have) === JSON.stringify(wanted)) {
        return { key: await readFile(keyPath, "utf8"), cert: cert + caCertPem };
      }
    }
    const keys = (await crypto.subtle.generateKey(ALGORITHM, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${wanted.find((h) => isIP(h) === 0) ?? wanted[0] ?? "localhost"}`,
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Math.min(Date.now() + days(LEAF_VALIDITY_DAYS), caCert.notAfter.getTime())),
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          wanted.map((h) => (isIP(h) ? { type: "ip", value: h } : { type: "dns", value: h })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const key = toPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
    const cert = leaf.toString("pem") + "\n";
    await writePrivate(keyPath, key);
    await writeFile(certPath, cert);
    // Serve the chain (leaf + CA) so clients that only trust the CA can build the path.
    return { key, cert: cert + caCertPem };
  };

  return { caCertPath, caCertPem, serverCert };
}

/**
 * Makes this process trust the dev CA for every later TLS connection that uses Node's default CA list (which is
 * what @azure/service-bus uses). Idempotent. Needs Node ≥ 22.15 (tls.setDefaultCACertificates).
 */
export function trustDevCaInProcess(caCertPem: string): void {
  trustCaCertificates([caCertPem]);
}
