import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

export class RunGcBody {
  @ApiPropertyOptional({ description: 'Report what would be deleted, delete nothing' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}
