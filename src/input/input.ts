// Input: one configured input, which is discovery plus a route. It lists
// the files its globs match (a full scan every scanIntervalMs is the truth;
// filesystem events and rotations only make the next scan sooner) and
// offers each to the FileRegistry, which owns the open files. Its claim
// (name, rank, topic, startAt) is what the registry routes lines by, so a
// reload that changes the topic or the globs replaces the claim and the
// matcher and leaves every open file alone.

import type pino from 'pino';
import { isDeepStrictEqual } from 'node:util';
import type { InputConfig } from '../config/config.ts';
import { PathMatcher } from './discovery.ts';
import type { FileRegistry, InputClaim } from './registry.ts';
import { buildRoute, type Route } from './route.ts';

/** How much less often the safety-net scan runs where filesystem events cover the input's directories. */
export const EVENTS_SCAN_FACTOR = 6;

export interface InputOptions {
  config: InputConfig;
  /** Position in the configuration (the first-listed input owns a file matched by several). */
  order: number;
  registry: FileRegistry;
  scanIntervalMs: number;
  logger: pino.Logger;
  now?: () => number;
  /** Scan every scanIntervalMs on a timer (the agent). Off in tests that call scan() themselves. */
  autoScan?: boolean;
}

export class Input {
  private config: InputConfig;
  private order: number;
  private route: Route;
  private matcher: PathMatcher;
  private readonly registry: FileRegistry;
  private scanIntervalMs: number;
  private readonly logger: pino.Logger;
  private readonly now: () => number;
  private readonly autoScan: boolean;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private firstScanDone = false;
  private stopped = false;
  private lastScanAtMs = 0;

  constructor(options: InputOptions) {
    this.config = options.config;
    this.order = options.order;
    this.route = buildRoute(options.config);
    this.matcher = new PathMatcher(options.config.paths, options.config.exclude);
    this.registry = options.registry;
    this.scanIntervalMs = options.scanIntervalMs;
    this.logger = options.logger.child({ input: options.config.name });
    this.now = options.now ?? Date.now;
    this.autoScan = options.autoScan ?? false;
  }

  get name(): string {
    return this.config.name;
  }

  get claim(): InputClaim {
    return { name: this.config.name, order: this.order, route: this.route, startAt: this.config.startAt };
  }

  /** When the last scan finished (health: discovery is alive). */
  get lastScanAt(): number {
    return this.lastScanAtMs;
  }

  /** Directories the globs start from: watched for new files. */
  watchRoots(): string[] {
    return this.matcher.watchRoots().map((r) => r.dir);
  }

  /** Runs the first scan (files present now honour startAt), then keeps discovering. */
  async start(): Promise<void> {
    await this.runScan();
    this.scheduleNext();
  }

  /**
   * A reload: new globs, topic or startAt (the name is the identity and
   * does not change). The next line of every file of this input takes the
   * new route; a new scan runs at once for new globs.
   */
  update(config: InputConfig, order: number): void {
    this.order = order;
    if (isDeepStrictEqual(config, this.config)) return; // unchanged: the same route, nothing to re-split
    this.config = config;
    this.route = buildRoute(config);
    this.matcher = new PathMatcher(config.paths, config.exclude);
  }

  /** A reload changed discovery.scanIntervalMs: the next scan is scheduled with it. */
  setScanInterval(ms: number): void {
    if (ms === this.scanIntervalMs) return;
    this.scanIntervalMs = ms;
    this.scheduleNext();
  }

  /** Scan soon (a filesystem event, a rotation, a reload). Coalesces with a scan in progress. */
  requestScan(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescanRequested = true;
      return;
    }
    void this.runScan().then(() => this.scheduleNext());
  }

  async scan(): Promise<void> {
    const presentAtStart = !this.firstScanDone;
    const claim = this.claim;
    const matched = new Set(await this.matcher.list());
    for (const path of matched) {
      if (this.stopped) return;
      await this.registry.offer(path, claim, presentAtStart);
    }
    this.firstScanDone = true;
    await this.registry.afterScan(claim, matched);
    await this.registry.refresh();
  }

  /** Stops discovering (shutdown or input removed); waits for a scan in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning;
  }

  private async runScan(): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescanRequested = false;
        try {
          await this.scan();
        } catch (err) {
          this.logger.error({ err }, 'scan failed; retrying at the next interval');
        }
        this.lastScanAtMs = this.now();
      } while (this.rescanRequested && !this.stopped);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  /**
   * The next periodic scan. Where filesystem events cover every directory
   * the globs can match in (plain directory patterns, all of them watched:
   * no file there is being written), the scan is only the safety net for a
   * lost event and runs at EVENTS_SCAN_FACTOR times the interval; an idle
   * agent with 2,000 quiet files then costs one scan a minute, not six.
   */
  private scheduleNext(): void {
    if (!this.autoScan || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const covered = this.matcher.isFlat && this.registry.eventsCover(this.watchRoots());
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.runScan().then(() => this.scheduleNext());
      },
      covered ? this.scanIntervalMs * EVENTS_SCAN_FACTOR : this.scanIntervalMs,
    );
  }
}
