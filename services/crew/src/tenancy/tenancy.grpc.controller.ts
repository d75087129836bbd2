import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authenticated, Authorize } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked, given } from '../grpc-calls';
import { AddMemberBody, CreateOrganizationBody, CreateProjectBody, SetMemberRoleBody } from './tenancy.dto';
import { actorOf, TenancyGate } from './tenancy-gate';
import { organizationNotFound, TenancyService, type MemberView, type OrganizationView, type ProjectView } from './tenancy.service';

/**
 * containerops.crew.v1.TenancyService: /api/v1/orgs/... and /api/v1/platform/admins
 * over gRPC, with the same access rules and the same answers (another organization's
 * resources: NOT_FOUND).
 */
@Controller()
@crew.TenancyServiceControllerMethods()
export class TenancyGrpcController implements crew.TenancyServiceController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly gate: TenancyGate,
  ) {}

  // ---- organizations and projects ----

  @Authorize('organization:create')
  async createOrganization(request: crew.CreateOrganizationRequest, metadata?: Metadata): Promise<crew.Organization> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'organization:create');
    const body = checked(CreateOrganizationBody, { name: request.name, description: given(request.description) });
    return toOrganization(await this.tenancy.createOrganization(body, actorOf(principal)));
  }

  @Authenticated()
  async listOrganizations(_request: crew.ListOrganizationsRequest, metadata?: Metadata): Promise<crew.ListOrganizationsResponse> {
    return { items: (await this.gate.organizations(callerOf(metadata))).map(toOrganization) };
  }

  @Authorize('organization:view')
  async getOrganization(request: crew.GetOrganizationRequest, metadata?: Metadata): Promise<crew.Organization> {
    await this.gate.require(callerOf(metadata), 'organization:view', request.org);
    const found = await this.tenancy.organization(request.org);
    if (!found) throw organizationNotFound(request.org);
    return toOrganization(found);
  }

  @Authorize('project:create')
  async createProject(request: crew.CreateProjectRequest, metadata?: Metadata): Promise<crew.Project> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'project:create', request.org);
    const body = checked(CreateProjectBody, { name: request.name, description: given(request.description) });
    return toProject(await this.tenancy.createProject(request.org, body, actorOf(principal)));
  }

  @Authorize('project:view')
  async listProjects(request: crew.ListProjectsRequest, metadata?: Metadata): Promise<crew.ListProjectsResponse> {
    return { items: (await this.gate.projects(callerOf(metadata), request.org)).map(toProject) };
  }

  @Authorize('project:view')
  async getProject(request: crew.GetProjectRequest, metadata?: Metadata): Promise<crew.Project> {
    await this.gate.require(callerOf(metadata), 'project:view', request.org, request.project);
    return toProject((await this.tenancy.project(request.org, request.project))!);
  }

  // ---- organization members ----

  @Authorize('organization:view')
  async listOrganizationMembers(request: crew.ListOrganizationMembersRequest, metadata?: Metadata): Promise<crew.ListMembersResponse> {
    await this.gate.require(callerOf(metadata), 'organization:view', request.org);
    return { items: (await this.tenancy.members(request.org)).map(toMember) };
  }

  @Authorize('organization:manage-members')
  async addOrganizationMember(request: crew.AddOrganizationMemberRequest, metadata?: Metadata): Promise<crew.Member> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'organization:manage-members', request.org);
    const body = checked(AddMemberBody, { username: request.username, role: request.role });
    return toMember(await this.tenancy.setMember(request.org, undefined, body.username, body.role, { replace: false, actor: actorOf(principal) }));
  }

  @Authorize('organization:manage-members')
  async setOrganizationMemberRole(request: crew.SetOrganizationMemberRoleRequest, metadata?: Metadata): Promise<crew.Member> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'organization:manage-members', request.org);
    const body = checked(SetMemberRoleBody, { role: request.role });
    return toMember(await this.tenancy.setMember(request.org, undefined, request.username, body.role, { replace: true, actor: actorOf(principal) }));
  }

  @Authorize('organization:manage-members')
  async removeOrganizationMember(request: crew.RemoveOrganizationMemberRequest, metadata?: Metadata): Promise<crew.RemoveMemberResponse> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'organization:manage-members', request.org);
    await this.tenancy.removeMember(request.org, undefined, request.username, actorOf(principal));
    return {};
  }

  // ---- project members ----

  @Authorize('project:view')
  async listProjectMembers(request: crew.ListProjectMembersRequest, metadata?: Metadata): Promise<crew.ListMembersResponse> {
    await this.gate.require(callerOf(metadata), 'project:view', request.org, request.project);
    return { items: (await this.tenancy.members(request.org, request.project)).map(toMember) };
  }

  @Authorize('project:manage-members')
  async addProjectMember(request: crew.AddProjectMemberRequest, metadata?: Metadata): Promise<crew.Member> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'project:manage-members', request.org, request.project);
    const body = checked(AddMemberBody, { username: request.username, role: request.role });
    return toMember(await this.tenancy.setMember(request.org, request.project, body.username, body.role, { replace: false, actor: actorOf(principal) }));
  }

  @Authorize('project:manage-members')
  async setProjectMemberRole(request: crew.SetProjectMemberRoleRequest, metadata?: Metadata): Promise<crew.Member> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'project:manage-members', request.org, request.project);
    const body = checked(SetMemberRoleBody, { role: request.role });
    return toMember(await this.tenancy.setMember(request.org, request.project, request.username, body.role, { replace: true, actor: actorOf(principal) }));
  }

  @Authorize('project:manage-members')
  async removeProjectMember(request: crew.RemoveProjectMemberRequest, metadata?: Metadata): Promise<crew.RemoveMemberResponse> {
    const principal = callerOf(metadata);
    await this.gate.require(principal, 'project:manage-members', request.org, request.project);
    await this.tenancy.removeMember(request.org, request.project, request.username, actorOf(principal));
    return {};
  }

  // ---- platform administrators ----

  @Authorize('role:manage')
  async listPlatformAdmins(_request: crew.ListPlatformAdminsRequest, metadata?: Metadata): Promise<crew.ListMembersResponse> {
    await this.gate.requirePlatform(callerOf(metadata), 'role:manage');
    return { items: (await this.tenancy.platformAdmins()).map(toMember) };
  }

  @Authorize('role:manage')
  async grantPlatformAdmin(request: crew.GrantPlatformAdminRequest, metadata?: Metadata): Promise<crew.Member> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'role:manage');
    return toMember(await this.tenancy.grantPlatformAdmin(request.username, actorOf(principal)));
  }

  @Authorize('role:manage')
  async revokePlatformAdmin(request: crew.RevokePlatformAdminRequest, metadata?: Metadata): Promise<crew.RevokePlatformAdminResponse> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'role:manage');
    await this.tenancy.revokePlatformAdmin(request.username, actorOf(principal));
    return {};
  }
}

export function toOrganization(organization: OrganizationView): crew.Organization {
  return { name: organization.name, description: organization.description, createdAt: organization.createdAt };
}

export function toProject(project: ProjectView): crew.Project {
  return { org: project.org, name: project.name, path: project.path, description: project.description, createdAt: project.createdAt };
}

export function toMember(member: MemberView): crew.Member {
  return { username: member.username, userId: member.userId, role: member.role, org: member.org ?? '', project: member.project ?? '', since: member.since };
}
