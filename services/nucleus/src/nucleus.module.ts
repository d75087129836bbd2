import { Module } from '@nestjs/common';
import { crewAccessControlProvider } from '@co/auth';
import { componentsParts } from './components/components.parts';
import { loadNucleusSettings, NUCLEUS_SETTINGS } from './nucleus-settings';
import { OfficialComponentsService } from './official/official-components.service';

/** Nucleus: component registry, with the official components published at start. */
@Module({
  controllers: [...componentsParts.controllers],
  providers: [crewAccessControlProvider(), { provide: NUCLEUS_SETTINGS, useFactory: () => loadNucleusSettings(process.env) }, ...componentsParts.providers, OfficialComponentsService],
})
export class NucleusModule {}
