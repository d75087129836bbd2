import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import type { Role } from '../policy/roles';
import { DefineRoleBody } from './tenancy.dto';
import { actorOf, TenancyGate } from './tenancy-gate';
import { TenancyService, type MemberView } from './tenancy.service';

/** Platform administrators and roles. */
@ApiTags('tenancy')
@ApiBearerAuth()
@Controller('api/v1')
export class PlatformController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly gate: TenancyGate,
  ) {}

  @Get('platform/admins')
  @Authorize('role:manage')
  @ApiOperation({ summary: 'The platform administrators (platform administrators only)' })
  async admins(@CurrentPrincipal() principal: Principal): Promise<{ items: MemberView[] }> {
    await this.gate.requirePlatform(principal, 'role:manage');
    return { items: await this.tenancy.platformAdmins() };
  }

  @Put('platform/admins/:username')
  @Authorize('role:manage')
  @ApiOperation({ summary: 'Make a user a platform administrator (platform administrators only)' })
  async grant(@Param('username') username: string, @CurrentPrincipal() principal: Principal): Promise<MemberView> {
    await this.gate.requirePlatform(principal, 'role:manage');
    return this.tenancy.grantPlatformAdmin(username, actorOf(principal));
  }

  @Delete('platform/admins/:username')
  @HttpCode(204)
  @Authorize('role:manage')
  @ApiOperation({ summary: 'Revoke platform administration (the last administrator stays)' })
  async revoke(@Param('username') username: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.gate.requirePlatform(principal, 'role:manage');
    await this.tenancy.revokePlatformAdmin(username, actorOf(principal));
  }

  @Get('roles')
  @Authorize('role:view')
  @ApiOperation({ summary: 'Every role: built-in and custom, with their rules' })
  async roles(@CurrentPrincipal() principal: Principal): Promise<{ items: Role[] }> {
    await this.gate.requirePlatform(principal, 'role:view');
    return { items: await this.tenancy.roles() };
  }

  @Get('roles/:name')
  @Authorize('role:view')
  @ApiOperation({ summary: 'One role' })
  async role(@Param('name') name: string, @CurrentPrincipal() principal: Principal): Promise<Role> {
    await this.gate.requirePlatform(principal, 'role:view');
    return this.tenancy.role(name);
  }

  @Post('roles')
  @Authorize('role:manage')
  @ApiOperation({ summary: 'Define a custom role (platform administrators); its actions must be in the action catalog' })
  async define(@Body() body: DefineRoleBody, @CurrentPrincipal() principal: Principal): Promise<Role> {
    await this.gate.requirePlatform(principal, 'role:manage');
    return this.tenancy.defineRole(body, actorOf(principal));
  }

  @Delete('roles/:name')
  @HttpCode(204)
  @Authorize('role:manage')
  @ApiOperation({ summary: 'Delete a custom role that nobody holds' })
  async remove(@Param('name') name: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.gate.requirePlatform(principal, 'role:manage');
    await this.tenancy.deleteRole(name, actorOf(principal));
  }
}
