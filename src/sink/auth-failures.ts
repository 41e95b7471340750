// Authentication failures of a producer, the same for both clients: a
// broker that refuses our SASL credentials or mechanism, or a TLS
// handshake that fails on a certificate (ours refused, or theirs not
// trusted). Such a failure does not heal by retrying the same credentials,
// so it gets its own clear line, naming the mechanism and the principal
// (never the secret), the first time and then once per interval while it
// lasts, and a counter by mechanism. Delivery is still retried with backoff
// (a broker's user store may be fixed meanwhile), and a changed secret file
// builds a new producer (credential-watch.ts), which is how shipping resumes.

import type pino from 'pino';
import type { Metrics } from '../metrics.ts';
import type { KafkaCredentials } from './credentials.ts';
import { SaslAuthenticationError } from './native/sasl.ts';

export const REMINDER_INTERVAL_MS = 30_000;

/** Node's codes for a TLS handshake that failed on a certificate, either side's. */
const TLS_CERTIFICATE_CODES =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*(ALERT|CERTIFICATE).*|UNABLE_TO_.*|CERT_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;

export type AuthFailureKind = { kind: 'sasl' } | { kind: 'tls'; code: string };

/** Whether `err` (or an error it wraps) is an authentication failure, and which. */
export function authFailureKind(err: unknown): AuthFailureKind | undefined {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (typeof e === 'object' && e !== null && !seen.has(e)) {
    seen.add(e);
    if (e instanceof SaslAuthenticationError || (e as { name?: unknown }).name === 'KafkaJSSASLAuthenticationError')
      return { kind: 'sasl' };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CERTIFICATE_CODES.test(code)) return { kind: 'tls', code };
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export class AuthFailures {
  private readonly logger: pino.Logger;
  private readonly metrics: Metrics;
  private readonly credentials: KafkaCredentials;
  private readonly now: () => number;
  private failures = 0;
  private sinceReminder = 0;
  private lastLogAt = -Infinity;
  private failingNow = false;

  /** `failing`: the producer this one replaces could not authenticate, so its first success is news. */
  constructor(
    logger: pino.Logger,
    metrics: Metrics,
    credentials: KafkaCredentials,
    options: { now?: () => number; failing?: boolean } = {},
  ) {
    this.logger = logger;
    this.metrics = metrics;
    this.credentials = credentials;
    this.now = options.now ?? Date.now;
    this.failingNow = options.failing ?? false;
  }

  /** True from an authentication failure until a request succeeds again. */
  get failing(): boolean {
    return this.failingNow;
  }

  /**
   * Counts and logs `err` when it is an authentication failure and returns
   * the message to show for it (naming mechanism and principal); undefined
   * for any other error.
   */
  record(err: Error, context: string): string | undefined {
    const kind = authFailureKind(err);
    if (!kind) return undefined;
    const c = this.credentials;
    const mechanism = kind.kind === 'tls' ? 'tls' : (c.mechanism ?? 'unknown');
    const principal = kind.kind === 'tls' ? (c.certificate?.subject ?? '(no client certificate)') : (c.principal ?? '');
    const description =
      kind.kind === 'tls'
        ? `TLS handshake failed on a certificate (${kind.code}) as ${principal}: ${err.message}`
        : err instanceof SaslAuthenticationError
          ? err.message
          : `SASL ${mechanism.toUpperCase()} authentication of user "${principal}" failed: ${err.message}`;
    this.metrics.authFailures.inc({ mechanism });
    this.failures++;
    this.sinceReminder++;
    const now = this.now();
    if (!this.failingNow || now - this.lastLogAt >= REMINDER_INTERVAL_MS) {
      const first = !this.failingNow;
      this.logger.error(
        {
          mechanism,
          user: principal,
          context,
          failures: this.failures,
          ...(first ? {} : { failuresSinceLastReminder: this.sinceReminder }),
          error: description,
        },
        first
          ? 'kafka authentication failed; retrying with backoff (fix the credentials: a changed secret or certificate file is picked up by itself)'
          : 'kafka authentication still failing; retrying with backoff',
      );
      this.lastLogAt = now;
      this.sinceReminder = 0;
    }
    this.failingNow = true;
    return description;
  }

  /** A request succeeded: authentication works (again). */
  succeeded(): void {
    if (!this.failingNow) return;
    this.failingNow = false;
    this.logger.info(
      { mechanism: this.credentials.mechanism, user: this.credentials.principal, failures: this.failures },
      'kafka authentication works again',
    );
    this.failures = 0;
    this.sinceReminder = 0;
  }
}
