import { calculateJwkThumbprint, type CryptoKey, exportJWK, generateKeyPair, type JWK } from "jose";

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/**
 * The issuer's RS256 keys. The newest signs; older ones stay published in the JWKS (up to `keep`) so tokens signed
 * before a rotation still validate, as with Entra's rolling keys.
 */
export class SigningKeys {
  #keys: SigningKey[] = [];
  readonly #keep: number;

  private constructor(keep: number) {
    this.#keep = keep;
  }

  static async create(keep = 2): Promise<SigningKeys> {
    const keys = new SigningKeys(keep);
    await keys.rotate();
    return keys;
  }

  /** Makes a new key the signing key. Returns its kid. */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair("RS256", {
      modulusLength: 2048,
      extractable: true,
    });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    this.#keys = [
      { kid, privateKey, publicJwk: { ...jwk, kid, use: "sig", alg: "RS256" } },
      ...this.#keys,
    ].slice(0, this.#keep);
    return kid;
  }

  get current(): SigningKey {
    const key = this.#keys[0];
    if (!key) throw new Error("no signing key");
    return key;
  }

  /** The JWKS document: `{ keys: [...] }` as Entra's discovery/keys serves it. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => k.publicJwk) };
  }
}
