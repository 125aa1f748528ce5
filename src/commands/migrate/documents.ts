/**
 * Input: YAML streams from files or standard input, as `oc get -o yaml` prints them (a `kind:
 * List`) or as people keep them (several documents separated by `---`). Every readable object
 * comes out with its origin; every unreadable part becomes a problem that names the file and the
 * document, and the rest of the input is still used.
 */
import { type Tags, parseAllDocuments } from 'yaml';
import type { FileReadResult } from '../../config/config.js';
import { type Problem, problem, quote } from '../../problem.js';
import { type Fields, type InputObject, isFields, stringAt } from './objects.js';

export interface ReadResult {
  objects: InputObject[];
  problems: Problem[];
}

/** `-` is standard input; it can be read only once. */
export const STDIN = '-';

const inputName = (file: string): string => (file === STDIN ? 'stdin' : file);

/** The first line of a parser message: the rest is a drawing of the line with a caret under it. */
const firstLine = (message: string): string => message.split('\n')[0]!.replace(/:$/, '');

/** What a document holds when it is not an object, for the message. */
function shape(value: unknown): string {
  if (Array.isArray(value)) return 'a sequence';
  if (value === null) return 'empty';
  if (typeof value === 'string') return `the text ${quote(value, 40)}`;
  return isFields(value) ? 'a mapping without a string apiVersion and kind' : `the value ${String(value)}`;
}

/** A `kind: List`, or a typed list such as `PodList`, that carries its objects under `items`. */
const isList = (value: Fields): boolean => /List$/.test(String(value.kind)) && Array.isArray(value.items);

function toInputObject(value: unknown, where: string): InputObject | Problem {
  if (!isFields(value) || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string') {
    return problem('config', where, `not a Kubernetes object: ${shape(value)}`);
  }
  const metadata = value.metadata;
  const name = stringAt(metadata, 'name');
  if (!name) return problem('config', where, `${value.kind} without metadata.name`);
  return { object: value, kind: value.kind, name, namespace: stringAt(metadata, 'namespace') ?? '', where };
}

/**
 * YAML as kubectl reads it (go-yaml v2): the 1.1 schema, so that `yes` is a boolean and a file
 * mode written `0644` is octal 420, but without 1.1's sexagesimal numbers and timestamps, which
 * go-yaml leaves as text (`12:30`, `2024-03-11T09:13:02Z`).
 */
const KUBECTL_YAML = {
  version: '1.1',
  customTags: (tags: Tags) => tags.filter((t) => typeof t === 'string' || (t.tag !== 'tag:yaml.org,2002:timestamp' && t.format !== 'TIME')),
} as const;

export function parseStream(text: string, origin: string): ReadResult {
  const result: ReadResult = { objects: [], problems: [] };
  const documents = parseAllDocuments(text, { ...KUBECTL_YAML, prettyErrors: true });
  documents.forEach((document, index) => {
    const where = documents.length > 1 ? `${origin} document ${index + 1}` : origin;
    const error = document.errors[0];
    if (error) {
      result.problems.push(problem('config', where, `not YAML: ${firstLine(error.message)}`));
      return;
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (failure) {
      // Aliases that expand beyond the parser's limit (a "billion laughs" document) end here.
      result.problems.push(problem('config', where, `not usable YAML: ${(failure as Error).message}`));
      return;
    }
    if (value === null || value === undefined) return; // an empty document, as after a trailing ---
    const items = isFields(value) && isList(value) ? (value.items as unknown[]) : [value];
    items.forEach((item, itemIndex) => {
      const found = toInputObject(item, items.length === 1 && item === value ? where : `${where} item ${itemIndex + 1}`);
      if ('object' in found) result.objects.push(found);
      else result.problems.push(found);
    });
  });
  return result;
}

/** Reads every input in order; a file that cannot be read is a problem, not the end of the run. */
export function readInputs(files: readonly string[], readFile: (file: string) => FileReadResult, readStdin: () => FileReadResult): ReadResult {
  const result: ReadResult = { objects: [], problems: [] };
  for (const file of files) {
    const read = file === STDIN ? readStdin() : readFile(file);
    if (!read.ok) {
      result.problems.push(problem('config', inputName(file), read.reason));
      continue;
    }
    const parsed = parseStream(read.text, inputName(file));
    result.objects.push(...parsed.objects);
    result.problems.push(...parsed.problems);
  }
  return { objects: withoutDuplicates(result.objects, result.problems), problems: result.problems };
}

/** `apps` for `apps/v1`, empty for the core `v1`: one object may be printed in either version. */
const apiGroup = (o: InputObject): string => String(o.object.apiVersion).split('/').slice(0, -1).join('/');

/**
 * The same object twice (one file given twice, or a Pod both in a List and on its own) would be
 * converted twice; the first definition is used and each later one is reported.
 */
function withoutDuplicates(objects: InputObject[], problems: Problem[]): InputObject[] {
  const first = new Map<string, InputObject>();
  return objects.filter((o) => {
    const key = `${apiGroup(o)}|${o.kind}|${o.namespace}|${o.name}`;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, o);
      return true;
    }
    problems.push(problem('config', o.where, `${o.kind} ${quote(o.name)} is also defined in ${earlier.where}; using that one`));
    return false;
  });
}
