import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { Authenticated, Authorize, UnauthenticatedError } from '@co/auth';
import { crew } from '@co/proto';
import { callerOf, checked } from '../grpc-calls';
import { TenancyService } from '../tenancy/tenancy.service';
import { actorOf, TenancyGate } from '../tenancy/tenancy-gate';
import { CreateUserBody } from './users.controller';
import { UsersService, type UserView } from './users.service';

/** containerops.crew.v1.UserService: /api/v1/users and /api/v1/me over gRPC, with the same access rules. */
@Controller()
@crew.UserServiceControllerMethods()
export class UsersGrpcController implements crew.UserServiceController {
  constructor(
    private readonly users: UsersService,
    private readonly tenancy: TenancyService,
    private readonly gate: TenancyGate,
  ) {}

  @Authorize('user:create')
  async createUser(request: crew.CreateUserRequest, metadata?: Metadata): Promise<crew.User> {
    const principal = callerOf(metadata);
    await this.gate.requirePlatform(principal, 'user:create');
    return toUser(await this.users.create(checked(CreateUserBody, request), 'api', actorOf(principal)));
  }

  @Authorize('user:view')
  async listUsers(_request: crew.ListUsersRequest, metadata?: Metadata): Promise<crew.ListUsersResponse> {
    await this.gate.requirePlatform(callerOf(metadata), 'user:view');
    return { items: (await this.users.list()).map(toUser) };
  }

  @Authorize('user:view')
  async getUser(request: crew.GetUserRequest, metadata?: Metadata): Promise<crew.User> {
    await this.gate.requirePlatform(callerOf(metadata), 'user:view');
    return toUser(await this.users.get(request.username));
  }

  @Authenticated()
  async getMe(_request: crew.GetMeRequest, metadata?: Metadata): Promise<crew.GetMeResponse> {
    const principal = callerOf(metadata);
    const user = principal.kind === 'user' ? await this.users.findById(principal.userId) : undefined;
    if (!user) throw new UnauthenticatedError('the token names a user that does not exist', 'invalid_token');
    const bindings = await this.tenancy.bindingsOf(user.id);
    return { ...toUser(user), bindings: bindings.map((binding) => ({ role: binding.role, org: binding.org ?? '', project: binding.project ?? '' })) };
  }
}

function toUser(user: UserView): crew.User {
  return { id: user.id, username: user.username, email: user.email, createdAt: user.createdAt };
}
