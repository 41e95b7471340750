// `logagent check-config`: validate and print the effective configuration
// (defaults < file < environment), and name every key the environment
// overrides. Secrets are printed as [redacted]; the credential files the
// configuration names (certificates, key, password, token) are read and
// checked as the agent would at start, and described without their content.

import { redactConfig } from '../config/security.ts';
import { readCredentials } from '../sink/credentials.ts';
import { loadFromArgs, parseConfigArgs } from './options.ts';

export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  const loaded = loadFromArgs(values);
  for (const { key, env } of loaded.overrides) {
    process.stderr.write(`logagent: ${key} is set in ${loaded.origin ?? 'the configuration'} and overridden by the environment (${env})\n`);
  }
  const credentials = readCredentials(loaded.config.kafka);
  const c = credentials.certificate;
  if (c) process.stderr.write(`logagent: kafka.tls.certFile: ${c.subject}, serial ${c.serialNumber}, valid until ${c.validTo}\n`);
  if (credentials.tokenExpiresAt !== undefined) {
    process.stderr.write(
      `logagent: kafka.sasl.tokenFile: token of ${credentials.principal ?? '?'} expires ${new Date(credentials.tokenExpiresAt).toISOString()}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(redactConfig(loaded.config), null, 2)}\n`);
  return 0;
}
