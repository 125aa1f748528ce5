/**
 * `--to egressrouter`: one EgressRouter custom resource (network.operator.openshift.io/v1) per
 * router, which the Cluster Network Operator turns into a NetworkAttachmentDefinition for the
 * egress-router CNI plugin and a Deployment. The resource has redirect mode only, one address
 * family, and no place for this project's own settings: what it cannot say is refused, with why.
 */
import type { Config } from '../../config/config.js';
import { type Redirect, destinationText, isHostName } from '../../config/destinations.js';
import { type Problem, problem } from '../../problem.js';
import { macvlanRequest } from './macvlan.js';
import { type Fields, describeObject, metadataFor } from './objects.js';
import { checkSettings } from './settings.js';
import type { Workload } from './workloads.js';

export const EGRESS_ROUTER_API_VERSION = 'network.operator.openshift.io/v1';

export type Conversion =
  | { ok: true; document: Fields; description: string; notes: string[] }
  | { ok: false; problems: Problem[] };

const refuse = (...messages: string[]): Conversion => ({ ok: false, problems: messages.map((m) => problem('config', '', m)) });

/** This project's variables that the resource has no field for, and why dropping them is safe. */
const DROPPED: Record<string, string> = {
  EGRESS_ROUTER_DEBUG: 'an EgressRouter has no debug setting',
  EGRESS_ROUTER_INTERFACE: "the operator's pod names its own interfaces",
  EGRESS_ROUTER_CLUSTER_INTERFACE: "the operator's pod names its own interfaces",
  EGRESS_ROUTER_FIREWALL: 'the egress-router CNI plugin picks its own firewall tool',
};

/** Why a valid router configuration still has no EgressRouter equivalent, if it has none. */
function inexpressible(config: Config): string | undefined {
  if (config.mode === 'http-proxy' || config.mode === 'dns-proxy') {
    return `EGRESS_ROUTER_MODE is ${config.mode}; an EgressRouter has redirect mode only (use --to multus to keep the proxy)`;
  }
  if (config.mode === 'unit-test') return 'EGRESS_ROUTER_MODE is unit-test, which only prints rules; there is no router to migrate';
  if (config.dryRun) return 'EGRESS_ROUTER_DRY_RUN is set; an EgressRouter cannot be a dry run';
  const list = config.destinations;
  const named = list ? [...list.redirects, ...(list.fallback ? [list.fallback] : [])].filter((r) => isHostName(r.target)) : [];
  if (named.length > 0) {
    const where = named.map((r) => `line ${r.line} (${destinationText(r.target)})`).join(', ');
    return `the destination list names hosts by DNS name on ${where}; an EgressRouter takes IP addresses only (use --to multus to keep the names)`;
  }
  return undefined;
}

const redirectRule = (r: Redirect): Fields => ({
  destinationIP: destinationText(r.target),
  port: r.port,
  protocol: r.protocol.toUpperCase(),
  // The resource defaults targetPort to port; writing it only where it differs keeps the intent visible.
  ...(r.targetPort !== r.port ? { targetPort: r.targetPort } : {}),
});

function redirectSpec(config: Config): Fields {
  const list = config.destinations;
  const spec: Fields = {};
  if (list && list.redirects.length > 0) spec.redirectRules = list.redirects.map(redirectRule);
  if (list?.fallback) spec.fallbackIP = destinationText(list.fallback.target);
  return spec;
}

function describeRouter(config: Config, master: string | undefined): string {
  const rules = config.destinations?.redirects.length ?? 0;
  const fallbackTarget = config.destinations?.fallback?.target;
  const fallback = fallbackTarget && destinationText(fallbackTarget);
  const nic = master ? `, macvlan on ${master}` : '';
  const redirects =
    rules === 0 ? `every port to ${fallback}` : `${rules} redirect rule${rules === 1 ? '' : 's'}, ${fallback ? `fallback ${fallback}` : 'no fallback'}`;
  return `source ${config.source.text}/${config.source.prefix} via ${config.gateway.text}${nic}, ${redirects}`;
}

export function toEgressRouter(workload: Workload): Conversion {
  const { input, routers } = workload;
  if (routers.length !== 1) {
    return refuse(`it has ${routers.length} router containers (${routers.map((r) => r.name).join(', ')}); an EgressRouter describes one`);
  }
  const router = routers[0]!;
  const macvlan = macvlanRequest(workload.template);
  if (!macvlan.ok) return refuse(macvlan.reason);
  const checked = checkSettings(router.environment);
  if (checked.kind === 'invalid') return { ok: false, problems: checked.problems };
  if (checked.kind === 'unseen') return refuse(...checked.reasons.map((r) => `${r}; an EgressRouter needs the value itself`));
  const { config } = checked;
  const reason = inexpressible(config);
  if (reason) return refuse(reason);

  const notes = Object.entries(DROPPED)
    .filter(([variable]) => router.environment.settings.get(variable)?.value)
    .map(([variable, why]) => `${variable} dropped: ${why}`);
  const document: Fields = {
    apiVersion: EGRESS_ROUTER_API_VERSION,
    kind: 'EgressRouter',
    metadata: metadataFor(input.name, input.namespace),
    spec: {
      addresses: [{ ip: `${config.source.text}/${config.source.prefix}`, gateway: config.gateway.text }],
      mode: 'Redirect',
      networkInterface: { macvlan: { mode: 'Bridge', ...(macvlan.master ? { master: macvlan.master } : {}) } },
      redirect: redirectSpec(config),
    },
  };
  const description = `${describeObject({ kind: 'EgressRouter', name: input.name, namespace: input.namespace })}: ${describeRouter(config, macvlan.master)}`;
  return { ok: true, document, description, notes };
}
