import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** One `grpc.health.v1.Health/Check` call; resolves to the serving status name or 'UNREACHABLE'. */
export function checkGrpcHealth(address: string, timeoutMs = 1000): Promise<string> {
  const client = new HealthClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void): void;
  };
  return new Promise((resolve) => {
    client.check({ service: '' }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err || !res) return resolve('UNREACHABLE');
      const s = res.status;
      resolve(typeof s === 'number' ? (['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][s] ?? 'UNKNOWN') : s);
    });
  });
}
