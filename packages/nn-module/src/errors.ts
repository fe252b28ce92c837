import { errorGuard, layerError } from "@pt/errors";

/** Kinds of nn-module failure. */
export type NnErrorCode =
  /** `loadStateDict` found missing/unexpected keys or size mismatches (torch's RuntimeError). */
  | "LoadStateDict"
  /** A value of the wrong kind (torch's TypeError / KeyError on module attributes). */
  | "TypeError"
  /** A name that cannot be used for a parameter, buffer or submodule. */
  | "InvalidName"
  /** A pickled module `__dict__` that is not a module's state. */
  | "InvalidState"
  /** A tensor copy that cannot be done (shape or dtype). */
  | "Copy";

/**
 * Base class of every error thrown by `@pt/nn-module`. Messages start with `nn:`; the rest
 * (`torchMessage`) is torch's own text for the same failure where torch has one.
 */
export class NnError extends layerError<"nn", NnErrorCode>("nn") {
  override name = "NnError";
  /** The message without the `nn: ` prefix. */
  get torchMessage(): string {
    return this.message.slice("nn: ".length);
  }
}

/**
 * `load_state_dict` failed. `torchMessage` is exactly torch 1.13's RuntimeError text
 * (`Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "weight". `).
 */
export class LoadStateDictError extends NnError {
  override name = "LoadStateDictError";
  constructor(
    /** `self.__class__.__name__` of the module loaded into. */
    readonly moduleName: string,
    /** Keys of the module missing from the state dict (reported when `strict`). */
    readonly missingKeys: readonly string[],
    /** Keys of the state dict the module does not have (reported when `strict`). */
    readonly unexpectedKeys: readonly string[],
    /** Every line of the message after the first, in torch's order. */
    readonly errorMsgs: readonly string[],
  ) {
    super("LoadStateDict", `Error(s) in loading state_dict for ${moduleName}:\n\t${errorMsgs.join("\n\t")}`, {
      moduleName,
      missingKeys,
      unexpectedKeys,
    });
  }
}

/** True when `e` is an NnError (optionally of the given code). */
export const isNnError = errorGuard(NnError);
