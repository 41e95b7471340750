// Waiting on an observed condition, with a deadline, for unit tests that run
// real timers and files. Returns whether the condition came true; callers
// assert with their own message.

export async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
