// `logagent run`: start the agent; SIGTERM/SIGINT drain and checkpoint, a
// second signal exits at once.
//
// The process ends after every shutdown. Every resource has an owner that
// closes it, but a library can still leave a timer or a socket behind (a
// kafkajs retry sleeping, say); so once `logagent stopped` is logged, a
// watchdog that does not itself keep the process alive ends it after
// EXIT_GRACE_MS if something else still does, naming what that was.

import { Agent } from '../agent.ts';
import { CheckpointError, ConfigError, KafkajsPatchError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { loadFromArgs, parseConfigArgs } from './options.ts';

const EXIT_GRACE_MS = 1_000;

export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  const loaded = loadFromArgs(values);
  const config = loaded.config;
  const logger = createLogger(config.logLevel);
  logger.info({ node: process.version, config: loaded.origin ?? 'environment' }, 'logagent starting');
  for (const { key, env } of loaded.overrides) {
    logger.warn(
      { key, env, origin: loaded.origin },
      'a key set in the configuration is overridden by the environment; the environment wins',
    );
  }
  let agent: Agent;
  try {
    agent = await Agent.create({ config, logger, configPath: loaded.path, configText: loaded.text, env: process.env });
  } catch (err) {
    const code = startFailure(err, logger);
    exitWhenStuck(code, logger);
    return code;
  }
  // SIGHUP: read the configuration again now.
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the configuration');
    void agent.reloadConfig('SIGHUP');
  });

  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting now without draining');
        process.exit(130);
      }
      agent.shutdown(signal).then(
        (result) => resolve(result.clean ? 0 : 1),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  let code: number;
  try {
    await agent.start();
    code = await stopped;
  } catch (err) {
    code = startFailure(err, logger);
    await agent.shutdown('start failed').catch(() => undefined);
  }
  exitWhenStuck(code, logger);
  return code;
}

/** Exit code and log line for an error that kept the agent from starting. */
function startFailure(err: unknown, logger: ReturnType<typeof createLogger>): number {
  if (err instanceof CheckpointError && err.code === 'CHECKPOINT_DIR') {
    const problem = new ConfigError([{ key: 'checkpoint.dir', env: 'LOGAGENT_CHECKPOINT_DIR', message: err.message }]);
    logger.fatal({ err, key: 'checkpoint.dir', env: 'LOGAGENT_CHECKPOINT_DIR' }, 'cannot start: the checkpoint directory is unusable');
    process.stderr.write(`logagent: ${problem.message}\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    // Credential files that cannot be read or do not hold together (the schema checked the rest).
    logger.fatal({ problems: err.problems.map((p) => `${p.key}: ${p.message}`) }, 'cannot start: invalid configuration');
    process.stderr.write(`logagent: ${err.message}\n`);
    return 2;
  }
  if (err instanceof KafkajsPatchError) {
    logger.fatal({ err }, 'cannot start: kafkajs is not the version this build patches');
    return 1;
  }
  logger.fatal({ err }, 'cannot start');
  return 1;
}

function exitWhenStuck(code: number, logger: ReturnType<typeof createLogger>): void {
  process.exitCode = code;
  const watchdog = setTimeout(() => {
    const resources = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    logger.warn({ resources, exitCode: code }, 'still running after logagent stopped; exiting');
    process.exit(code);
  }, EXIT_GRACE_MS);
  watchdog.unref();
}
