// The npm package as it ships: `npm pack` of the built project, installed
// with production dependencies only, starts and ships a line. This is the
// layout the Dockerfile builds (npm ci --omit=dev + dist/), so a runtime
// import of a devDependency or a file missing from "files" fails here.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { brokers, consumeAll, ROOT, tmpDir, uniqueTopic, waitFor } from './helpers.ts';

const run = promisify(execFile);

test('the packed npm package installs without dev dependencies and ships a line', async (t) => {
  const dir = tmpDir(t, 'logagent-pkg-');
  const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT });
  const tarball = join(dir, stdout.trim().split('\n').pop() ?? '');
  const app = join(dir, 'app');
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), '{"name":"consumer-app","private":true}');
  await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--silent', tarball], { cwd: app, timeout: 300_000 });

  const bin = join(app, 'node_modules', '.bin', 'logagent');
  const help = await run(bin, ['--help'], { cwd: app });
  assert.match(help.stdout, /usage: logagent/);

  const topic = uniqueTopic('pkg');
  const log = join(dir, 'app.log');
  writeFileSync(log, 'hello from the package\n');
  const child = spawn(bin, ['run'], {
    cwd: app,
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: brokers(),
      LOGAGENT_TOPIC: topic,
      LOGAGENT_PATHS: log,
      LOGAGENT_START_AT: 'beginning',
      LOGAGENT_HTTP_PORT: '0',
      LOGAGENT_CHECKPOINT_DIR: join(dir, 'cp'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  await waitFor(() => stderr.includes('logagent started'), 30_000, 'the packaged agent to start');
  const got = await consumeAll(topic, { expected: 1 });
  assert.deepEqual(
    got.map((m) => m.value),
    ['hello from the package'],
  );
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
