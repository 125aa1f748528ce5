/**
 * The legacy proxy containers of an egress router pod: the squid HTTP proxy and the haproxy DNS
 * proxy images, recognized by their EGRESS_HTTP_PROXY_* or EGRESS_DNS_PROXY_* variables (mirrors
 * rename images). Under `--to multus` they run this project's image too, which serves both
 * proxies itself. An HTTP proxy list is checked by the proxy's own grammar, so that a list squid
 * took and this proxy refuses (a single-label name, say) is named before the rollout.
 */
import { parseHttpProxySettings } from '../../http-proxy/settings.js';
import { type Problem, problem } from '../../problem.js';
import { type ConfigMaps, type ContainerEnvironment, resolveEnvironment } from './environment.js';
import { type Fields, type InputObject, type PodTemplate, isFields, listAt, stringAt } from './objects.js';

export type ProxyKind = 'http' | 'dns';

export const PROXY_NAMES: Record<ProxyKind, string> = { http: 'HTTP proxy', dns: 'DNS proxy' };
const PREFIXES: Record<ProxyKind, string> = { http: 'EGRESS_HTTP_PROXY_', dns: 'EGRESS_DNS_PROXY_' };

export interface ProxyContainer {
  list: 'initContainers' | 'containers';
  index: number;
  name: string;
  kind: ProxyKind;
  environment: ContainerEnvironment;
}

/** Which proxy a container runs, judged by the variables it sets (directly or from a ConfigMap). */
function proxyKindOf(container: Fields, namespace: string, configMaps: ConfigMaps): ProxyKind | undefined {
  for (const kind of ['http', 'dns'] as const) {
    const wanted = (name: string) => name.startsWith(PREFIXES[kind]);
    if (listAt(container, 'env').some((entry) => wanted(stringAt(entry, 'name') ?? ''))) return kind;
    if (resolveEnvironment(container, namespace, configMaps, wanted).settings.size > 0) return kind;
  }
  return undefined;
}

/** The proxy containers of a pod template, other than the router containers at `taken`. */
export function proxyContainers(input: InputObject, template: PodTemplate, configMaps: ConfigMaps, taken: (list: string, index: number) => boolean): ProxyContainer[] {
  const found: ProxyContainer[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    listAt(template.spec, list).forEach((container, index) => {
      if (!isFields(container) || taken(list, index)) return;
      const kind = proxyKindOf(container, input.namespace, configMaps);
      if (!kind) return;
      const environment = resolveEnvironment(container, input.namespace, configMaps, (name) => name.startsWith(PREFIXES[kind]));
      found.push({ list, index, name: stringAt(container, 'name') ?? `${list}[${index}]`, kind, environment });
    });
  }
  return found;
}

/**
 * An HTTP proxy's settings as the proxy reads them at start: refused ones are problems, values
 * migrate cannot see are notes. A DNS proxy's list is not checked here.
 */
export function checkProxy(proxy: ProxyContainer): { problems: Problem[]; notes: string[] } {
  const where = (p: Problem) => problem(p.kind, `container ${proxy.name} ${p.where}`, p.message);
  const { environment } = proxy;
  if (environment.problems.length > 0) return { problems: environment.problems.map(where), notes: [] };
  if (proxy.kind === 'dns') return { problems: [], notes: [] };
  const notes = [...environment.unseen].map(([variable, source]) => `container ${proxy.name}: not checked: ${variable} comes from ${source}`);
  const file = environment.settings.get('EGRESS_HTTP_PROXY_DESTINATION_FILE')?.value;
  if (file) notes.push(`container ${proxy.name}: not checked: EGRESS_HTTP_PROXY_DESTINATION_FILE names ${file}, a file inside the pod that migrate cannot read`);
  if (notes.length > 0) return { problems: [], notes };
  const env = Object.fromEntries([...environment.settings].map(([variable, setting]) => [variable, setting.value]));
  const parsed = parseHttpProxySettings(env, () => ({ ok: false, reason: 'cannot read files inside the pod' }));
  return { problems: parsed.ok ? [] : parsed.problems.map(where), notes: [] };
}
