import { configDefaults, defineConfig } from 'vitest/config';

const PACKAGE_TEST = 'test/package.test.ts';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/quiet-warnings.ts'],
    // The official SDK warns on every request to a model it lists as deprecated; tests send such
    // requests on purpose (retired and unpriced models), so the warning is not news.
    onConsoleLog: (log) => !log.includes('is deprecated and will reach end-of-life'),
    // Tests start real servers on loopback; two cores, so keep parallelism modest.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'sluice',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, PACKAGE_TEST],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Packing builds the project and installs it: CPU-heavy, so it runs after the timing-sensitive tests.
        extends: true,
        test: { name: 'package', include: [PACKAGE_TEST], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
