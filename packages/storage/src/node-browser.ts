/**
 * What bundlers resolve `@pt/storage/node` to under the `browser` export condition: the Node-only
 * entry (files, `node:*` modules) cannot run there, so importing it fails at once with a clear
 * message instead of an unresolved `node:fs`.
 */
throw new Error(
  "@pt/storage/node is a Node-only entry (files, node:fs, node:crypto); in a browser use @pt/storage",
);
