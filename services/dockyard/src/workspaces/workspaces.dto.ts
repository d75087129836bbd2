import { IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { WORKSPACE_VISIBILITIES, type WorkspaceVisibility } from './workspace.events';

/** A workspace name is the first path component of its repositories, as the distribution spec defines components. */
export const WORKSPACE_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export class CreateWorkspaceBody {
  @IsString()
  @MaxLength(64, { message: 'name must be at most 64 characters' })
  @Matches(WORKSPACE_NAME, { message: 'name must be lowercase letters and digits, separated by ".", "_", "__" or "-" (like acme-web)' })
  name!: string;

  @IsString()
  @Matches(SLUG, { message: 'org must name an organization (a slug like acme)' })
  @MaxLength(64)
  org!: string;

  @IsString()
  @Matches(SLUG, { message: 'project must name a project of the organization (a slug like web)' })
  @MaxLength(64)
  project!: string;

  @IsOptional()
  @IsIn(WORKSPACE_VISIBILITIES, { message: 'visibility must be public or private' })
  visibility?: WorkspaceVisibility;

  @IsOptional()
  @IsString()
  @MaxLength(500, { message: 'description must be at most 500 characters' })
  description?: string;
}

export class UpdateWorkspaceBody {
  @IsOptional()
  @IsIn(WORKSPACE_VISIBILITIES, { message: 'visibility must be public or private' })
  visibility?: WorkspaceVisibility;

  @IsOptional()
  @IsString()
  @MaxLength(500, { message: 'description must be at most 500 characters' })
  description?: string;
}
