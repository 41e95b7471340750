import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planStart, type StartFacts } from '../../../src/input/start-plan.ts';

const base: StartFacts = {
  size: 100,
  checkpointOffset: undefined,
  headMatches: false,
  tailMatches: false,
  presentAtStart: true,
  replacesTailedFile: false,
  startAt: 'end',
};

const cases: Array<[string, Partial<StartFacts>, { action: string; offset: number }]> = [
  [
    'a checkpointed file resumes at its offset',
    { checkpointOffset: 40, headMatches: true, tailMatches: true },
    { action: 'resume', offset: 40 },
  ],
  ['a reused inode (head differs) starts over', { checkpointOffset: 40, headMatches: false }, { action: 'start-over', offset: 0 }],
  [
    'a file shorter than its checkpoint was truncated: start over',
    { size: 10, checkpointOffset: 40, headMatches: true },
    { action: 'start-over', offset: 0 },
  ],
  [
    'bytes before the offset changed: start over',
    { checkpointOffset: 40, headMatches: true, tailMatches: false },
    { action: 'start-over', offset: 0 },
  ],
  ['no checkpoint, present at start, startAt end', {}, { action: 'start-at-end', offset: 100 }],
  ['no checkpoint, present at start, startAt beginning', { startAt: 'beginning' }, { action: 'start-over', offset: 0 }],
  [
    'a file that replaced a tailed file while the agent was down starts at 0, even with startAt end',
    { replacesTailedFile: true },
    { action: 'start-over', offset: 0 },
  ],
  [
    'a file created while running always starts at 0, even with startAt end',
    { presentAtStart: false },
    { action: 'start-over', offset: 0 },
  ],
];

for (const [name, facts, expected] of cases) {
  test(`planStart: ${name}`, () => {
    const plan = planStart({ ...base, ...facts });
    assert.equal(plan.action, expected.action);
    assert.equal(plan.offset, expected.offset);
  });
}
