/**
 * `--to multus`: the router keeps running in its own pod, as before, with this project's image.
 * Multus gives it the macvlan interface that OpenShift SDN used to, from a
 * NetworkAttachmentDefinition of type macvlan requested as `<nad>@macvlan0`. The legacy proxy
 * containers (squid for http-proxy, haproxy for dns-proxy) run this image as well, which serves
 * both proxies from their own variables. Everything else in the workload stays: the environment,
 * the other containers, so every mode migrates.
 */
import { type Problem, problem, quote } from '../../problem.js';
import { SDN_MACVLAN_ANNOTATION, macvlanRequest } from './macvlan.js';
import { type Fields, describeObject, forApply, isFields, listAt, metadataFor, podTemplateOf, stringAt } from './objects.js';
import { PROXY_NAMES, checkProxy } from './proxies.js';
import { checkSettings } from './settings.js';
import type { Workload } from './workloads.js';

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** One attachment per namespace and node interface, shared by the routers that use the same. */
export function attachmentName(master: string | undefined): string {
  // NAD names are DNS subdomains: lower case, and no '_', which interface names may have.
  return master ? `egress-router-macvlan-${master.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}` : 'egress-router-macvlan';
}

export function attachmentFor(name: string, namespace: string, master: string | undefined): Fields {
  const config = {
    cniVersion: '0.3.1',
    name,
    type: 'macvlan',
    // Without master the plugin uses the node's default-route interface, as "true" did under the SDN.
    ...(master ? { master } : {}),
    mode: 'bridge',
    // The plugin requires the key; an empty one means no address: the router sets EGRESS_SOURCE itself.
    ipam: {},
  };
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: metadataFor(name, namespace),
    spec: { config: JSON.stringify(config, null, 2) },
  };
}

/** Adds `<nad>@<interface>` to a networks annotation in either of its forms, list or JSON. */
function withNetwork(existing: string | undefined, attachment: string, iface: string): string | { error: string } {
  if (!existing?.trim()) return `${attachment}@${iface}`;
  if (!existing.trim().startsWith('[')) return `${existing.trim()},${attachment}@${iface}`;
  try {
    const list: unknown = JSON.parse(existing);
    if (!Array.isArray(list)) throw new Error('not a list');
    return JSON.stringify([...list, { name: attachment, interface: iface }]);
  } catch {
    return { error: `its ${NETWORKS_ANNOTATION} annotation ${quote(existing)} is neither a list of names nor JSON` };
  }
}

export type MultusConversion =
  | { ok: true; attachment: { name: string; master: string | undefined }; document: Fields; description: string; notes: string[] }
  | { ok: false; problems: Problem[] };

/** The checks that apply whatever the mode; a proxy mode is fine here, an invalid list is not. */
function checkRouters(workload: Workload): { problems: Problem[]; notes: string[]; iface: string } {
  const result = { problems: [] as Problem[], notes: [] as string[], iface: 'macvlan0' };
  const named = workload.routers.length > 1;
  for (const router of workload.routers) {
    const checked = checkSettings(router.environment);
    const prefix = named ? `container ${router.name}: ` : '';
    if (checked.kind === 'invalid') result.problems.push(...checked.problems.map((p) => (named ? problem(p.kind, `container ${router.name} ${p.where}`, p.message) : p)));
    else if (checked.kind === 'unseen') result.notes.push(...checked.reasons.map((r) => `${prefix}not checked: ${r}`));
    else result.iface = checked.config.egressInterface;
  }
  for (const proxy of workload.proxies) {
    const checked = checkProxy(proxy);
    result.problems.push(...checked.problems);
    result.notes.push(...checked.notes);
  }
  return result;
}

export function toMultus(workload: Workload, image: string): MultusConversion {
  const macvlan = macvlanRequest(workload.template);
  if (!macvlan.ok) return { ok: false, problems: [problem('config', '', macvlan.reason)] };
  const { problems, notes, iface } = checkRouters(workload);
  if (problems.length > 0) return { ok: false, problems };

  const document = forApply(workload.input.object);
  const template = podTemplateOf(workload.input.kind, document)!; // the original had one
  const annotations: Fields = isFields(template.metadata.annotations) ? template.metadata.annotations : {};
  const name = attachmentName(macvlan.master);
  const networks = withNetwork(stringAt(annotations, NETWORKS_ANNOTATION), name, iface);
  if (typeof networks !== 'string') return { ok: false, problems: [problem('config', '', networks.error)] };
  delete annotations[SDN_MACVLAN_ANNOTATION];
  annotations[NETWORKS_ANNOTATION] = networks;
  template.metadata.annotations = annotations;

  const images: string[] = [];
  for (const router of workload.routers) {
    const container = listAt(template.spec, router.list)[router.index] as Fields;
    images.push(`container ${router.name} image ${image} (was ${stringAt(container, 'image') ?? 'unset'})`);
    container.image = image;
  }
  // The squid and haproxy images go too: this image serves both proxies from the same variables.
  for (const proxy of workload.proxies) {
    const container = listAt(template.spec, proxy.list)[proxy.index] as Fields;
    images.push(`${PROXY_NAMES[proxy.kind]} container ${proxy.name} image ${image} (was ${stringAt(container, 'image') ?? 'unset'})`);
    container.image = image;
  }
  const attachment = describeObject({ kind: 'NetworkAttachmentDefinition', name, namespace: workload.input.namespace });
  const description = `rewritten for Multus: ${attachment} as ${iface}, ${images.join(', ')}`;
  return { ok: true, attachment: { name, master: macvlan.master }, document, description, notes };
}
