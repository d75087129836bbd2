import { Module } from '@nestjs/common';

/** Logarithm: log collection, query, live tail and download. */
@Module({})
export class LogarithmModule {}
