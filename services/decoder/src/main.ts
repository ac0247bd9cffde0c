/** Decoder process: `node --import tsx services/decoder/src/main.ts` (config keys in README.md). */
import { PROTO_ROOT, SERVICES } from '@tessera/contracts';
import { hosted, startService, connectNats } from '@tessera/runtime';
import { loadDecoderConfig } from './config.js';
import { createDecoderApp } from './decoder-app.js';
import { decoderService } from './decoder-service.js';

const cfg = loadDecoderConfig();
const app = await createDecoderApp(cfg);
const nc = await connectNats(cfg);
const entry = SERVICES.decoder;
await startService({
  config: cfg,
  nc,
  services: [
    hosted({
      definition: entry.definition,
      impl: decoderService(app.deps(nc)),
      ...(cfg.workQueue && { workQueue: { stage: 'decoder', methods: ['generate'] } }),
    }),
  ],
  reflection: { protoFiles: [...entry.protoFiles], includeDirs: [PROTO_ROOT] },
  // In-flight streams finish inside shutdownGrace (the host waits), then the engine and sessions close.
  onShutdown: async () => {
    await app.close();
    await nc.drain().catch(() => {});
  },
});
