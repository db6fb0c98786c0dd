// ESLint: typescript-eslint type-checked rules plus the house rules (layering: README "Architecture").
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'bin/**', 'scripts/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      eqeqeq: 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'only src/cli/ may exit: it maps errors to exit statuses' }],
    },
  },
  {
    files: ['src/cli/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['src/core/**', 'src/protocol/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'better-sqlite3', 'chokidar', 'pino'], message: 'core/ and protocol/ are pure (README "Architecture")' }] }],
    },
  },
  {
    files: ['src/protocol/handshake.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', '!node:crypto'], message: 'handshake.ts may use node:crypto only' }] }] },
  },
  {
    files: ['test/**', 'native-bench/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-restricted-properties': 'off',
    },
  },
);
