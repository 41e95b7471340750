// SASL authentication of a broker connection (KIP-43, KIP-152): the
// `authenticate` step a BrokerConnection runs after ApiVersions. A
// SaslHandshake (v1) names the mechanism, then SaslAuthenticate requests
// carry the mechanism's messages:
// - PLAIN (RFC 4616): one message, `\0user\0password`;
// - SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677): client-first,
//   server-first, client-final with the proof, server-final whose signature
//   is checked, so a server that does not know the password is refused;
// - OAUTHBEARER (RFC 7628, KIP-255): one message with the bearer token,
//   read anew (the callback) at every connection. A refused token comes
//   back as a JSON challenge (RFC 7628 3.2.2), not as an error code: the
//   client must answer it with a lone %x01 before the broker fails the
//   exchange, or the connection is left mid-authentication and its next
//   request fails with ILLEGAL_SASL_STATE.
// Errors name the mechanism and the user, never the secret. The producer's
// configuration for this is issue 11's; this module is the protocol part.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { LogAgentError } from '../../errors.ts';
import type { BrokerConnection } from './connection.ts';
import { errorInfo } from './errors.ts';
import { SaslAuthenticate, SaslHandshake } from './protocol.ts';

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';

export interface SaslOptions {
  readonly mechanism: SaslMechanism;
  readonly username?: string;
  readonly password?: string;
  /** OAUTHBEARER: the current token (read from its file at every connection). */
  readonly token?: () => string | Promise<string>;
}

export class SaslAuthenticationError extends LogAgentError {
  /** What the broker (or our check) said, without the mechanism and user. */
  readonly reason: string;

  constructor(mechanism: string, user: string | undefined, reason: string) {
    super('KAFKA_SASL', `SASL ${mechanism} authentication${user ? ` of user "${user}"` : ''} failed: ${reason}`, { canRetry: true });
    this.name = 'SaslAuthenticationError';
    this.reason = reason;
  }
}

/** The `authenticate` step for BrokerConnection. */
export function saslAuthenticator(o: SaslOptions): (c: BrokerConnection) => Promise<void> {
  return async (c) => {
    const fail = (reason: string): SaslAuthenticationError => new SaslAuthenticationError(o.mechanism, o.username, reason);
    const hs = await c.request(SaslHandshake, { mechanism: o.mechanism });
    if (hs.errorCode !== 0) throw fail(`${errorInfo(hs.errorCode).name} (the broker offers ${hs.mechanisms.join(', ') || 'none'})`);
    const exchange = async (bytes: Buffer): Promise<Buffer> => {
      const res = await c.request(SaslAuthenticate, { authBytes: bytes });
      if (res.errorCode !== 0) throw fail(res.errorMessage ?? errorInfo(res.errorCode).name);
      return res.authBytes;
    };
    switch (o.mechanism) {
      case 'PLAIN':
        await exchange(plainMessage(o.username ?? '', o.password ?? ''));
        return;
      case 'OAUTHBEARER': {
        if (!o.token) throw fail('no token');
        const challenge = await exchange(oauthBearerMessage(await o.token()));
        if (challenge.length === 0) return;
        const status = oauthBearerStatus(challenge);
        try {
          await exchange(Buffer.from([0x01]));
        } catch (err) {
          if (err instanceof SaslAuthenticationError) throw fail(`the broker refused the token (${status}): ${err.reason}`);
          throw err;
        }
        throw fail(`the broker refused the token (${status})`);
      }
      case 'SCRAM-SHA-256':
      case 'SCRAM-SHA-512': {
        const scram = new ScramClient(o.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', o.username ?? '', o.password ?? '');
        const serverFirst = await exchange(Buffer.from(scram.firstMessage()));
        const serverFinal = await exchange(Buffer.from(scram.finalMessage(serverFirst.toString())));
        if (!scram.verifyServerFinal(serverFinal.toString()))
          throw fail('the server signature does not match (is it the broker we meant?)');
        return;
      }
    }
  };
}

export function plainMessage(user: string, password: string): Buffer {
  return Buffer.from(`\0${user}\0${password}`, 'utf8');
}

export function oauthBearerMessage(token: string): Buffer {
  return Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`, 'utf8');
}

/** The `status` of an OAUTHBEARER error challenge (RFC 7628 3.2.2: JSON with status, scope, openid-configuration). */
export function oauthBearerStatus(challenge: Buffer): string {
  const text = challenge.toString('utf8');
  try {
    const status = (JSON.parse(text) as { status?: unknown }).status;
    if (typeof status === 'string' && /^[\w.-]{1,64}$/.test(status)) return status;
  } catch {
    // not JSON: say so rather than echo it
  }
  return 'an unreadable error challenge';
}

/** SCRAM user names escape ',' and '=' (RFC 5802 5.1). */
function saslName(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i), part.slice(i + 1));
  }
  return out;
}

export class ScramClient {
  private readonly hash: 'sha256' | 'sha512';
  private readonly user: string;
  private readonly password: string;
  private readonly nonce: string;
  private clientFirstBare = '';
  private serverSignature: Buffer | undefined;

  constructor(hash: 'sha256' | 'sha512', user: string, password: string, nonce = randomBytes(24).toString('base64')) {
    this.hash = hash;
    this.user = user;
    this.password = password;
    this.nonce = nonce;
  }

  firstMessage(): string {
    this.clientFirstBare = `n=${saslName(this.user)},r=${this.nonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  finalMessage(serverFirst: string): string {
    const a = attributes(serverFirst);
    const nonce = a.get('r');
    const salt = a.get('s');
    const iterations = Number(a.get('i'));
    if (a.has('e')) throw new Error(`server error: ${a.get('e')}`);
    if (!nonce?.startsWith(this.nonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error('malformed server-first message');
    }
    const size = this.hash === 'sha256' ? 32 : 64;
    const salted = pbkdf2Sync(this.password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, size, this.hash);
    const clientKey = createHmac(this.hash, salted).update('Client Key').digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = createHmac(this.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(size);
    for (let i = 0; i < size; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    const serverKey = createHmac(this.hash, salted).update('Server Key').digest();
    this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verifyServerFinal(serverFinal: string): boolean {
    const v = attributes(serverFinal).get('v');
    if (!v || !this.serverSignature) return false;
    const got = Buffer.from(v, 'base64');
    return got.length === this.serverSignature.length && timingSafeEqual(got, this.serverSignature);
  }
}
