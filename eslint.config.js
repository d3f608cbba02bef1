// typescript-eslint's recommended rules: the standard linter for TypeScript, and it
// understands the type syntax that plain ESLint rules would misread.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', '.actorhost/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain Node scripts (TypeScript files get Node's globals from @types/node instead).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error', '@typescript-eslint/no-explicit-any': 'error' },
  },
  // The thread boundary (DESIGN.md "Layout"): worker code and host code meet only in protocol/.
  {
    files: ['src/actors/worker/**/*.ts', 'src/**/*.worker.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)runtime/', message: 'Worker code never imports host code; share it through src/protocol/.' }] }] },
  },
  {
    files: ['src/runtime/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)actors/worker/|\\.worker(\\.js)?$', message: 'Host code never imports worker code; share it through src/protocol/.' }] }] },
  },
  {
    files: ['src/protocol/**/*.ts', 'src/machines/**/*.ts', 'src/actors/**/*.ts'],
    ignores: ['src/actors/worker/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)(runtime|actors/worker)/', message: 'protocol/, machines/ and actors/ run on either thread: they import neither host nor worker code.' }] }] },
  },
);
