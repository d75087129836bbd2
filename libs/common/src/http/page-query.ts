import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** The most items one page of a list answers (`pageSize`). */
export const MAX_PAGE_SIZE = 100;

/**
 * `?page=&pageSize=` of a paged list (page from 1, 1 to 100 items); list query classes
 * extend it and add their filters.
 */
export class PageQuery {
  @IsOptional()
  @Transform(({ value }) => Number(value))
  @IsInt({ message: 'page must be a positive integer' })
  @Min(1, { message: 'page must be a positive integer' })
  page?: number;

  @IsOptional()
  @Transform(({ value }) => Number(value))
  @IsInt({ message: `pageSize must be an integer between 1 and ${MAX_PAGE_SIZE}` })
  @Min(1, { message: `pageSize must be an integer between 1 and ${MAX_PAGE_SIZE}` })
  @Max(MAX_PAGE_SIZE, { message: `pageSize must be an integer between 1 and ${MAX_PAGE_SIZE}` })
  pageSize?: number;
}
