// Mocha's spec reporter, plus the counts written to a file for scripts/run-tests.mjs, which prints
// the closing `N passed, N failed` line that CI reads.
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => passed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => failed++);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.BITNET_TEST_COUNTS;
      if (file) fs.writeFileSync(file, JSON.stringify({ passed, failed }));
    });
  }
}
module.exports = CountingSpec;
