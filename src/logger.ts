// The agent's own logs: JSON lines on stderr (stdout belongs to commands
// such as `consume`), constant messages, variables as fields.

import pino from 'pino';
import type { LogLevel } from './config/config.ts';

export function createLogger(level: LogLevel = 'info'): pino.Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
