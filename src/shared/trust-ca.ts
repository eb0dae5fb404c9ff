import tls from "node:tls";

/**
 * Adds CA certificates (PEM) to Node's default trust list for every later TLS connection in this process, which is
 * what @azure/service-bus uses (it takes no CA option). Certificates already trusted are not added again.
 * Needs tls.setDefaultCACertificates (Node ≥ 22.15).
 */
export function trustCaCertificates(pems: readonly string[]): void {
  if (typeof tls.setDefaultCACertificates !== "function" || typeof tls.getCACertificates !== "function") {
    throw new Error("tls.setDefaultCACertificates needs Node.js 22.15+; set NODE_EXTRA_CA_CERTS instead");
  }
  const current = tls.getCACertificates("default");
  const known = new Set(current.map((c) => c.trim()));
  const added = pems.map((p) => p.trim()).filter((p) => !known.has(p));
  if (added.length > 0) tls.setDefaultCACertificates([...current, ...added]);
}
