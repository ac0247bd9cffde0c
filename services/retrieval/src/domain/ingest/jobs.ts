/**
 * Ingestion jobs: in-memory, per process, scoped by tenant (another tenant's job id is NOT_FOUND).
 * A restart forgets jobs; groups a job already wrote stay written (each group is one atomic write).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, TesseraError } from '@tessera/runtime';

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed';

export interface IngestionJob {
  id: string;
  tenant: string;
  collection: string;
  state: JobState;
  documentsTotal: number;
  documentsDone: number;
  chunksWritten: number;
  /** Inputs cut to the embedder's maximum length. */
  truncated: number;
  error?: { code: string; message: string; details: Record<string, unknown> };
  createdAt: Date;
  updatedAt: Date;
}

export class JobRegistry {
  private readonly jobs = new Map<string, IngestionJob>();
  constructor(private readonly maxRetained: number) {}

  create(tenant: string, collection: string, documentsTotal: number): IngestionJob {
    const now = new Date();
    const job: IngestionJob = { id: randomUUID(), tenant, collection, state: 'pending', documentsTotal, documentsDone: 0, chunksWritten: 0, truncated: 0, createdAt: now, updatedAt: now };
    this.jobs.set(job.id, job);
    this.evict();
    return job;
  }

  update(job: IngestionJob, patch: Partial<Pick<IngestionJob, 'state' | 'documentsDone' | 'chunksWritten' | 'truncated' | 'error'>>): void {
    Object.assign(job, patch, { updatedAt: new Date() });
  }

  get(tenant: string, id: string): IngestionJob {
    const job = this.jobs.get(id);
    if (!job || job.tenant !== tenant) throw new TesseraError(ErrorCode.NOT_FOUND, `ingestion job ${id} does not exist`, { field: 'job_id' });
    return { ...job };
  }

  private evict(): void {
    if (this.jobs.size <= this.maxRetained) return;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= this.maxRetained) break;
      if (j.state === 'succeeded' || j.state === 'failed') this.jobs.delete(id);
    }
  }
}
