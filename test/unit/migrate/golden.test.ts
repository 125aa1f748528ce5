/**
 * Golden files: the OpenShift documentation's egress router examples in test/fixtures/migrate/input,
 * what migrate prints for them in test/fixtures/migrate/expected (<case>.yaml for stdout,
 * <case>.stderr for the summary). After a deliberate change of output, regenerate them with
 * UPDATE_GOLDEN=1 npx vitest run test/unit/migrate, and review the diff like code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { FIXTURES, input, migrate } from './run.js';

interface GoldenCase {
  name: string;
  behaviour: string;
  args: string[];
  exit: 0 | 1;
}

const CASES: GoldenCase[] = [
  {
    name: 'egress-1-to-egressrouter',
    behaviour: 'turns the single-destination init-mode pod into an EgressRouter whose fallbackIP is the destination, and retargets its Service to app=egress-router-cni',
    args: [input('egress-1.yaml')],
    exit: 0,
  },
  {
    name: 'egress-1-to-multus',
    behaviour: 'under --to multus, prints a macvlan NetworkAttachmentDefinition without master or IPAM and the pod requesting it as macvlan0 with the default image, and says the image is the default',
    args: ['--to', 'multus', input('egress-1.yaml')],
    exit: 0,
  },
  {
    name: 'egress-multi-to-egressrouter',
    behaviour: 'turns the multi-destination pod into upper-case redirectRules with targetPort only where it differs, and the last line into fallbackIP',
    args: [input('egress-multi.yaml')],
    exit: 0,
  },
  {
    name: 'configmap-deployment-to-egressrouter',
    behaviour: "reads a List, resolves EGRESS_DESTINATION from the ConfigMap's key, puts the annotation's NIC in macvlan.master, and prints the Service without server fields",
    args: [input('configmap-deployment.yaml')],
    exit: 0,
  },
  {
    name: 'configmap-deployment-to-multus',
    behaviour: "under --to multus with --image, names the NIC in the attachment, and keeps the Deployment's configMapKeyRef while replacing the router image",
    args: ['--to', 'multus', '--image', 'quay.io/example/egress-router:0.1.0', input('configmap-deployment.yaml')],
    exit: 0,
  },
  {
    name: 'http-proxy-to-egressrouter',
    behaviour: 'refuses an http-proxy pod for an EgressRouter, says why, prints nothing and leaves its Service alone',
    args: [input('http-proxy.yaml')],
    exit: 1,
  },
  {
    name: 'http-proxy-to-multus',
    behaviour: 'under --to multus, migrates an http-proxy pod: the router and the squid container run the new image, the destinations stay, and the summary says so',
    args: ['--to', 'multus', input('http-proxy.yaml')],
    exit: 0,
  },
  {
    name: 'dns-proxy-to-multus',
    behaviour: 'under --to multus, migrates a dns-proxy Deployment: the router and the haproxy container run the new image, the ConfigMap reference and the Service stay',
    args: ['--to', 'multus', '--image', 'quay.io/example/egress-router:0.1.0', input('dns-proxy.yaml')],
    exit: 0,
  },
  {
    name: 'dns-proxy-to-egressrouter',
    behaviour: 'refuses a dns-proxy Deployment for an EgressRouter, which has redirect mode only',
    args: [input('dns-proxy.yaml')],
    exit: 1,
  },
  {
    name: 'multi-and-http-proxy-to-egressrouter',
    behaviour: 'converts what it can when one of several inputs is refused, and exits 1',
    args: [input('egress-multi.yaml'), input('http-proxy.yaml')],
    exit: 1,
  },
  {
    name: 'missing-configmap',
    behaviour: 'refuses a router whose destinations come from a ConfigMap missing from the input, naming the ConfigMap and how to get it',
    args: [input('deployment-without-configmap.yaml')],
    exit: 1,
  },
  {
    name: 'invalid-destination',
    behaviour: 'refuses a router with an invalid destination line, naming the line and quoting it',
    args: [input('invalid-destination.yaml')],
    exit: 1,
  },
  {
    name: 'not-yaml',
    behaviour: 'reports a file that is not YAML with its position, and still converts the other files',
    args: [input('not-yaml.yaml'), input('egress-multi.yaml')],
    exit: 1,
  },
  {
    name: 'mixed-families',
    behaviour: 'refuses an IPv4 source with an IPv6 destination, naming the line',
    args: [input('mixed-families.yaml')],
    exit: 1,
  },
];

const UPDATE = process.env.UPDATE_GOLDEN === '1';

function golden(file: string, actual: string): string {
  const path = `${FIXTURES}/expected/${file}`;
  if (UPDATE) writeFileSync(path, actual);
  return existsSync(path) ? readFileSync(path, 'utf8') : `(missing golden file ${path})`;
}

describe('migrate golden files', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.behaviour}`, async () => {
      const run = await migrate(c.args);
      expect(run.stdout).toBe(golden(`${c.name}.yaml`, run.stdout));
      expect(run.stderr).toBe(golden(`${c.name}.stderr`, run.stderr));
      expect(run.code).toBe(c.exit);
    });
  }

  it('prints output that parses back as YAML, one Kubernetes object per document', async () => {
    for (const c of CASES.filter((x) => x.exit === 0)) {
      const documents = parseAllDocuments((await migrate(c.args)).stdout, { version: '1.1' });
      expect(documents.length).toBeGreaterThan(0);
      for (const document of documents) {
        expect(document.errors).toEqual([]);
        expect(document.toJS()).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String), metadata: { name: expect.any(String) } });
      }
    }
  });

  it('the built CLI loads migrate lazily and prints the same as the golden files', () => {
    const c = CASES.find((x) => x.name === 'multi-and-http-proxy-to-egressrouter')!;
    let stdout = '';
    let stderr = '';
    let code = 0;
    try {
      stdout = execFileSync('node', ['dist/egress-router.js', 'migrate', ...c.args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const failed = error as { status: number; stdout: string; stderr: string };
      ({ stdout, stderr, status: code } = failed);
    }
    expect(stdout).toBe(readFileSync(`${FIXTURES}/expected/${c.name}.yaml`, 'utf8'));
    expect(stderr).toBe(readFileSync(`${FIXTURES}/expected/${c.name}.stderr`, 'utf8'));
    expect(code).toBe(c.exit);
  });
});
