import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';

export class CreateOrganizationBody {
  /** Lowercase slug, 2-63 characters. */
  @IsString()
  @MaxLength(128)
  name!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class CreateProjectBody extends CreateOrganizationBody {}

export class AddMemberBody {
  @IsString()
  @MaxLength(64)
  username!: string;

  /** A role name: org-admin, project-admin, member, viewer or a custom role. */
  @IsString()
  @MaxLength(128)
  role!: string;
}

export class SetMemberRoleBody {
  @IsString()
  @MaxLength(128)
  role!: string;
}

export class RuleBody {
  /** A resource type of the action catalog, e.g. workflow. */
  @IsString()
  @MaxLength(64)
  resource!: string;

  /** Verbs of that resource, e.g. ["view", "run"]. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  actions!: string[];

  @IsIn(['all', 'joined-projects', 'own-objects'])
  scope!: string;

  /** Restricts the rule to these `org/project`s. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  projects?: string[];
}

export class DefineRoleBody {
  @IsString()
  @MaxLength(128)
  name!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  /** org: granted in an organization; project: granted in a project (or in an organization, for all its projects). */
  @IsString()
  @MaxLength(16)
  level!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => RuleBody)
  rules!: RuleBody[];
}
