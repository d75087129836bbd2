import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { Authorize, CurrentPrincipal, type Principal } from '@co/auth';
import { actorOf, TenancyGate } from '../tenancy/tenancy-gate';
import { UsersService, type UserView } from './users.service';

export class CreateUserBody {
  /** Lowercase slug, 3-32 characters. */
  @IsString()
  @MaxLength(64)
  username!: string;

  /** 12-128 characters, not the username. */
  @IsString()
  @MaxLength(1024)
  password!: string;

  @IsString()
  @MaxLength(256)
  email!: string;
}

@ApiTags('users')
@ApiBearerAuth()
@Controller('api/v1/users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly gate: TenancyGate,
  ) {}

  @Post()
  @Authorize('user:create')
  @ApiOperation({ summary: 'Create a user (platform administrators)' })
  async create(@Body() body: CreateUserBody, @CurrentPrincipal() principal: Principal): Promise<UserView> {
    await this.gate.requirePlatform(principal, 'user:create');
    return this.users.create(body, 'api', actorOf(principal));
  }

  @Get()
  @Authorize('user:view')
  @ApiOperation({ summary: 'Every user (never any password data)' })
  async list(@CurrentPrincipal() principal: Principal): Promise<{ items: UserView[] }> {
    await this.gate.requirePlatform(principal, 'user:view');
    return { items: await this.users.list() };
  }

  @Get(':username')
  @Authorize('user:view')
  @ApiOperation({ summary: 'A user by username (never any password data)' })
  async get(@Param('username') username: string, @CurrentPrincipal() principal: Principal): Promise<UserView> {
    await this.gate.requirePlatform(principal, 'user:view');
    return this.users.get(username);
  }
}
