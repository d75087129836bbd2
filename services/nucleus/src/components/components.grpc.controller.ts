import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { AUTH_CONTEXT, Authenticated, Authorize, type AuthContext, type Principal } from '@co/auth';
import { InvalidInputError } from '@co/common';
import { nucleus } from '@co/proto';
import type { ManifestFormat } from './component-manifest';
import { type CommandField, validateWorkflowComponents, WORKFLOW_VALIDATION_LIMITS, type WorkflowIssue } from './workflow-validation';
import { COMPONENT_LIST_LIMITS, ComponentsService, type ComponentDetail, type ComponentSummary, type ComponentVersionView } from './components.service';

/** The caller the auth guard authenticated, kept on the call's metadata. */
function callerOf(metadata: Metadata | undefined): Principal {
  const auth = (metadata as unknown as Record<symbol, AuthContext | undefined> | undefined)?.[AUTH_CONTEXT];
  if (!auth) throw new Error('callerOf used on a call the auth guard did not see');
  return auth.principal;
}

function authorizationOf(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get('authorization')?.[0];
  return value === undefined ? undefined : String(value);
}

function formatOf(format: string): ManifestFormat {
  if (format === '' || format === 'yaml') return 'yaml';
  if (format === 'json') return 'json';
  throw new InvalidInputError('REQUEST.INVALID', `format must be yaml or json (or empty for yaml), not ${JSON.stringify(format.slice(0, 40))}.`);
}

/**
 * containerops.nucleus.v1.ComponentService: the REST component API over gRPC, with the
 * same access rules (credentials in the `authorization` metadata, which nucleus also
 * hands to dockyard to find a published image).
 */
@Controller()
@nucleus.ComponentServiceControllerMethods()
export class ComponentsGrpcController implements nucleus.ComponentServiceController {
  constructor(private readonly components: ComponentsService) {}

  @Authenticated()
  async resolveComponent(request: nucleus.ResolveComponentRequest, metadata?: Metadata): Promise<nucleus.ResolvedComponent> {
    const resolved = await this.components.resolve(callerOf(metadata), request.namespace, request.name, request.range);
    return {
      namespace: resolved.namespace,
      name: resolved.name,
      version: resolved.version,
      pinnedImage: resolved.pinnedImage,
      imageDigest: resolved.imageDigest,
      inputsSchemaJson: resolved.inputs ? JSON.stringify(resolved.inputs) : '',
      outputs: Object.fromEntries(Object.entries(resolved.outputs).map(([key, output]) => [key, output.type])),
      deprecated: resolved.deprecated,
      ...(resolved.deprecationMessage !== null ? { deprecationMessage: resolved.deprecationMessage } : {}),
      manifestJson: JSON.stringify({ command: resolved.command, env: resolved.env, overridable: resolved.overridable, timeout: resolved.timeout }),
    };
  }

  @Authenticated()
  async getComponent(request: nucleus.GetComponentRequest, metadata?: Metadata): Promise<nucleus.Component> {
    return toComponentMessage(await this.components.get(callerOf(metadata), request.namespace, request.name));
  }

  @Authenticated()
  async listComponents(request: nucleus.ListComponentsRequest, metadata?: Metadata): Promise<nucleus.ListComponentsResponse> {
    if (request.pageSize < 0 || request.pageSize > COMPONENT_LIST_LIMITS.maxPageSize || request.page < 0) {
      throw new InvalidInputError('REQUEST.INVALID', `page must be positive and page_size between 1 and ${COMPONENT_LIST_LIMITS.maxPageSize} (0: the defaults).`);
    }
    const page = await this.components.list(callerOf(metadata), {
      namespace: request.namespace || undefined,
      name: request.name.slice(0, 64) || undefined,
      label: request.label.slice(0, 63) || undefined,
      q: request.q.slice(0, 200) || undefined,
      page: request.page || undefined,
      pageSize: request.pageSize || undefined,
    });
    return { items: page.items.map((item) => toComponentMessage(item)), page: page.page, pageSize: page.pageSize, total: page.total };
  }

  @Authorize('component:publish')
  async publishComponent(request: nucleus.PublishComponentRequest, metadata?: Metadata): Promise<nucleus.ComponentVersion> {
    return toVersionMessage(await this.components.publish(callerOf(metadata), authorizationOf(metadata), request.manifest, formatOf(request.format)));
  }

  /** Any signed-in caller: what they may resolve is what they may see (an `org` component of another organization is unknown). */
  @Authenticated()
  async validateWorkflow(request: nucleus.ValidateWorkflowRequest, metadata?: Metadata): Promise<nucleus.ValidateWorkflowResponse> {
    const uses = request.actions.map((action) => ({
      path: action.path,
      reference: action.reference,
      inputs: inputsOf(action),
      referencedOutputs: action.referencedOutputs,
      overridesCommand: action.overridesCommand,
      // Checked by the validation: anything but `command` and `args` is refused.
      commandFields: action.commandOverrides as CommandField[],
      envOverrides: action.envOverrides,
    }));
    const validation = await validateWorkflowComponents(this.components, callerOf(metadata), uses);
    return {
      actions: validation.actions.map(({ path, resolved, warnings }) => ({
        path,
        namespace: resolved.namespace,
        name: resolved.name,
        version: resolved.version,
        pinnedImage: resolved.pinnedImage,
        imageDigest: resolved.imageDigest,
        command: resolved.command ?? [],
        env: resolved.env,
        timeout: resolved.timeout === null ? '' : String(resolved.timeout),
        resourcesJson: resolved.resources ? JSON.stringify(resolved.resources) : '',
        outputs: Object.fromEntries(Object.entries(resolved.outputs).map(([key, output]) => [key, output.type])),
        warnings: warnings.map(issueMessage),
      })),
      errors: validation.errors.map(issueMessage),
    };
  }
}

function issueMessage(issue: WorkflowIssue): nucleus.WorkflowIssue {
  return { path: issue.path, code: issue.code, message: issue.message };
}

function inputsOf(action: nucleus.ComponentActionUse): Record<string, unknown> | undefined {
  if (action.inputsJson === '') return undefined;
  if (Buffer.byteLength(action.inputsJson) > WORKFLOW_VALIDATION_LIMITS.inputsBytes) {
    throw new InvalidInputError('REQUEST.INVALID', `inputs_json at ${action.path.slice(0, 200)} takes more than ${WORKFLOW_VALIDATION_LIMITS.inputsBytes} bytes.`);
  }
  let inputs: unknown;
  try {
    inputs = JSON.parse(action.inputsJson);
  } catch {
    throw new InvalidInputError('REQUEST.INVALID', `inputs_json at ${action.path.slice(0, 200)} is not JSON.`);
  }
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw new InvalidInputError('REQUEST.INVALID', `inputs_json at ${action.path.slice(0, 200)} must be a JSON object.`);
  }
  return inputs as Record<string, unknown>;
}

function toComponentMessage(component: ComponentSummary | ComponentDetail): nucleus.Component {
  return {
    namespace: component.namespace,
    name: component.name,
    project: component.project,
    visibility: component.visibility,
    description: component.description,
    labels: component.labels,
    latestVersion: component.latestVersion ?? '',
    createdAt: component.createdAt,
    updatedAt: component.updatedAt,
    versions: 'versions' in component ? component.versions : [],
  };
}

function toVersionMessage(version: ComponentVersionView): nucleus.ComponentVersion {
  return {
    namespace: version.namespace,
    name: version.name,
    version: version.version,
    project: version.project,
    visibility: version.visibility,
    image: version.image,
    imageDigest: version.imageDigest,
    pinnedImage: version.pinnedImage,
    deprecated: version.deprecated,
    ...(version.deprecationMessage !== null ? { deprecationMessage: version.deprecationMessage } : {}),
    yanked: version.yanked,
    ...(version.yankReason !== null ? { yankReason: version.yankReason } : {}),
    publishedBy: version.publishedBy,
    publishedAt: version.publishedAt,
    manifestJson: JSON.stringify(version.manifest),
  };
}
