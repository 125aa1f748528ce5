/**
 * Output: YAML documents separated by `---`, as `oc apply -f -` takes them. Printed as YAML 1.1,
 * which is how kubectl reads it, so that strings such as "yes", "on" or "0755" come out quoted
 * and are read back as strings. No line folding: long values (annotations, JSON) stay greppable.
 */
import { stringify } from 'yaml';
import type { Fields } from './objects.js';

export function renderDocuments(documents: readonly Fields[]): string {
  // Sequences at the indentation of their key, as oc and kubectl print them.
  return documents.map((d) => stringify(d, { version: '1.1', lineWidth: 0, indentSeq: false })).join('---\n');
}
