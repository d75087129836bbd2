import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authorize } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked, given, givenList } from '../grpc-calls';
import type { Role } from '../policy/roles';
import { DefineRoleBody } from './tenancy.dto';
import { actorOf, TenancyGate } from './tenancy-gate';
import { TenancyService } from './tenancy.service';

/** containerops.crew.v1.RoleService: /api/v1/roles over gRPC, with the same access rules. */
@Controller()
@crew.RoleServiceControllerMethods()
export class RolesGrpcController implements crew.RoleServiceController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly gate: TenancyGate,
  ) {}

  @Authorize('role:view')
  async listRoles(_request: crew.ListRolesRequest, metadata?: Metadata): Promise<crew.ListRolesResponse> {
    await this.gate.requirePlatform(callerOf(metadata), 'role:view');
    return { items: (await this.tenancy.roles()).map(toRole) };
  }

  @Authorize('role:view')
  async getRole(request: crew.GetRoleRequest, metadata?: Metadata): Promise<crew.Role> {
    await this.gate.requirePlatform(callerOf(metadata), 'role:view');
    return toRole(await this.tenancy.role(request.name));
  }

  @Authorize('role:manage')
  async defineRole(request: crew.DefineRoleRequest, metadata?: Metadata): Promise<crew.Role> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'role:manage');
    const body = checked(DefineRoleBody, {
      name: request.name,
      description: given(request.description),
      level: request.level,
      rules: (request.rules ?? []).map((rule) => ({
        resource: rule.resource,
        actions: rule.actions ?? [],
        scope: rule.scope,
        projects: givenList(rule.projects),
      })),
    });
    return toRole(await this.tenancy.defineRole(body, actorOf(principal)));
  }

  @Authorize('role:manage')
  async deleteRole(request: crew.DeleteRoleRequest, metadata?: Metadata): Promise<crew.DeleteRoleResponse> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'role:manage');
    await this.tenancy.deleteRole(request.name, actorOf(principal));
    return {};
  }
}

function toRole(role: Role): crew.Role {
  return {
    name: role.name,
    description: role.description,
    level: role.level,
    builtIn: role.builtIn,
    rules: role.rules.map((rule) => ({ resource: rule.resource, actions: [...rule.actions], scope: rule.scope, projects: [...(rule.projects ?? [])] })),
  };
}
