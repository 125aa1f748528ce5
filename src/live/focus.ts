/**
 * A part that runs on one piece of a process's settings, in a process whose settings have
 * several: the one-container proxy pods run the router and a proxy on one loop.
 */
import type { LivePart } from './controller.js';

export function focus<S, T>(part: LivePart<T>, pick: (settings: S) => T): LivePart<S> {
  return {
    prepare: part.prepare && ((settings) => part.prepare!(pick(settings))),
    sync: (settings, kind) => part.sync(pick(settings), kind),
    readiness: (settings) => part.readiness(pick(settings)),
    readyFields: part.readyFields && (() => part.readyFields!()),
    stop: () => part.stop(),
  };
}
