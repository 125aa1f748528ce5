/**
 * Kubernetes objects as migrate sees them: plain data read from YAML. Only a handful of fields
 * matter here and everything else must pass through untouched, so objects stay untyped records
 * read through these narrow helpers instead of a client library's full types.
 */

export type Fields = Record<string, unknown>;

export const isFields = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The record at `key`, or undefined when it is missing or not a mapping. */
export const fieldsAt = (parent: unknown, key: string): Fields | undefined =>
  isFields(parent) && isFields(parent[key]) ? parent[key] : undefined;

export const stringAt = (parent: unknown, key: string): string | undefined =>
  isFields(parent) && typeof parent[key] === 'string' ? parent[key] : undefined;

export const listAt = (parent: unknown, key: string): unknown[] =>
  isFields(parent) && Array.isArray(parent[key]) ? parent[key] : [];

/** A mapping of strings (labels, selectors, annotations, ConfigMap data); other values are skipped. */
export function stringMap(value: unknown): Record<string, string> {
  const map: Record<string, string> = {};
  if (!isFields(value)) return map;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') map[key] = entry;
  return map;
}

/** One object from the input, with where it came from for messages. */
export interface InputObject {
  object: Fields;
  kind: string;
  name: string;
  /** Empty when the manifest names none: it then belongs to whatever namespace it is applied in. */
  namespace: string;
  /** `file.yaml`, `file.yaml document 2`, `file.yaml document 1 item 3`. */
  where: string;
}

/** How messages name an object: `Pod egress-1`, `Deployment egress/egress-router`. */
export const describeObject = (o: Pick<InputObject, 'kind' | 'name' | 'namespace'>): string =>
  `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

export const sameNamespace = (a: InputObject, b: InputObject): boolean => a.namespace === b.namespace;

/** Kinds that carry a pod: the Pod itself, and the controllers with a pod template under spec.template. */
export const WORKLOAD_KINDS = ['Pod', 'Deployment', 'DeploymentConfig', 'ReplicationController', 'ReplicaSet'] as const;

export const isWorkload = (o: InputObject): boolean => (WORKLOAD_KINDS as readonly string[]).includes(o.kind);

/** The pod part of a workload: metadata (labels, annotations) and spec (containers). */
export interface PodTemplate {
  metadata: Fields;
  spec: Fields;
}

/**
 * The pod of a workload, as live references into `object` so that callers can rewrite a copy in
 * place. A missing metadata mapping is created, because annotations and labels are written there.
 */
export function podTemplateOf(kind: string, object: Fields): PodTemplate | undefined {
  const holder = kind === 'Pod' ? object : fieldsAt(fieldsAt(object, 'spec'), 'template');
  const spec = fieldsAt(holder, 'spec');
  if (!holder || !spec) return undefined;
  if (!isFields(holder.metadata)) holder.metadata = {};
  return { metadata: holder.metadata as Fields, spec };
}

/** Fields the API server fills in; printed back they would make `oc apply` fail or mislead. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink'];
const SERVER_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision'];

/** A deep copy without status and server-filled metadata, ready to print for `oc apply`. */
export function forApply(object: Fields): Fields {
  const copy = structuredClone(object);
  delete copy.status;
  const metadata = fieldsAt(copy, 'metadata');
  if (metadata) {
    for (const key of SERVER_METADATA) delete metadata[key];
    const annotations = fieldsAt(metadata, 'annotations');
    if (annotations) {
      for (const key of SERVER_ANNOTATIONS) delete annotations[key];
      if (Object.keys(annotations).length === 0) delete metadata.annotations;
    }
  }
  return copy;
}

/** `metadata` for a new object: the name, and the namespace only if the source named one. */
export const metadataFor = (name: string, namespace: string): Fields => (namespace ? { name, namespace } : { name });

/** `a=1, b=2`, for messages about selectors and labels. */
export const describeLabels = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');

/** Whether every key and value of `selector` is among `labels`; an empty selector selects nothing here. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}
