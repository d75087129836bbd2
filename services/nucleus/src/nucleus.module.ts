import { Module } from '@nestjs/common';
import { crewAccessControlProvider } from '@co/auth';
import { componentsParts } from './components/components.parts';
import { loadNucleusSettings, NUCLEUS_SETTINGS } from './nucleus-settings';

/** Nucleus: component registry. */
@Module({
  controllers: [...componentsParts.controllers],
  providers: [crewAccessControlProvider(), { provide: NUCLEUS_SETTINGS, useFactory: () => loadNucleusSettings(process.env) }, ...componentsParts.providers],
})
export class NucleusModule {}
