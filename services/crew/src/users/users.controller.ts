import { Body, Controller, Get, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Response } from 'express';
import { CommonErrorCodes, DomainError } from '@co/common';
import { AuthService } from '../auth/auth.service';
import { authenticate } from '../auth/bearer';
import { ADMIN_USERNAME } from './admin-bootstrap';
import { IsString, MaxLength } from 'class-validator';
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
@Controller('api/v1')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
  ) {}

  @Post('users')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Create a user (the platform administrator only, until roles exist)' })
  async create(
    @Body() body: CreateUserBody,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserView> {
    const caller = await authenticate(this.auth, authorization, res);
    // Roles and policies come with RBAC; until then only the bootstrap administrator adds users.
    if (caller.name !== ADMIN_USERNAME) {
      throw new DomainError(CommonErrorCodes.FORBIDDEN, `Only ${ADMIN_USERNAME} may create users for now.`, 403, GrpcStatus.PERMISSION_DENIED);
    }
    return this.users.create(body);
  }

  @Get('users/:username')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'A user by username, for signed-in callers (never any password data)' })
  async get(
    @Param('username') username: string,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserView> {
    await authenticate(this.auth, authorization, res);
    return this.users.get(username);
  }
}
