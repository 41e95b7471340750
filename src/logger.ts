// The agent's own logs: JSON lines on stderr (stdout belongs to commands
// such as `consume`), constant messages, variables as fields. Errors go
// under `err` as Error objects, so pino's serializer keeps their type,
// code, stack and cause.

import pino from 'pino';
import type { LogLevel } from './config/config.ts';

export function createLogger(level: LogLevel = 'info'): pino.Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/**
 * A warning that can fire once per line (a truncated line, say): the first
 * is logged, then at most one per interval carrying how many were
 * suppressed meanwhile. The metric beside it counts every one.
 */
export class RateLimitedWarning {
  private readonly message: string;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(message: string, intervalMs = 30_000, now: () => number = Date.now) {
    this.message = message;
    this.intervalMs = intervalMs;
    this.now = now;
  }

  warn(logger: pino.Logger, fields: Record<string, unknown>): void {
    const now = this.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAt = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    logger.warn(suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields, this.message);
  }
}
