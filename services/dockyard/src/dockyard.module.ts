import { Module } from '@nestjs/common';

/** Dockyard: image, chart and binary repository. */
@Module({})
export class DockyardModule {}
