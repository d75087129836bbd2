import { Module } from '@nestjs/common';

/** Pilotage: orchestration engine: workflows, runs, triggers and runtimes. */
@Module({})
export class PilotageModule {}
