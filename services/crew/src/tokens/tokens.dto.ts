import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';

export class TokenScopesBody {
  /** Actions of the catalog (`workflow:view`, `image:pull`, ...); all the user's when absent. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  actions?: string[];

  /** `org/project`; every project the user has rights in when absent. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(129, { each: true })
  projects?: string[];
}

export class CreateTokenBody {
  /** 1-64 characters, to recognize the token by. */
  @IsString()
  @MaxLength(64)
  name!: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => TokenScopesBody)
  scopes?: TokenScopesBody;

  /** 1-365; default 90. */
  @IsOptional()
  @IsInt()
  expiresInDays?: number;
}
