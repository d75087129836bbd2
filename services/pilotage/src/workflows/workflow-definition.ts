/** A workflow document as users write it (YAML or JSON), after schema validation. */
export interface WorkflowDocument {
  apiVersion: 'containerops.io/v1';
  kind: 'Workflow';
  metadata: WorkflowMetadata;
  spec: WorkflowSpec;
}

export interface WorkflowMetadata {
  name: string;
  /** `<org>/<project>`. */
  project: string;
  description?: string;
  labels?: Record<string, string>;
}

export type ParamValue = string | number | boolean;

export interface WorkflowSpec {
  /** Parameters with their defaults; a run may override them. */
  params?: Record<string, ParamValue>;
  /** Secrets a run is given (values arrive with the run request, never with the workflow). */
  secrets?: SecretSpec[];
  env?: Record<string, string>;
  /** Duration: `30s`, `10m`, `2h`, `14d`, or a number of seconds. */
  timeout?: string | number;
  /** Runs of this workflow allowed at once; more wait in `queued`. */
  concurrency?: number;
  stages: StageSpec[];
  links?: LinkSpec[];
}

export interface SecretSpec {
  /** Used as `${{ secrets.<name> }}` in env values. */
  name: string;
  description?: string;
  /** A run without a value for it is refused; optional secrets default to "". Default false. */
  required?: boolean;
}

export interface StageSpec {
  name: string;
  sequencing?: 'sequence' | 'parallel';
  timeout?: string | number;
  actions: ActionSpec[];
}

export interface ActionSpec {
  name: string;
  image?: string;
  pullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  /** `<namespace>/<name>@<version or range>`, resolved through nucleus. */
  component?: string;
  inputs?: Record<string, unknown>;
  env?: Record<string, string>;
  outputs?: string[];
  timeout?: string | number;
  retries?: { limit: number; backoff?: string | number };
  resources?: { cpu?: string | number; memory?: string | number };
  workingDir?: string;
  /**
   * Written by pilotage when the revision is saved (never by users): what `component`
   * resolved to, so that every run of the revision runs exactly that.
   */
  pinned?: PinnedComponent;
}

/** A component action as resolved by nucleus when its revision was saved. */
export interface PinnedComponent {
  /** `<namespace>/<name>` */
  component: string;
  /** The exact version the range resolved to. */
  version: string;
  /** `<registry host>/<workspace>/<repository>@<digest>`: what the engine pulls and runs. */
  image: string;
  digest: string;
  /** The component's command; absent: the image's own. */
  command?: string[];
  /** The component's environment defaults (the action's `env` goes over them). */
  env: Record<string, string>;
  timeout?: string | number;
  resources?: { cpu?: string | number; memory?: string | number };
  /** Output keys the component declares. */
  outputs: string[];
}

/** `from: stages.<stage>.<action>.outputs.<key>`, `to: stages.<stage>.<action>.inputs.<key>`. */
export interface LinkSpec {
  from: string;
  to: string;
}

/** One validation problem, located by JSON path (`$.spec.stages[1].actions[0].inputs.a`). */
export interface ValidationIssue {
  path: string;
  code: string;
  message: string;
}
