import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageQuery } from '@co/common';
import { SLUG } from './component.schema';

const SLUG_PATTERN = new RegExp(SLUG);

export class ListComponentsQuery extends PageQuery {
  @IsOptional()
  @Matches(SLUG_PATTERN, { message: 'namespace must be an organization slug (like acme)' })
  @MaxLength(64)
  namespace?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64, { message: 'name must be at most 64 characters' })
  name?: string;

  @IsOptional()
  @IsString()
  @MaxLength(63, { message: 'label must be at most 63 characters' })
  label?: string;

  @IsOptional()
  @IsString()
  @MaxLength(200, { message: 'q must be at most 200 characters' })
  q?: string;

}

export class ResolveQuery {
  @IsOptional()
  @IsString()
  @MaxLength(256, { message: 'range must be at most 256 characters' })
  range?: string;
}

export class DeprecateBody {
  @IsString({ message: 'message must say why the version is deprecated and what to use instead' })
  @MaxLength(1000, { message: 'message must be at most 1000 characters' })
  message!: string;
}

export class YankBody {
  @IsString({ message: 'reason must say why the version is yanked' })
  @MaxLength(1000, { message: 'reason must be at most 1000 characters' })
  reason!: string;
}
