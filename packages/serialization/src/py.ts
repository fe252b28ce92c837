import { PyFloat, type PyTuple, tuple } from "@pt/pickle";

/**
 * Short ways to say which Python type a JS value is saved as. A plain JS number that is an
 * integer (`2`, and also `2.0`, which is the same number in JS) is saved as a Python **int**; to
 * save a Python float, wrap it: `py.float(2)` (`PyFloat`, loaded back as `PyFloat` and saved as a
 * float again). Non-integral numbers (`0.5`) are always floats.
 */
export const py = Object.freeze({
  /** A Python float (`2.0`, not `2`). */
  float: (x: number): PyFloat => new PyFloat(x),
  /** A Python tuple (a plain array is a list). */
  tuple: <T>(...items: T[]): PyTuple<T> => tuple(items),
});
