/**
 * A container's router settings as the kubelet would hand them to the process: `envFrom`
 * ConfigMaps first, later ones winning, then `env` entries, later ones winning, with
 * `valueFrom.configMapKeyRef` looked up among the ConfigMaps of the input. Only the router's own
 * variables are resolved; a proxy container's EGRESS_HTTP_PROXY_* and the like are not ours.
 */
import { VARIABLES } from '../../config/config.js';
import { type Problem, problem, quote } from '../../problem.js';
import { type Fields, type InputObject, describeObject, fieldsAt, isFields, listAt, stringAt, stringMap } from './objects.js';

/** What the router reads from its environment, including the file that can stand in for it. */
// The DNS proxy's list belongs to the proxy container (it is in VARIABLES only so that a
// one-container pod's env file may carry it).
export const ROUTER_VARIABLES: readonly string[] = [...VARIABLES.filter((name) => !name.startsWith('EGRESS_DNS_PROXY_')), 'EGRESS_ROUTER_ENV_FILE'];

const isRouterVariable = (name: string): boolean => ROUTER_VARIABLES.includes(name);

export interface Setting {
  value: string;
  /** `ConfigMap egress-routes, key destination` when the value comes from one. */
  from?: string;
}

export interface ContainerEnvironment {
  settings: Map<string, Setting>;
  /** Variables whose value is not in the manifests (a Secret, a field of the pod): name, and why. */
  unseen: Map<string, string>;
  /** Missing ConfigMaps and keys; `where` is the variable (or `envFrom`), without the workload. */
  problems: Problem[];
}

/** The ConfigMaps of the input by namespace and name, each as its string data. */
export class ConfigMaps {
  private readonly byKey = new Map<string, Record<string, string>>();
  constructor(objects: readonly InputObject[]) {
    for (const o of objects) if (o.kind === 'ConfigMap') this.byKey.set(`${o.namespace}/${o.name}`, stringMap(o.object.data));
  }
  lookup(namespace: string, name: string): Record<string, string> | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }
}

/** The ConfigMap as messages name it, and how to add it to the input. */
function missingConfigMap(name: string, namespace: string): string {
  const namespaceFlag = namespace ? ` -n ${namespace}` : '';
  return `${describeObject({ kind: 'ConfigMap', name, namespace })}, which is not among the inputs; add it (oc get configmap ${name}${namespaceFlag} -o yaml)`;
}

/** Names the source of a value migrate cannot read, for the message. */
function unseenSource(valueFrom: Fields): string {
  const secret = fieldsAt(valueFrom, 'secretKeyRef');
  if (secret) return `Secret ${quote(stringAt(secret, 'name') ?? '')}, which migrate does not read`;
  const [kind] = Object.keys(valueFrom);
  return `${kind ?? 'valueFrom'}, which is only known in the running pod`;
}

/** Scalars are accepted as the text they stand for, as a user who wrote `value: 1` meant it. */
function scalarText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function applyEnvFrom(container: Fields, namespace: string, configMaps: ConfigMaps, result: ContainerEnvironment, wanted: (name: string) => boolean): void {
  for (const source of listAt(container, 'envFrom')) {
    const ref = fieldsAt(source, 'configMapRef');
    if (!ref) continue; // a secretRef: its keys are unknown here, and the router's rarely live in Secrets
    const name = stringAt(ref, 'name') ?? '';
    const data = configMaps.lookup(namespace, name);
    if (!data) {
      if (ref.optional !== true) result.problems.push(problem('config', 'envFrom', `comes from ${missingConfigMap(name, namespace)}`));
      continue;
    }
    const prefix = stringAt(source, 'prefix') ?? '';
    for (const [key, value] of Object.entries(data)) {
      if (wanted(prefix + key)) result.settings.set(prefix + key, { value, from: `ConfigMap ${name}, key ${key}` });
    }
  }
}

function applyConfigMapKeyRef(variable: string, ref: Fields, namespace: string, configMaps: ConfigMaps, result: ContainerEnvironment): void {
  const name = stringAt(ref, 'name') ?? '';
  const key = stringAt(ref, 'key') ?? '';
  const optional = ref.optional === true;
  const data = configMaps.lookup(namespace, name);
  const value = data?.[key];
  if (value !== undefined) {
    result.settings.set(variable, { value, from: `ConfigMap ${name}, key ${key}` });
    return;
  }
  // An optional reference to something absent leaves the variable unset, as in the pod.
  result.settings.delete(variable);
  if (optional) return;
  const message = data
    ? `comes from ${describeObject({ kind: 'ConfigMap', name, namespace })}, which has no key ${quote(key)}`
    : `comes from key ${quote(key)} of ${missingConfigMap(name, namespace)}`;
  result.problems.push(problem('config', variable, message));
}

/** The container's settings among the variables `wanted` picks (the router's by default). */
export function resolveEnvironment(container: Fields, namespace: string, configMaps: ConfigMaps, wanted: (name: string) => boolean = isRouterVariable): ContainerEnvironment {
  const result: ContainerEnvironment = { settings: new Map(), unseen: new Map(), problems: [] };
  applyEnvFrom(container, namespace, configMaps, result, wanted);
  for (const entry of listAt(container, 'env')) {
    const variable = stringAt(entry, 'name');
    if (!variable || !wanted(variable)) continue;
    result.unseen.delete(variable);
    const valueFrom = fieldsAt(entry, 'valueFrom');
    const ref = fieldsAt(valueFrom, 'configMapKeyRef');
    if (!valueFrom) result.settings.set(variable, { value: scalarText(isFields(entry) ? entry.value : undefined) });
    else if (ref) applyConfigMapKeyRef(variable, ref, namespace, configMaps, result);
    else {
      result.settings.delete(variable);
      result.unseen.set(variable, unseenSource(valueFrom));
    }
  }
  return result;
}

/**
 * Whether a container runs the router: it sets one of the router's variables, directly or
 * through an input ConfigMap in `envFrom`. The image is not looked at: mirrors rename it.
 */
export function isRouterContainer(container: Fields, namespace: string, configMaps: ConfigMaps): boolean {
  if (listAt(container, 'env').some((entry) => isRouterVariable(stringAt(entry, 'name') ?? ''))) return true;
  const resolved = resolveEnvironment(container, namespace, configMaps);
  return resolved.settings.size > 0;
}
