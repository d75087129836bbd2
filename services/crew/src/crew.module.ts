import { Module } from '@nestjs/common';

/** Crew: tenancy and access: users, organizations, projects, roles, tokens, quotas and audit. */
@Module({})
export class CrewModule {}
