import { Module } from '@nestjs/common';

/** Nucleus: component registry. */
@Module({})
export class NucleusModule {}
