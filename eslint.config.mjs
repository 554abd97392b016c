// Lint rules: type-aware checks everywhere, and a fence that keeps workflows/ deterministic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', '.cache/**', 'examples/**', '*.mjs', '*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain Node launchers (scripts/cli.js runs the CLI without ts-node): no TypeScript project, CommonJS.
    files: ['scripts/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      parserOptions: { projectService: false },
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['pg', 'node:*', 'fs', 'net', 'http', 'https', 'child_process', 'crypto', 'os', 'path'], message: 'workflows/ must stay deterministic' },
            { group: ['../src/runtime/*', '../src/postgres/*', '../src/temporal/*', '../activities/*'], message: 'workflows/ sees only pure modules and activity types' , allowTypeImports: true},
          ],
        },
      ],
    },
  },
);
