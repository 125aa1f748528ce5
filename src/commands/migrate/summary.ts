/**
 * What migrate tells the administrator on stderr: one line per object it converted, refused or
 * has a remark about, then a count. Lines are Problems because that is the shape the CLI's
 * Output prints on stderr (`egress-router: <where>: <message>`); `where` names the object.
 */
import { type Problem, formatProblem, problem } from '../../problem.js';

export class Summary {
  private readonly entries: Problem[] = [];
  private converted = 0;
  private refused = 0;
  private inputErrors = 0;

  private add(where: string, message: string): void {
    this.entries.push(problem('config', where, message));
  }

  /** Files that could not be read and documents that are not Kubernetes objects. */
  inputProblems(problems: readonly Problem[]): void {
    this.inputErrors += problems.length;
    this.entries.push(...problems);
  }

  convertedTo(subject: string, what: string): void {
    this.converted++;
    this.add(subject, `converted to ${what}`);
  }

  rewritten(subject: string, what: string): void {
    this.converted++;
    this.add(subject, what);
  }

  /** A refusal with each reason on a line of its own, so that every one can be fixed in one pass. */
  refusedFor(subject: string, reasons: readonly Problem[]): void {
    this.refused++;
    for (const reason of reasons) this.add(subject, `refused: ${formatProblem(reason)}`);
  }

  /** A remark that does not fail the run: something dropped, not checked, or printed alongside. */
  note(subject: string, message: string): void {
    this.add(subject, message);
  }

  /** The lines for stderr, ending with the count; `extra` remarks come just before it. */
  lines(extra: readonly string[] = []): Problem[] {
    const counts = `${this.converted} egress router${this.converted === 1 ? '' : 's'} converted, ${this.refused} refused`;
    const errors = this.inputErrors > 0 ? `, ${this.inputErrors} input error${this.inputErrors === 1 ? '' : 's'}` : '';
    const nothing =
      this.converted + this.refused === 0
        ? [problem('config', 'migrate', 'no egress router found: no container sets EGRESS_SOURCE, EGRESS_GATEWAY, EGRESS_DESTINATION or EGRESS_ROUTER_MODE')]
        : [];
    return [...this.entries, ...nothing, ...extra.map((m) => problem('config', 'migrate', m)), problem('config', 'migrate', `${counts}${errors}`)];
  }

  /** 0 only when every router converted and every input was read. */
  get exitCode(): number {
    return this.converted > 0 && this.refused === 0 && this.inputErrors === 0 ? 0 : 1;
  }
}
