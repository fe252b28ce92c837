/** The pieces of `@pt/pickle` this package uses, in one place. */
export {
  DangerousList,
  defaultGlobals,
  type GlobalFinding,
  GlobalRegistry,
  isDangerousGlobal,
  PickleError,
  type PickleSection,
  PyGlobal,
  py3Name,
  scanPickle,
  UnsafeGlobalError as PickleUnsafeGlobalError,
} from "@pt/pickle";
