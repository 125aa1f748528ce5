/** `egress-router migrate` command line: `[--to egressrouter|multus] [--image IMAGE] FILE...`. */
import { parseArgs } from 'node:util';
import { quote } from '../../problem.js';
import { STDIN } from './documents.js';
import { TARGETS, type Target } from './migrate.js';

/**
 * This project's router image, for `--to multus` without `--image`. A moving tag, so that a
 * migration run today and applied next month gets the router of next month; pin a version with
 * `--image` for a reproducible rollout.
 */
export const DEFAULT_IMAGE = 'quay.io/egress-router/egress-router:latest';

export const MIGRATE_USAGE = `Usage: egress-router migrate [--to egressrouter|multus] [--image IMAGE] FILE...

Converts OpenShift SDN egress router manifests (Pods, Deployments, DeploymentConfigs,
ReplicationControllers, ReplicaSets, with the ConfigMaps and Services that belong to them) for
OVN-Kubernetes. FILE is YAML, one or more documents or a 'kind: List'; '-' is standard input.

  --to egressrouter   an EgressRouter (network.operator.openshift.io/v1) per router, and each
                      Service that fronted one retargeted to the operator's pods (the default)
  --to multus         a macvlan NetworkAttachmentDefinition, and the workload rewritten to run
                      this project's image with it; every mode, proxies included
  --image IMAGE       the router image for --to multus (default ${DEFAULT_IMAGE})

Converted objects are printed on stdout, a summary on stderr. Exit status 0 when every router
converted, 1 when one was refused or an input could not be read.
`;

export type MigrateArguments =
  | { kind: 'run'; target: Target; image: string; imageIsDefault: boolean; files: string[] }
  | { kind: 'help' }
  | { kind: 'usage-error'; message: string };

const usageError = (message: string): MigrateArguments => ({ kind: 'usage-error', message: `${message}; see egress-router migrate --help` });

export function parseMigrateArguments(args: readonly string[]): MigrateArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { to: { type: 'string' }, image: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const target = values.to ?? 'egressrouter';
  if (!(TARGETS as readonly string[]).includes(target)) return usageError(`--to ${quote(target)} is not one of ${TARGETS.join(', ')}`);
  if (values.image !== undefined && target !== 'multus') {
    return usageError('--image applies to --to multus only; the Cluster Network Operator picks the image of an EgressRouter');
  }
  if (values.image !== undefined && values.image.trim() === '') return usageError('--image is empty');
  if (positionals.length === 0) return usageError('no FILE given (use - for standard input)');
  if (positionals.filter((file) => file === STDIN).length > 1) return usageError('standard input (-) can be read only once');
  return { kind: 'run', target: target as Target, image: values.image ?? DEFAULT_IMAGE, imageIsDefault: values.image === undefined, files: positionals };
}
