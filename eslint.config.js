// Type-aware lint. The layering rules keep the dependency direction of
// style.md: api -> engine -> {runtime, storage, registry}; cli -> client.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const noImport = (patterns) => ({
  'no-restricted-imports': [
    'error',
    { patterns: patterns.map((group) => ({ group: [group], message: 'layering: see style.md' })) },
  ],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'scripts/', 'bin/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'use named exports' },
      ],
    },
  },
  { files: ['src/engine/**/*.ts'], rules: noImport(['**/api/**', 'node:http', '**/cli/**', '**/client/**']) },
  {
    files: ['src/runtime/**/*.ts', 'src/storage/**/*.ts', 'src/registry/**/*.ts'],
    rules: noImport(['**/api/**', '**/engine/**', '**/cli/**']),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: noImport([
      '**/engine/**',
      '**/api/server*',
      '**/api/routes/**',
      '**/daemon/**',
      '**/runtime/**',
      '**/storage/**',
    ]),
  },
  { files: ['src/client/**/*.ts'], rules: noImport(['**/engine/**', '**/cli/**', '**/daemon/**']) },
  {
    files: ['test/**/*.ts', 'src/**/*.test.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off', // node:test's describe/it return promises by design
    },
  },
);
