import { describe, expect, it } from 'vitest';
import { Counters } from '../../src/simulator/counters.js';

describe('simulator counters', () => {
  it('report spend without float artefacts', () => {
    const spend = 0.0001 + 0.0002; // two requests' costs, summed as floats
    expect(spend).not.toBe(0.0003);
    expect(new Counters().snapshot(spend).spendUsd).toBe(0.0003);
  });
});
