import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import type { Request, Response } from 'express';
import { Authenticated, CurrentPrincipal, type Principal, Public, UnauthenticatedError } from '@co/auth';
import type { Binding } from '../policy/policy';
import { TenancyService } from '../tenancy/tenancy.service';
import { UsersService, type UserView } from '../users/users.service';
import { ThrottledError } from './auth-errors';
import { AuthService, type TokenPair } from './auth.service';

export class LoginBody {
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  @IsString()
  @MaxLength(1024)
  password!: string;
}

export class RefreshTokenBody {
  @IsString()
  @MaxLength(256)
  refreshToken!: string;
}

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersService,
    private readonly tenancy: TenancyService,
  ) {}

  @Post('api/v1/auth/login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in with username and password: an access token (15 min) and a refresh token (7 days)' })
  async login(@Body() body: LoginBody, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<TokenPair> {
    try {
      return await this.auth.login(body.username, body.password, req.socket.remoteAddress ?? 'unknown');
    } catch (error) {
      if (error instanceof ThrottledError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw error;
    }
  }

  @Post('api/v1/auth/refresh')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token for a new pair; the used one is revoked' })
  refresh(@Body() body: RefreshTokenBody): Promise<TokenPair> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('api/v1/auth/logout')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a refresh token' })
  async logout(@Body() body: RefreshTokenBody): Promise<void> {
    await this.auth.logout(body.refreshToken);
  }

  @Get('api/v1/me')
  @Authenticated()
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user and the roles they hold (platform, organizations, projects)' })
  async me(@CurrentPrincipal() principal: Principal): Promise<UserView & { bindings: Binding[] }> {
    const user = principal.kind === 'user' ? await this.users.findById(principal.userId) : undefined;
    if (!user) throw new UnauthenticatedError('the token names a user that does not exist', 'invalid_token');
    return { ...user, bindings: await this.tenancy.bindingsOf(user.id) };
  }

  @Get('.well-known/jwks.json')
  @Public()
  @ApiOperation({ summary: 'Public keys that verify crew access tokens' })
  jwks() {
    return this.auth.jwks();
  }
}
