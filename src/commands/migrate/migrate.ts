/**
 * The conversion from input objects to output documents, without files or streams: every
 * router workload in input order, each converted or refused on its own so that one bad manifest
 * does not hold back the others.
 */
import { type Problem, problem } from '../../problem.js';
import { ConfigMaps } from './environment.js';
import { type Fields, type InputObject, describeObject } from './objects.js';
import { fronts, retarget } from './services.js';
import type { Summary } from './summary.js';
import { toEgressRouter } from './to-egressrouter.js';
import { attachmentFor, toMultus } from './to-multus.js';
import { type Workload, controllerOf, convertedThrough, routerWorkloads } from './workloads.js';

export const TARGETS = ['egressrouter', 'multus'] as const;
export type Target = (typeof TARGETS)[number];

export interface MigrateOptions {
  target: Target;
  /** The router image for `--to multus`. */
  image: string;
}

/** Prints each Service that fronted the router, pointed at the operator's pods instead. */
function retargetServices(workload: Workload, services: InputObject[], done: Set<InputObject>, documents: Fields[], summary: Summary): void {
  for (const service of services) {
    if (done.has(service) || !fronts(service, workload)) continue;
    done.add(service);
    const result = retarget(service, workload);
    if (result.ok) {
      documents.push(result.document);
      summary.note(describeObject(service), result.description);
    } else summary.refusedFor(describeObject(service), [problem('config', '', result.reason)]);
  }
}

/** Services that fronted a refused router are left alone, and the summary says so. */
function leaveServices(workload: Workload, services: InputObject[], done: Set<InputObject>, summary: Summary): void {
  for (const service of services) {
    if (done.has(service) || !fronts(service, workload)) continue;
    done.add(service);
    summary.note(describeObject(service), `not changed: the router it fronts (${describeObject(workload.input)}) was refused`);
  }
}

/** Why a second router in one namespace cannot become a second EgressRouter there. */
function sharedNamespace(input: InputObject, earlier: string): Problem {
  const namespace = input.namespace ? `namespace ${input.namespace}` : 'this namespace';
  return problem(
    'config',
    '',
    `${namespace} already gets EgressRouter ${earlier} from this input, and the Cluster Network Operator runs every EgressRouter of a namespace as the same Deployment (egress-router-cni-deployment), so one would replace the other; give this router a namespace of its own or use --to multus`,
  );
}

function toEgressRouters(workloads: Workload[], objects: readonly InputObject[], summary: Summary): Fields[] {
  const documents: Fields[] = [];
  const services = objects.filter((o) => o.kind === 'Service');
  const done = new Set<InputObject>();
  // The operator names its Deployment and NAD the same for every EgressRouter of a namespace.
  const routerOfNamespace = new Map<string, string>();
  for (const workload of workloads) {
    const subject = describeObject(workload.input);
    const conversion = toEgressRouter(workload);
    const earlier = routerOfNamespace.get(workload.input.namespace);
    if (!conversion.ok || earlier !== undefined) {
      summary.refusedFor(subject, conversion.ok ? [sharedNamespace(workload.input, earlier!)] : conversion.problems);
      leaveServices(workload, services, done, summary);
      continue;
    }
    routerOfNamespace.set(workload.input.namespace, workload.input.name);
    documents.push(conversion.document);
    summary.convertedTo(subject, conversion.description);
    for (const note of conversion.notes) summary.note(subject, note);
    retargetServices(workload, services, done, documents, summary);
  }
  return documents;
}

function toMultusAll(workloads: Workload[], image: string, summary: Summary): Fields[] {
  const documents: Fields[] = [];
  const attachments = new Set<string>();
  for (const workload of workloads) {
    const subject = describeObject(workload.input);
    const conversion = toMultus(workload, image);
    if (!conversion.ok) {
      summary.refusedFor(subject, conversion.problems);
      continue;
    }
    const { name, master } = conversion.attachment;
    const key = `${workload.input.namespace}/${name}`;
    if (!attachments.has(key)) {
      attachments.add(key);
      documents.push(attachmentFor(name, workload.input.namespace, master));
      const nic = master ?? "the node's default-route interface";
      summary.note(describeObject({ kind: 'NetworkAttachmentDefinition', name, namespace: workload.input.namespace }), `new: macvlan on ${nic}, mode bridge, no IPAM`);
    }
    documents.push(conversion.document);
    summary.rewritten(subject, conversion.description);
    for (const note of conversion.notes) summary.note(subject, note);
  }
  return documents;
}

/** Converts every router workload of the input; what happened is added to `summary`. */
export function migrate(objects: readonly InputObject[], options: MigrateOptions, summary: Summary): Fields[] {
  const all = routerWorkloads(objects, new ConfigMaps(objects));
  const top: Workload[] = [];
  for (const workload of all) {
    const controller = convertedThrough(workload, all);
    if (controller) {
      summary.note(describeObject(workload.input), `skipped: converted through ${describeObject(controller.input)}, which controls it`);
      continue;
    }
    top.push(workload);
    // Converted on its own, a controlled object would be recreated by its controller as it was.
    const owner = controllerOf(workload.input);
    if (owner) summary.note(describeObject(workload.input), `controlled by ${owner.kind} ${owner.name}, which is not among the inputs; migrate that controller instead, or it will recreate the old pod`);
  }
  return options.target === 'egressrouter' ? toEgressRouters(top, objects, summary) : toMultusAll(top, options.image, summary);
}
