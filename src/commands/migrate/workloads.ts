/**
 * Workloads that run an egress router, and the router containers in them. `oc get all -o yaml`
 * prints a Deployment together with its ReplicaSet and its Pods, all with the same router
 * container; only the top controller is converted, or there would be three routers for one.
 */
import { type ConfigMaps, type ContainerEnvironment, isRouterContainer, resolveEnvironment } from './environment.js';
import { type ProxyContainer, proxyContainers } from './proxies.js';
import {
  type InputObject,
  type PodTemplate,
  fieldsAt,
  isFields,
  isWorkload,
  listAt,
  podTemplateOf,
  sameNamespace,
  selects,
  stringAt,
  stringMap,
} from './objects.js';

export const CONTAINER_LISTS = ['initContainers', 'containers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

export interface RouterContainer {
  /** Where the container is in the pod spec, so that a copy of the workload can be rewritten. */
  list: ContainerList;
  index: number;
  name: string;
  environment: ContainerEnvironment;
}

export interface Workload {
  input: InputObject;
  template: PodTemplate;
  routers: RouterContainer[];
  /** The pod's legacy proxy containers (squid, haproxy), found by their variables. */
  proxies: ProxyContainer[];
  labels: Record<string, string>;
}

function routerContainers(input: InputObject, template: PodTemplate, configMaps: ConfigMaps): RouterContainer[] {
  const found: RouterContainer[] = [];
  for (const list of CONTAINER_LISTS) {
    listAt(template.spec, list).forEach((container, index) => {
      if (!isFields(container) || !isRouterContainer(container, input.namespace, configMaps)) return;
      const environment = resolveEnvironment(container, input.namespace, configMaps);
      found.push({ list, index, name: stringAt(container, 'name') ?? `${list}[${index}]`, environment });
    });
  }
  return found;
}

/** The workloads of the input that have at least one router container, in input order. */
export function routerWorkloads(objects: readonly InputObject[], configMaps: ConfigMaps): Workload[] {
  const workloads: Workload[] = [];
  for (const input of objects) {
    if (!isWorkload(input)) continue;
    const template = podTemplateOf(input.kind, input.object);
    if (!template) continue;
    const routers = routerContainers(input, template, configMaps);
    if (routers.length === 0) continue;
    const proxies = proxyContainers(input, template, configMaps, (list, index) => routers.some((r) => r.list === list && r.index === index));
    workloads.push({ input, template, routers, proxies, labels: stringMap(template.metadata.labels) });
  }
  return workloads;
}

/** The controller named in ownerReferences (a ReplicaSet for a Pod, a Deployment for a ReplicaSet). */
export function controllerOf(input: InputObject): { kind: string; name: string } | undefined {
  const metadata = fieldsAt(input.object, 'metadata');
  const reference = listAt(metadata, 'ownerReferences').find((ref) => isFields(ref) && ref.controller === true);
  const kind = stringAt(reference, 'kind');
  const name = stringAt(reference, 'name');
  return kind && name ? { kind, name } : undefined;
}

/**
 * The workload among `workloads` that controls `child`: its owner by name, or, when the owner in
 * between is missing from the input (a Deployment and its Pods without the ReplicaSet), a
 * workload whose pod template labels the child's pods carry.
 */
function controllingWorkload(child: Workload, workloads: readonly Workload[]): Workload | undefined {
  const owner = controllerOf(child.input);
  if (!owner) return undefined;
  const candidates = workloads.filter((w) => w !== child && sameNamespace(w.input, child.input));
  return (
    candidates.find((w) => w.input.kind === owner.kind && w.input.name === owner.name) ??
    candidates.find((w) => selects(w.labels, child.labels) && Object.keys(w.labels).length < Object.keys(child.labels).length)
  );
}

/**
 * The controller in the input that stands for `workload` (its Deployment, for a ReplicaSet or a
 * Pod of it), or undefined when the workload is to be converted itself.
 */
export function convertedThrough(workload: Workload, workloads: readonly Workload[]): Workload | undefined {
  let root: Workload | undefined;
  // Ownership cannot be deeper than the input is long; the bound also ends a cycle of references.
  for (let next = controllingWorkload(workload, workloads), steps = 0; next && steps < workloads.length; steps++) {
    root = next;
    next = controllingWorkload(next, workloads);
  }
  return root;
}
