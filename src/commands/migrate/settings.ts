/**
 * A router container's settings checked by the router's own configuration parser, so that a
 * manifest migrate accepts is one the router accepts at start, and the reasons read the same.
 */
import { type Config, parseConfig } from '../../config/config.js';
import { type Problem, problem } from '../../problem.js';
import type { ContainerEnvironment } from './environment.js';

/** Variables that point at files inside the pod, which migrate cannot open. */
export const FILE_VARIABLES = ['EGRESS_DESTINATION_FILE', 'EGRESS_ROUTER_ENV_FILE'] as const;

export type CheckedSettings =
  | { kind: 'checked'; config: Config }
  /** Some values live outside the manifests: reasons, one per variable. */
  | { kind: 'unseen'; reasons: string[] }
  | { kind: 'invalid'; problems: Problem[] };

/**
 * Names where a value came from: `EGRESS_DESTINATION line 3` becomes
 * `EGRESS_DESTINATION (ConfigMap egress-routes, key destination) line 3`.
 */
function withOrigin(p: Problem, environment: ContainerEnvironment): Problem {
  const variable = p.where.split(' ')[0] ?? '';
  const from = environment.settings.get(variable)?.from;
  return from ? problem(p.kind, `${variable} (${from})${p.where.slice(variable.length)}`, p.message) : p;
}

export function checkSettings(environment: ContainerEnvironment): CheckedSettings {
  if (environment.problems.length > 0) return { kind: 'invalid', problems: environment.problems };
  const reasons = [...environment.unseen].map(([variable, source]) => `${variable} comes from ${source}`);
  for (const variable of FILE_VARIABLES) {
    const setting = environment.settings.get(variable);
    if (setting?.value) reasons.push(`${variable} names ${setting.value}, a file inside the pod that migrate cannot read`);
  }
  if (reasons.length > 0) return { kind: 'unseen', reasons };
  const env = Object.fromEntries([...environment.settings].map(([variable, setting]) => [variable, setting.value]));
  // The file variables were handled above, so the parser is never asked to read one.
  const parsed = parseConfig(env, () => ({ ok: false, reason: 'cannot read files inside the pod' }));
  if (!parsed.ok) return { kind: 'invalid', problems: parsed.problems.map((p) => withOrigin(p, environment)) };
  return { kind: 'checked', config: parsed.value };
}
