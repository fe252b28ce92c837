export * from "./byte-sink.js";
export * from "./byte-source.js";
export * from "./convert.js";
export * from "./dtype.js";
export * from "./errors.js";
export * from "./http-source.js";
export * from "./read-op.js";
export * from "./storage.js";
