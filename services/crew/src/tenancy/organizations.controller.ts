import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import { AddMemberBody, CreateOrganizationBody, CreateProjectBody, SetMemberRoleBody } from './tenancy.dto';
import { actorOf, TenancyGate } from './tenancy-gate';
import { organizationNotFound, TenancyService, type MemberView, type OrganizationView, type ProjectView } from './tenancy.service';

/**
 * Organizations, their projects and their members. Lists show only what the caller
 * belongs to (everything for a platform administrator); another organization's
 * resources answer 404.
 */
@ApiTags('tenancy')
@ApiBearerAuth()
@Controller('api/v1/orgs')
export class OrganizationsController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly gate: TenancyGate,
  ) {}

  @Post()
  @Authorize('organization:create')
  @ApiOperation({ summary: 'Create an organization (platform administrators)' })
  async create(@Body() body: CreateOrganizationBody, @CurrentPrincipal() principal: Principal): Promise<OrganizationView> {
    await this.gate.requirePlatform(principal, 'organization:create');
    return this.tenancy.createOrganization(body, actorOf(principal));
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'The organizations the caller belongs to (all of them for a platform administrator)' })
  async list(@CurrentPrincipal() principal: Principal): Promise<{ items: OrganizationView[] }> {
    return { items: await this.gate.organizations(principal) };
  }

  @Get(':org')
  @Authorize('organization:view')
  @ApiOperation({ summary: 'One organization' })
  async get(@Param('org') org: string, @CurrentPrincipal() principal: Principal): Promise<OrganizationView> {
    await this.gate.require(principal, 'organization:view', org);
    const found = await this.tenancy.organization(org);
    if (!found) throw organizationNotFound(org);
    return found;
  }

  @Post(':org/projects')
  @Authorize('project:create')
  @ApiOperation({ summary: 'Create a project in the organization (its administrators)' })
  async createProject(@Param('org') org: string, @Body() body: CreateProjectBody, @CurrentPrincipal() principal: Principal): Promise<ProjectView> {
    await this.gate.require(principal, 'project:create', org);
    return this.tenancy.createProject(org, body, actorOf(principal));
  }

  @Get(':org/projects')
  @Authorize('project:view')
  @ApiOperation({ summary: 'The projects of the organization the caller may see' })
  async projects(@Param('org') org: string, @CurrentPrincipal() principal: Principal): Promise<{ items: ProjectView[] }> {
    return { items: await this.gate.projects(principal, org) };
  }

  @Get(':org/projects/:project')
  @Authorize('project:view')
  @ApiOperation({ summary: 'One project' })
  async project(@Param('org') org: string, @Param('project') project: string, @CurrentPrincipal() principal: Principal): Promise<ProjectView> {
    await this.gate.require(principal, 'project:view', org, project);
    return (await this.tenancy.project(org, project))!;
  }

  // ---- organization members ----

  @Get(':org/members')
  @Authorize('organization:view')
  @ApiOperation({ summary: 'Who holds a role in the organization itself (project members are listed per project)' })
  async members(@Param('org') org: string, @CurrentPrincipal() principal: Principal): Promise<{ items: MemberView[] }> {
    await this.gate.require(principal, 'organization:view', org);
    return { items: await this.tenancy.members(org) };
  }

  @Post(':org/members')
  @Authorize('organization:manage-members')
  @ApiOperation({ summary: 'Give a user a role in the organization (an organization role, or a project role for all its projects)' })
  async addMember(@Param('org') org: string, @Body() body: AddMemberBody, @CurrentPrincipal() principal: Principal): Promise<MemberView> {
    await this.gate.require(principal, 'organization:manage-members', org);
    return this.tenancy.setMember(org, undefined, body.username, body.role, { replace: false, actor: actorOf(principal) });
  }

  @Put(':org/members/:username')
  @Authorize('organization:manage-members')
  @ApiOperation({ summary: "Set a user's role in the organization" })
  async setMember(
    @Param('org') org: string,
    @Param('username') username: string,
    @Body() body: SetMemberRoleBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<MemberView> {
    await this.gate.require(principal, 'organization:manage-members', org);
    return this.tenancy.setMember(org, undefined, username, body.role, { replace: true, actor: actorOf(principal) });
  }

  @Delete(':org/members/:username')
  @HttpCode(204)
  @Authorize('organization:manage-members')
  @ApiOperation({ summary: "Remove a user's role in the organization" })
  async removeMember(@Param('org') org: string, @Param('username') username: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.gate.require(principal, 'organization:manage-members', org);
    await this.tenancy.removeMember(org, undefined, username, actorOf(principal));
  }

  // ---- project members ----

  @Get(':org/projects/:project/members')
  @Authorize('project:view')
  @ApiOperation({ summary: 'Who holds a role in the project itself' })
  async projectMembers(@Param('org') org: string, @Param('project') project: string, @CurrentPrincipal() principal: Principal): Promise<{ items: MemberView[] }> {
    await this.gate.require(principal, 'project:view', org, project);
    return { items: await this.tenancy.members(org, project) };
  }

  @Post(':org/projects/:project/members')
  @Authorize('project:manage-members')
  @ApiOperation({ summary: 'Give a user a project role (project-admin, member, viewer or a custom project role) in the project' })
  async addProjectMember(
    @Param('org') org: string,
    @Param('project') project: string,
    @Body() body: AddMemberBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<MemberView> {
    await this.gate.require(principal, 'project:manage-members', org, project);
    return this.tenancy.setMember(org, project, body.username, body.role, { replace: false, actor: actorOf(principal) });
  }

  @Put(':org/projects/:project/members/:username')
  @Authorize('project:manage-members')
  @ApiOperation({ summary: "Set a user's role in the project" })
  async setProjectMember(
    @Param('org') org: string,
    @Param('project') project: string,
    @Param('username') username: string,
    @Body() body: SetMemberRoleBody,
    @CurrentPrincipal() principal: Principal,
  ): Promise<MemberView> {
    await this.gate.require(principal, 'project:manage-members', org, project);
    return this.tenancy.setMember(org, project, username, body.role, { replace: true, actor: actorOf(principal) });
  }

  @Delete(':org/projects/:project/members/:username')
  @HttpCode(204)
  @Authorize('project:manage-members')
  @ApiOperation({ summary: "Remove a user's role in the project" })
  async removeProjectMember(
    @Param('org') org: string,
    @Param('project') project: string,
    @Param('username') username: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.gate.require(principal, 'project:manage-members', org, project);
    await this.tenancy.removeMember(org, project, username, actorOf(principal));
  }
}
