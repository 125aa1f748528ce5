/**
 * Services in front of a router. Under `--to egressrouter` the old pod goes away and the Cluster
 * Network Operator runs the router instead, as Deployment `egress-router-cni-deployment` whose
 * pods are labelled `app: egress-router-cni` (cluster-network-operator,
 * bindata/egress-router/001-deployment.yaml; the OpenShift documentation's "Considerations for
 * the use of an egress router pod", failover configuration). A Service keeps its name, address and
 * ports, so clients need no change, and selects those pods instead.
 */
import { quote } from '../../problem.js';
import { type Fields, type InputObject, describeLabels, fieldsAt, forApply, isFields, listAt, sameNamespace, selects, stringMap } from './objects.js';
import { CONTAINER_LISTS, type Workload } from './workloads.js';

export const OPERATOR_POD_LABELS: Readonly<Record<string, string>> = { app: 'egress-router-cni' };

const selectorOf = (service: InputObject): Record<string, string> => stringMap(fieldsAt(fieldsAt(service.object, 'spec'), 'selector'));

/** Whether the Service sends its traffic to the workload's pods. */
export const fronts = (service: InputObject, workload: Workload): boolean =>
  service.kind === 'Service' && sameNamespace(service, workload.input) && selects(selectorOf(service), workload.labels);

/** The number of a named container port in the old pod; the operator's pod names none. */
function containerPort(workload: Workload, name: string): number | undefined {
  for (const list of CONTAINER_LISTS) {
    for (const container of listAt(workload.template.spec, list)) {
      const port = listAt(container, 'ports').find((p) => isFields(p) && p.name === name);
      if (isFields(port) && typeof port.containerPort === 'number') return port.containerPort;
    }
  }
  return undefined;
}

export type Retarget = { ok: true; document: Fields; description: string } | { ok: false; reason: string };

export function retarget(service: InputObject, workload: Workload): Retarget {
  const document = forApply(service.object);
  const spec = fieldsAt(document, 'spec')!; // fronts() found a selector in it
  for (const port of listAt(spec, 'ports')) {
    if (!isFields(port) || typeof port.targetPort !== 'string') continue;
    const number = containerPort(workload, port.targetPort);
    if (number === undefined) {
      return { ok: false, reason: `its targetPort ${quote(port.targetPort)} names a port that no container of the old pod declares` };
    }
    port.targetPort = number;
  }
  const before = describeLabels(selectorOf(service));
  spec.selector = { ...OPERATOR_POD_LABELS };
  return { ok: true, document, description: `selector ${before} now ${describeLabels(OPERATOR_POD_LABELS)}, the label of the pods the Cluster Network Operator runs for an EgressRouter` };
}
