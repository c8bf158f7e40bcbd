// ESLint for the TypeScript and JavaScript sources, run by `npm test` (npm run lint) with
// Prettier's check. TypeScript's own checks (strict, no unused locals) come from `tsc`; this adds
// the rules the compiler does not have.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', '**/node_modules/**', 'bench/results/**', 'reports/**', 'runs/**', 'examples/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // A leading underscore marks a parameter or binding kept for its position or shape.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // tsc resolves names; ESLint's no-undef does not know TypeScript's types and globals.
      'no-undef': 'off',
    },
  },
  {
    // Tests build malformed and hostile documents (JSON, manifests, protobuf objects) field by
    // field; there `any` is the honest type.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
