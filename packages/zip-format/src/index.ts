export * from "./zip/index.js";
