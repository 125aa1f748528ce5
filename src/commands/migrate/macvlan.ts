/**
 * The OpenShift SDN annotation that gave a legacy router its macvlan0. The SDN read it from the
 * pod (for a controller, from its pod template) and accepted three kinds of value (openshift/sdn,
 * pkg/network/node/pod.go, maybeAddMacvlan):
 *
 *   absent or "false"   no macvlan interface
 *   "true"              a macvlan on the node's interface with the IPv4 default route
 *   anything else       a macvlan on the node interface of that name, such as "eth1"
 */
import { quote } from '../../problem.js';
import type { PodTemplate } from './objects.js';
import { stringMap } from './objects.js';

export const SDN_MACVLAN_ANNOTATION = 'pod.network.openshift.io/assign-macvlan';

export type MacvlanRequest =
  /** `master` is undefined for "true": the node's default-route interface. */
  | { ok: true; master: string | undefined }
  | { ok: false; reason: string };

/** Linux interface names: 1-15 characters; the SDN would not have found anything else. */
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

export function macvlanRequest(template: PodTemplate): MacvlanRequest {
  const value = stringMap(template.metadata.annotations)[SDN_MACVLAN_ANNOTATION];
  if (value === undefined || value === 'false') {
    return {
      ok: false,
      reason: `the pod has no ${SDN_MACVLAN_ANNOTATION} annotation${value === 'false' ? ' other than "false"' : ''}, so OpenShift SDN gave it no macvlan interface; for a Deployment or other controller it belongs in spec.template.metadata.annotations`,
    };
  }
  if (value === 'true') return { ok: true, master: undefined };
  if (!INTERFACE_NAME.test(value)) {
    return { ok: false, reason: `${SDN_MACVLAN_ANNOTATION} is ${quote(value)}, which is neither "true" nor a network interface name` };
  }
  return { ok: true, master: value };
}
