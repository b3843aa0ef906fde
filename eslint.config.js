import js from "@eslint/js";
import svelte from "eslint-plugin-svelte";
import globals from "globals";
import ts from "typescript-eslint";

export default ts.config(
  { ignores: ["node_modules/", "dist/", ".svelte-kit/", "**/.wrangler/", "worker/worker-configuration.d.ts", "test-results/", "bench/results/"] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // User data is always rendered as text (CONVENTIONS.md).
      "svelte/no-at-html-tags": "error",
      // The SPA is served at the root with no paths.base, so plain hrefs are right.
      "svelte/no-navigation-without-resolve": "off",
      "no-restricted-syntax": [
        "error",
        { selector: "AssignmentExpression[left.property.name='innerHTML']", message: "Never set innerHTML: render user data as text." },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: "Never insertAdjacentHTML: render user data as text." },
      ],
    },
  },
  {
    files: ["**/*.svelte", "**/*.svelte.ts"],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: [".svelte"] } },
  },
);
