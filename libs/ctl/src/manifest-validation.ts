import * as admissionregistration from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscalingV1 from 'kubernetes-models/autoscaling/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

type ModelClass = new (data: object) => { validate(): void };

/** apiVersion → kind → kubernetes-models class (the OpenAPI schemas of Kubernetes and KEDA, offline). */
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'autoscaling/v1': autoscalingV1,
  'autoscaling/v2': autoscalingV2,
  'batch/v1': batch,
  'networking.k8s.io/v1': networking,
  'policy/v1': policy,
  'rbac.authorization.k8s.io/v1': rbac,
  'admissionregistration.k8s.io/v1': admissionregistration,
  'keda.sh/v1alpha1': keda,
  'monitoring.coreos.com/v1': monitoring,
};

/**
 * Validates one manifest against its Kubernetes (kubernetes-models 5.1.0) or KEDA schema; throws an
 * Error naming the object and every violation. The schemas check types, required fields, enums and
 * formats; like `kubectl --validate=false` they do not reject unknown fields.
 */
export function validateManifest(obj: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): void {
  const id = `${obj.apiVersion ?? '?'} ${obj.kind ?? '?'} "${obj.metadata?.name ?? '?'}"`;
  const Cls = MODELS[obj.apiVersion ?? '']?.[obj.kind ?? ''] as ModelClass | undefined;
  if (typeof Cls !== 'function') throw new Error(`${id}: no schema for this apiVersion/kind`);
  try {
    new Cls(obj).validate();
  } catch (err) {
    throw new Error(`${id}: ${(err as Error).message}`);
  }
}
