export * from "./hooks.js";
export * from "./values.js";
