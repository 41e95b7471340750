// Notices that the credential files of the `kafka` section changed and
// hands a new, complete snapshot to the agent, which builds a new producer
// on it through the lossless switch (sink-switch.ts).
//
// What changes them: cert-manager and Kubernetes Secret volumes replace the
// files by swapping a `..data` symlink (the visible names never change in
// place), so the directories holding the files are watched, not the files,
// and any event there means "read them all again". Events can be missed
// (see config/file-source.ts), so the files are also read on a timer: the
// configuration check interval, and for an OAUTHBEARER token also before
// it expires (tokenRereadDelayMs). A read that fails or does not hold
// together (a certificate with the old key, mid-rotation) changes nothing
// and is retried at the next event or tick; the running producer stays.
// Reads are cheap (a few small files) and compared by fingerprint, so
// events and ticks never rebuild a producer for nothing.

import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type pino from 'pino';
import type { KafkaConfig } from '../config/config.ts';
import { ConfigError, errorMessage } from '../errors.ts';
import { RateLimitedWarning } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { readCredentials, tokenRereadDelayMs, type KafkaCredentials } from './credentials.ts';

const DEBOUNCE_MS = 100;

export interface CredentialWatchOptions {
  kafka: KafkaConfig;
  /** The snapshot the running producer uses. */
  initial: KafkaCredentials;
  /** Safety-net re-read period (config.checkIntervalMs). */
  checkIntervalMs: number;
  logger: pino.Logger;
  metrics: Metrics;
  /** A changed, complete snapshot for `kafka`: build a producer on it. */
  onChange: (kafka: KafkaConfig, next: KafkaCredentials, reason: string) => void;
  /** Directory events (default true); off, only the periodic reads find changes (tests of that safety net). */
  events?: boolean;
  now?: () => number;
}

export class CredentialWatch {
  private readonly o: CredentialWatchOptions;
  private readonly logger: pino.Logger;
  private readonly now: () => number;
  private kafka: KafkaConfig;
  private snapshot: KafkaCredentials;
  private watcher: FSWatcher | undefined;
  private watchedDirs = '';
  private debounce: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private readonly unreadable = new RateLimitedWarning('kafka credential files changed but cannot be used yet; the running producer stays');
  private readonly expired = new RateLimitedWarning('the OAUTHBEARER token in its file has expired; waiting for a new one');

  constructor(options: CredentialWatchOptions) {
    this.o = options;
    this.logger = options.logger.child({ component: 'kafka-credentials' });
    this.now = options.now ?? Date.now;
    this.kafka = options.kafka;
    this.snapshot = options.initial;
  }

  get current(): KafkaCredentials {
    return this.snapshot;
  }

  /** For /status: which files, which certificate, when the token expires. No secret. */
  status(): Record<string, unknown> {
    const c = this.snapshot;
    return {
      files: c.files,
      ...(c.mechanism ? { mechanism: c.mechanism, principal: c.principal } : {}),
      ...(c.certificate
        ? { certificate: { subject: c.certificate.subject, serialNumber: c.certificate.serialNumber, validTo: c.certificate.validTo } }
        : {}),
      ...(c.tokenExpiresAt !== undefined ? { tokenExpiresAt: new Date(c.tokenExpiresAt).toISOString() } : {}),
    };
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.rewatch();
    this.schedule();
  }

  /** A new `kafka` section and the snapshot its producer runs on (a configuration change). */
  update(kafka: KafkaConfig, snapshot: KafkaCredentials): void {
    this.kafka = kafka;
    this.snapshot = snapshot;
    if (!this.started || this.closed) return;
    this.rewatch();
    this.schedule();
  }

  /** Reads the files now; a changed, complete snapshot goes to onChange. Synchronous. */
  check(reason: string): void {
    if (this.closed || this.snapshot.files.length === 0) return;
    let next: KafkaCredentials;
    try {
      next = readCredentials(this.kafka);
    } catch (err) {
      this.o.metrics.credentialReloads.inc({ result: 'rejected' });
      const problems = err instanceof ConfigError ? err.problems.map((p) => `${p.key}: ${p.message}`) : [errorMessage(err)];
      this.unreadable.warn(this.logger, { reason, problems });
      this.schedule();
      return;
    }
    const expiresAt = next.tokenExpiresAt;
    if (expiresAt !== undefined && expiresAt <= this.now()) {
      this.expired.warn(this.logger, { expiredAt: new Date(expiresAt).toISOString(), file: this.kafka.sasl?.tokenFile });
    }
    const changed = next.fingerprint !== this.snapshot.fingerprint;
    // Scheduled from what was just read: a renewed token moves the next read out.
    this.snapshot = next;
    this.schedule();
    if (!changed) return;
    this.o.metrics.credentialReloads.inc({ result: 'applied' });
    this.logger.info({ reason, files: next.files }, 'kafka credential files changed; a new producer takes over');
    this.rewatch();
    this.o.onChange(this.kafka, next, reason);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.tick) clearTimeout(this.tick);
    this.debounce = undefined;
    this.tick = undefined;
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
  }

  private rewatch(): void {
    const dirs = [...new Set(this.snapshot.files.map((f) => dirname(f)))];
    const key = JSON.stringify(dirs);
    if (key === this.watchedDirs && this.watcher) return;
    const old = this.watcher;
    this.watcher = undefined;
    void old?.close();
    this.watchedDirs = key;
    if (dirs.length === 0 || this.o.events === false) return;
    const watcher = watch(dirs, { ignoreInitial: true, followSymlinks: false, depth: 0, persistent: false });
    watcher.on('all', (event: string, path: string) => {
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        this.debounce = undefined;
        this.check(`${event} ${path}`);
      }, DEBOUNCE_MS);
    });
    watcher.on('error', (err: unknown) =>
      this.logger.warn({ dirs, err }, 'credential directory events unavailable; the periodic check still finds changes'),
    );
    this.watcher = watcher;
  }

  private schedule(): void {
    if (this.tick) clearTimeout(this.tick);
    this.tick = undefined;
    if (this.closed || !this.started || this.snapshot.files.length === 0) return;
    let delay = this.o.checkIntervalMs;
    if (this.kafka.sasl?.mechanism === 'oauthbearer') {
      delay = Math.min(delay, tokenRereadDelayMs(this.snapshot.tokenExpiresAt, this.now(), this.kafka.sasl.tokenRefreshMs));
    }
    this.tick = setTimeout(() => {
      this.tick = undefined;
      this.check('periodic check');
    }, delay);
    this.tick.unref();
  }
}
