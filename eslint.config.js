// @ts-check
// ESLint flat config. TypeScript (src/, test/, bench/) is linted with type information (the tsconfig.json program) so
// the promise rules can see what returns a promise; plain JavaScript (examples, scripts, eval bots, the console page)
// is linted without it. `npm run lint` runs `eslint .`; see docs/contributing.md.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Node's globals, for the plain JavaScript files (TypeScript files get theirs from @types/node). */
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextEncoder',
    'TextDecoder',
    'AbortController',
    'AbortSignal',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'fetch',
    'performance',
    'WebSocket',
    'globalThis',
  ].map((name) => [name, 'readonly']),
);

/** The browser's globals the console page uses. */
const browserGlobals = Object.fromEntries(
  [
    'window',
    'document',
    'navigator',
    'console',
    'location',
    'fetch',
    'URL',
    'EventSource',
    'WebSocket',
    'AudioContext',
    'AudioWorkletNode',
    'AudioWorkletProcessor',
    'registerProcessor',
    'sampleRate',
    'currentTime',
    'requestAnimationFrame',
    'cancelAnimationFrame',
    'ResizeObserver',
    'getComputedStyle',
    'devicePixelRatio',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'performance',
    'Blob',
    'MediaStream',
    'HTMLElement',
    'CSS',
    'crypto',
  ].map((name) => [name, 'readonly']),
);

/** Shared by every file: unused bindings are errors unless named `_…` (deliberately ignored). */
const unusedVars = [
  'error',
  {
    args: 'after-used',
    argsIgnorePattern: '^_',
    varsIgnorePattern: '^_',
    caughtErrors: 'all',
    caughtErrorsIgnorePattern: '^_',
    destructuredArrayIgnorePattern: '^_',
    ignoreRestSiblings: true,
  },
];

export default defineConfig(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'test-artifacts/**', 'bench/results/**', 'deploy/**', 'vendors/**'],
  },
  js.configs.recommended,
  {
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A `let` read by a teardown registered before its one assignment cannot become a `const` there.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      'no-unused-vars': unusedVars,
    },
  },
  // TypeScript: type-aware recommended sets.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': unusedVars,
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap's t.test() returns its subtest's promise, but the parent test queues and awaits its subtests itself.
          allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Rejecting with what was caught passes a failure through; creating a non-Error rejection is still an error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Functions that implement a promise-returning contract (adapters, hooks) are `async` without awaiting so that
      // a synchronous throw becomes a rejection, which is what their callers handle.
      '@typescript-eslint/require-await': 'off',
    },
  },
  // Tests: JSON and YAML read back (HTTP bodies, log lines, WebSocket messages, manifests) is `any` that the assertions
  // then check at run time, and assertion messages print whatever came back.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // Plain JavaScript: no type information.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },
  {
    files: ['console/**/*.js'],
    languageOptions: { globals: browserGlobals },
  },
);
