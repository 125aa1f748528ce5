/** Reading input: streams, Lists, and what is not a Kubernetes object. */
import { describe, expect, it } from 'vitest';
import { parseStream, readInputs } from '../../../src/commands/migrate/documents.js';
import { renderDocuments } from '../../../src/commands/migrate/output.js';
import { formatProblem } from '../../../src/problem.js';

const POD = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n';
const noStdin = () => ({ ok: false as const, reason: 'no stdin in this test' });

describe('migrate input documents', () => {
  it('reads every document of a stream, skipping empty ones such as after a trailing ---', () => {
    const { objects, problems } = parseStream(`${POD}---\n${POD.replace('name: a', 'name: b')}---\n`, 'in.yaml');
    expect(problems).toEqual([]);
    expect(objects.map((o) => [o.kind, o.name, o.namespace, o.where])).toEqual([
      ['Pod', 'a', '', 'in.yaml document 1'],
      ['Pod', 'b', '', 'in.yaml document 2'],
    ]);
  });

  it('expands a kind: List into its items, each named by its position', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${POD.trimEnd().split('\n').join('\n  ')}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n    namespace: ns\n`;
    const { objects } = parseStream(list, 'list.yaml');
    expect(objects.map((o) => [o.kind, o.name, o.namespace, o.where])).toEqual([
      ['Pod', 'a', '', 'list.yaml item 1'],
      ['ConfigMap', 'c', 'ns', 'list.yaml item 2'],
    ]);
  });

  it('names a document that is not a Kubernetes object, and one without a name', () => {
    const { problems } = parseStream('#!/bin/sh\noc get pods\n---\napiVersion: v1\nkind: Pod\nmetadata: {}\n---\n- a\n', 'x');
    expect(problems.map(formatProblem)).toEqual([
      "x document 1: not a Kubernetes object: the text 'oc get pods'",
      'x document 2: Pod without metadata.name',
      'x document 3: not a Kubernetes object: a sequence',
    ]);
  });

  it('reads YAML as kubectl does: 1.1 booleans and octal numbers, but times and timestamps as text', () => {
    const { objects } = parseStream(`${POD}data:\n  a: yes\n  b: 12:30\n  c: 2024-03-11T09:13:02Z\n  d: 0644\n`, 'x');
    expect(objects[0]!.object.data).toEqual({ a: true, b: '12:30', c: '2024-03-11T09:13:02Z', d: 420 });
  });

  it('prints strings that YAML 1.1 would read as something else quoted', () => {
    expect(renderDocuments([{ data: { a: 'yes', b: '12:30', c: '2024-03-11T09:13:02Z', d: '0755', e: 'n' } }])).toBe(
      'data:\n  a: "yes"\n  b: "12:30"\n  c: "2024-03-11T09:13:02Z"\n  d: "0755"\n  e: "n"\n',
    );
  });

  it('keeps reading after a file that cannot be read, and reads - from standard input', () => {
    const files: Record<string, string> = { 'good.yaml': POD };
    const read = (path: string) => (path in files ? { ok: true as const, text: files[path]! } : { ok: false as const, reason: 'cannot read: no such file' });
    const stdin = () => ({ ok: true as const, text: POD.replace('name: a', 'name: s') });
    const { objects, problems } = readInputs(['missing.yaml', 'good.yaml', '-'], read, stdin);
    expect(problems.map(formatProblem)).toEqual(['missing.yaml: cannot read: no such file']);
    expect(objects.map((o) => `${o.where} ${o.name}`)).toEqual(['good.yaml a', 'stdin s']);
  });

  it('uses the first definition of an object given twice and reports the second', () => {
    const read = () => ({ ok: true as const, text: POD });
    const { objects, problems } = readInputs(['p.yaml', 'p.yaml'], read, noStdin);
    expect(objects).toHaveLength(1);
    expect(problems.map(formatProblem)).toEqual(["p.yaml: Pod 'a' is also defined in p.yaml; using that one"]);
  });
});
