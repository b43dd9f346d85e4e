// Lint of every JavaScript file in the repository: the package (js/), the demo (www/), the
// Worker template (worker/), tests, benchmarks and scripts.
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    ignores: ['dist/', 'target/', '.cache/', 'node_modules/', 'test-results/', 'worker/node_modules/'],
  },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser, ...globals.serviceworker },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
];
