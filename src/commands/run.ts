// `logagent run`: start the agent; SIGTERM/SIGINT drain and checkpoint, a
// second signal exits at once.

import { Agent } from '../agent.ts';
import { errorMessage } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { configFromArgs, parseConfigArgs } from './options.ts';

export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseConfigArgs(args);
  const config = configFromArgs(values);
  const logger = createLogger(config.logLevel);
  const agent = new Agent({ config, logger });

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
          logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  try {
    await agent.start();
  } catch (err) {
    logger.fatal({ err: errorMessage(err) }, 'cannot start');
    await agent.shutdown('start failed').catch(() => undefined);
    return 1;
  }
  return stopped;
}
