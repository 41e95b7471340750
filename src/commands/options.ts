// Options shared by the commands that read the configuration.

import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { loadConfig } from '../config/load.ts';

export function parseConfigArgs(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}) {
  return parseArgs({ args, options: { config: { type: 'string' }, ...extra }, strict: true, allowPositionals: false });
}

export function configFromArgs(values: { config?: string | boolean | undefined }): Config {
  const file = typeof values.config === 'string' ? values.config : process.env.LOGAGENT_CONFIG;
  return loadConfig({ env: process.env, file });
}
