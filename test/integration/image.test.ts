// The container image, built from the Dockerfile and run for real: the
// Docker engine of scripts/docker-local.sh (DOCKER_HOST; scripts/test.sh
// starts it and exports it), the stand-in bases of
// scripts/image/standin-base.sh (nothing can be pulled here), containers on
// the host network against the suite's broker. The image is built once per
// run (from the repository, or from LOGAGENT_IMAGE_BUILD_CONTEXT when set;
// image-helpers.ts, which k8s-sidecar.test.ts builds it with too) and shared
// by the tests below. Skipped, saying why, where no engine runs.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { ConfigMapDir } from './configmap-dir.ts';
import {
  appendNumbered,
  asText,
  brokers,
  consumeAll,
  missing,
  ROOT,
  startConsumer,
  tally,
  tmpDir,
  uniqueTopic,
  waitFor,
  type Consumed,
} from './helpers.ts';
import { AGENT_ID, buildImage, docker, dockerSkip, IMAGE } from './image-helpers.ts';

const exec = promisify(execFile);
const SHUTDOWN_DEADLINE_MS = 15_000;

const skip = dockerSkip();

/** A directory the agent's uid can write: a checkpoint volume as an operator would prepare it. */
function agentDir(t: TestContext, name: string): string {
  const dir = join(tmpDir(t, `logagent-img-${name}-`), name);
  mkdirSync(dir);
  try {
    chownSync(dir, AGENT_ID, AGENT_ID);
  } catch {
    chmodSync(dir, 0o777); // not root: make it writable for everyone instead
  }
  return dir;
}

/** A log directory, world-readable as the README asks (the agent's uid is not the writer's). */
function logDir(t: TestContext): string {
  const dir = join(tmpDir(t, 'logagent-img-logs-'), 'logs');
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

interface Container {
  readonly name: string;
  logs(): Promise<string>;
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  /** `docker stop` (SIGTERM, SIGKILL after `graceSeconds`); resolves with the exit code and how long it took. */
  stop(graceSeconds?: number): Promise<{ exitCode: number; tookMs: number }>;
  /** The container's PID 1 as the host sees it. */
  hostPid(): Promise<number>;
}

/** `docker run -d --network=host` of the image with the agent's env; removed by t.after. */
async function runAgent(t: TestContext, env: Record<string, string>, options: { mounts: string[]; flags?: string[] }): Promise<Container> {
  const name = `logagent-it-${randomUUID().slice(0, 8)}`;
  const fullEnv: Record<string, string> = {
    KAFKA_BROKERS: brokers(),
    LOGAGENT_HTTP_PORT: '0',
    LOGAGENT_SCAN_INTERVAL_MS: '200',
    LOGAGENT_POLL_INTERVAL_MS: '100',
    LOGAGENT_CHECKPOINT_INTERVAL_MS: '200',
    LOGAGENT_SHUTDOWN_QUIET_MS: '300',
    LOGAGENT_SHUTDOWN_DEADLINE_MS: String(SHUTDOWN_DEADLINE_MS),
    ...env,
  };
  const args = ['run', '-d', '--name', name, '--network=host', ...(options.flags ?? [])];
  for (const m of options.mounts) args.push('-v', m);
  for (const [k, v] of Object.entries(fullEnv)) args.push('-e', `${k}=${v}`);
  args.push(IMAGE);
  t.after(() => docker(['rm', '-f', '-v', name]).catch(() => undefined));
  await docker(args);
  const logs = async (): Promise<string> => {
    // The agent logs to stderr; docker logs replays it there.
    const { stdout, stderr } = await exec('docker', ['logs', name], { env: process.env, maxBuffer: 64 * 1024 * 1024 });
    return stdout + stderr;
  };
  return {
    name,
    logs,
    waitForLog: async (text, timeoutMs = 30_000) => {
      let last = '';
      try {
        await waitFor(
          async () => {
            last = await logs();
            if (last.includes(text)) return true;
            const running = await docker(['inspect', '-f', '{{.State.Running}}', name]);
            if (running !== 'true') throw new Error(`container ${name} exited before logging "${text}":\n${last}`);
            return false;
          },
          timeoutMs,
          `"${text}" in the logs of ${name}`,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- container logs:\n${last}`, { cause: err });
      }
    },
    stop: async (graceSeconds = 60) => {
      const startedAt = Date.now();
      await docker(['stop', '-t', String(graceSeconds), name], (graceSeconds + 30) * 1000);
      const tookMs = Date.now() - startedAt;
      return { exitCode: Number(await docker(['inspect', '-f', '{{.State.ExitCode}}', name])), tookMs };
    },
    hostPid: async () => Number(await docker(['inspect', '-f', '{{.State.Pid}}', name])),
  };
}

function exactlyOnce(messages: Consumed[], from: number, to: number): void {
  const counts = tally(messages);
  assert.deepEqual(missing(counts, from, to), [], 'every line arrived');
  const repeated = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
  assert.deepEqual(repeated, [], 'no line arrived twice');
  assert.equal(messages.length, to - from, 'nothing else arrived');
}

/** A TCP port nothing listens on right now (the containers share the host's network). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The checkpoint file the agent wrote into the volume, as { path: offset }. */
function checkpointOffsets(stateDir: string): Record<string, number> {
  const saved = JSON.parse(readFileSync(join(stateDir, 'checkpoints.json'), 'utf8')) as {
    files: Record<string, { path: string; offset: number }>;
  };
  return Object.fromEntries(Object.values(saved.files).map((e) => [e.path, e.offset]));
}

let runtimeBase = '';

before(
  async () => {
    if (skip) return;
    runtimeBase = (await buildImage()).runtimeBase;
  },
  { timeout: 900_000 },
);

test(
  'the image runs node with the bin flags as uid 10001, labelled, with only the bundle and the packages it loads from disk',
  { skip },
  async () => {
    const config = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config}}', IMAGE])) as {
      User: string;
      Entrypoint: string[];
      Cmd: string[];
      Labels: Record<string, string>;
      Volumes: Record<string, unknown>;
    };
    assert.equal(config.User, `${AGENT_ID}:${AGENT_ID}`, 'numeric non-root user, so no passwd entry is needed');
    assert.deepEqual(config.Entrypoint, [
      'node',
      '--max-semi-space-size=1',
      '--disable-warning=TimeoutNegativeWarning',
      '--enable-source-maps',
      '/app/cli.js',
    ]);
    assert.deepEqual(config.Cmd, ['run']);
    assert.deepEqual(Object.keys(config.Volumes), ['/var/lib/logagent']);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(config.Labels['org.opencontainers.image.title'], 'logagent');
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.equal(config.Labels['org.opencontainers.image.version'], version);
    assert.equal(config.Labels['org.opencontainers.image.base.name'], runtimeBase);
    assert.match(config.Labels['org.logagent.test-only'] ?? '', /tests only/, 'an image on the stand-in base says it is for tests only');

    // What is in /app, seen from inside (no shell in the image: node lists it).
    const listing = JSON.parse(
      await docker([
        'run',
        '--rm',
        '--network=none',
        '--entrypoint',
        'node',
        IMAGE,
        '-e',
        `const fs = require('node:fs');
         const st = fs.statSync('/var/lib/logagent');
         console.log(JSON.stringify({
           modules: fs.readdirSync('/app/node_modules').sort(),
           hasSrc: fs.existsSync('/app/src'), hasPackageLock: fs.existsSync('/app/package-lock.json'),
           stateOwner: [st.uid, st.gid], appOwner: fs.statSync('/app/cli.js').uid,
           uid: process.getuid(), gid: process.getgid() }));`,
      ]),
    ) as Record<string, unknown>;
    assert.deepEqual(listing, {
      modules: ['kafkajs', 'lz4js', 'snappyjs'],
      hasSrc: false,
      hasPackageLock: false,
      stateOwner: [AGENT_ID, AGENT_ID],
      appOwner: 0,
      uid: AGENT_ID,
      gid: AGENT_ID,
    });

    // Small: the app adds a few MB to its base, not the ~93 MB of production node_modules.
    const size = Number(await docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE]));
    const baseSize = Number(await docker(['image', 'inspect', '-f', '{{.Size}}', runtimeBase]));
    assert.ok(size - baseSize < 10_000_000, `the app layers are ${((size - baseSize) / 1e6).toFixed(1)} MB`);

    const help = await docker(['run', '--rm', '--network=none', IMAGE, '--help']);
    assert.match(help, /usage: logagent/);
  },
);

test(
  'lines from a read-only log mount arrive exactly once; docker stop exits 0 within the deadline with every line checkpointed; a restart on the same volume resumes without duplicates',
  { skip },
  async (t) => {
    const logs = logDir(t);
    const state = agentDir(t, 'state');
    const log = join(logs, 'app.log');
    const topic = uniqueTopic('img');
    appendNumbered(log, 0, 2_000);
    const env = { LOGAGENT_TOPIC: topic, LOGAGENT_PATHS: '/logs/*.log', LOGAGENT_START_AT: 'beginning' };
    const mounts = [`${logs}:/logs:ro`, `${state}:/var/lib/logagent`];

    const first = await runAgent(t, env, { mounts });
    await first.waitForLog('logagent started');
    const live = await startConsumer(t, topic);
    // Lines appended while it runs are tailed too.
    appendNumbered(log, 2_000, 3_000);
    await live.waitUntil((m) => m.length >= 3_000, 60_000, '3,000 lines');

    const firstStop = await first.stop();
    assert.equal(firstStop.exitCode, 0, `clean shutdown; logs:\n${await first.logs()}`);
    assert.ok(firstStop.tookMs < SHUTDOWN_DEADLINE_MS, `docker stop took ${firstStop.tookMs} ms`);
    assert.match(await first.logs(), /"clean":true/);
    assert.deepEqual(checkpointOffsets(state), { '/logs/app.log': statSync(log).size }, 'the checkpoint covers every line');
    // The agent wrote nothing into the container's own filesystem: a read-only
    // root is enough. (Docker itself adds the mount point /logs.)
    const changed = (await docker(['diff', first.name])).split('\n').filter((l) => l !== '' && l !== 'A /logs');
    assert.deepEqual(changed, [], 'no file changed outside the volumes');

    appendNumbered(log, 3_000, 4_000);
    const second = await runAgent(t, env, { mounts });
    await second.waitForLog('logagent started');
    await live.waitUntil((m) => m.length >= 4_000, 60_000, '4,000 lines');
    const secondStop = await second.stop();
    assert.equal(secondStop.exitCode, 0, `clean shutdown; logs:\n${await second.logs()}`);
    assert.deepEqual(checkpointOffsets(state), { '/logs/app.log': statSync(log).size });
    await live.stop();

    exactlyOnce(await consumeAll(topic, { expected: 4_000, settleMs: 1_500 }), 0, 4_000);
    assert.ok(
      live.messages.map(asText).every((m) => m.key === '/logs/app.log'),
      'the key is the path inside the container',
    );
  },
);

test('runs with a read-only root, no capabilities and no-new-privileges, as uid 10001 with node as PID 1', { skip }, async (t) => {
  const logs = logDir(t);
  const state = agentDir(t, 'state');
  const log = join(logs, 'app.log');
  const topic = uniqueTopic('img-ro');
  appendNumbered(log, 0, 500);
  const httpPort = await freePort();
  const agent = await runAgent(
    t,
    {
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: '/logs/*.log',
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_HTTP_HOST: '127.0.0.1',
      LOGAGENT_HTTP_PORT: String(httpPort),
    },
    {
      mounts: [`${logs}:/logs:ro`, `${state}:/var/lib/logagent`],
      flags: ['--read-only', '--user', `${AGENT_ID}:${AGENT_ID}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'],
    },
  );
  await agent.waitForLog('logagent started');
  exactlyOnce(await consumeAll(topic, { expected: 500 }), 0, 500);
  const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  assert.equal(health.status, 200, 'the HTTP server runs unprivileged on the host network');

  // The container's PID 1, read from the host's /proc (the image has no shell to exec).
  const pid = await agent.hostPid();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  assert.deepEqual(field('Uid').split(/\s+/).map(Number), [AGENT_ID, AGENT_ID, AGENT_ID, AGENT_ID]);
  assert.deepEqual(field('Gid').split(/\s+/).map(Number), [AGENT_ID, AGENT_ID, AGENT_ID, AGENT_ID]);
  assert.equal(field('NSpid').split(/\s+/).pop(), '1', 'node is PID 1 in the container');
  assert.equal(field('CapEff'), '0000000000000000', 'no capabilities');
  assert.equal(field('NoNewPrivs'), '1');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  assert.deepEqual(argv, [
    'node',
    '--max-semi-space-size=1',
    '--disable-warning=TimeoutNegativeWarning',
    '--enable-source-maps',
    '/app/cli.js',
    'run',
  ]);

  const stopped = await agent.stop();
  assert.equal(stopped.exitCode, 0, `clean shutdown; logs:\n${await agent.logs()}`);
  assert.deepEqual(checkpointOffsets(state), { '/logs/app.log': statSync(log).size });
  const stateFile = statSync(join(state, 'checkpoints.json'));
  assert.deepEqual([stateFile.uid, stateFile.gid], [AGENT_ID, AGENT_ID], 'the checkpoint is written as the agent uid');
});

test(
  'a configuration directory mounted into the container hot-reloads: a ConfigMap-style swap adds an input, read-only root and all',
  { skip },
  async (t) => {
    const logs = logDir(t);
    const state = agentDir(t, 'state');
    const cm = new ConfigMapDir(join(tmpDir(t, 'logagent-img-cm-'), 'config'));
    const [first, second] = [uniqueTopic('img-cfg-a'), uniqueTopic('img-cfg-b')];
    appendNumbered(join(logs, 'a.log'), 0, 20);
    appendNumbered(join(logs, 'b.log'), 0, 30);
    const inputs = (withB: boolean): string =>
      `inputs:\n  - name: a\n    paths: [/logs/a.log]\n    topic: ${first}\n    startAt: beginning\n` +
      (withB ? `  - name: b\n    paths: [/logs/b.log]\n    topic: ${second}\n    startAt: beginning\n` : '');
    cm.update({ 'config.yaml': inputs(false) });
    chmodSync(cm.dir, 0o755);
    const agent = await runAgent(
      t,
      { LOGAGENT_CONFIG: '/etc/logagent' },
      {
        mounts: [`${logs}:/logs:ro`, `${state}:/var/lib/logagent`, `${cm.dir}:/etc/logagent:ro`],
        flags: ['--read-only', '--user', `${AGENT_ID}:${AGENT_ID}`, '--cap-drop', 'ALL'],
      },
    );
    await agent.waitForLog('logagent started');
    exactlyOnce(await consumeAll(first, { expected: 20 }), 0, 20);
    cm.update({ 'config.yaml': inputs(true) });
    await agent.waitForLog('configuration applied', 15_000);
    exactlyOnce(await consumeAll(second, { expected: 30 }), 0, 30);
    assert.equal((await agent.stop()).exitCode, 0);
  },
);
