import { Body, Controller, Get, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import type { Request, Response } from 'express';
import type { UserView } from '../users/users.service';
import { ThrottledError, UnauthenticatedError } from './auth-errors';
import { authenticate } from './bearer';
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
  constructor(private readonly auth: AuthService) {}

  @Post('api/v1/auth/login')
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
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token for a new pair; the used one is revoked' })
  refresh(@Body() body: RefreshTokenBody): Promise<TokenPair> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('api/v1/auth/logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a refresh token' })
  async logout(@Body() body: RefreshTokenBody): Promise<void> {
    await this.auth.logout(body.refreshToken);
  }

  @Get('api/v1/me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The user the bearer access token names' })
  async me(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) res: Response): Promise<UserView> {
    const claims = await authenticate(this.auth, authorization, res);
    try {
      return await this.auth.userOf(claims);
    } catch (error) {
      if (error instanceof UnauthenticatedError) res.setHeader('WWW-Authenticate', error.challenge());
      throw error;
    }
  }

  @Get('.well-known/jwks.json')
  @ApiOperation({ summary: 'Public keys that verify crew access tokens' })
  jwks() {
    return this.auth.jwks();
  }
}
