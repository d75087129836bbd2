import { Module } from '@nestjs/common';

/** Assembling: builds: source to image. */
@Module({})
export class AssemblingModule {}
