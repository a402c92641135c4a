import { setUnpricedWarning } from '../../src/catalog/unpriced.js';

// Tests price unknown models on purpose; left alone, the once-per-model warning would print as a
// Node warning in the run's output, where it reads like a failure. Tests that check the warning
// install their own handler.
setUnpricedWarning(() => {});
