{{/* Chart name, truncated to the 63-character DNS label limit. */}}
{{- define "tessera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource-name prefix: <release>-tessera, or <release> when it already says tessera. */}}
{{- define "tessera.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The fixed facts about each service that values do not change: which are GPU model stages, and the
JetStream work stream and durable consumer each stage pulls from (CONTRIBUTING.md "Shared names").
*/}}
{{- define "tessera.catalog" -}}
gateway: { gpu: false, stream: "", consumer: "", model: false }
slicer: { gpu: true, stream: TESSERA_SLICER, consumer: slicer-workers, model: true }
resampler: { gpu: true, stream: TESSERA_RESAMPLER, consumer: resampler-workers, model: true }
decoder: { gpu: true, stream: TESSERA_DECODER, consumer: decoder-workers, model: true }
retrieval: { gpu: false, stream: "", consumer: "", model: false }
feedback: { gpu: false, stream: "", consumer: "", model: false }
combined: { gpu: true, stream: "", consumer: "", model: true, combined: true }
{{- end -}}

{{/* Service names in a stable order (maps render sorted; this keeps the documented order). */}}
{{- define "tessera.serviceNames" -}}
gateway slicer resampler decoder retrieval feedback
{{- end -}}

{{/* Every workload that may get a Deployment: the services, then the combined GPU pod (combined.*). */}}
{{- define "tessera.workloadNames" -}}
{{ include "tessera.serviceNames" . }} combined
{{- end -}}

{{/* The enabled stages that run inside the combined pod, comma-separated in start order ("" when combined.enabled is false). */}}
{{- define "tessera.combinedStages" -}}
{{- $root := . -}}
{{- if .Values.combined.enabled -}}
{{- $out := list -}}
{{- range $s := .Values.combined.stages -}}{{- if (index $root.Values.services $s).enabled -}}{{- $out = append $out $s -}}{{- end -}}{{- end -}}
{{- join "," $out -}}
{{- end -}}
{{- end -}}

{{/* "true" when a workload gets its own objects (Deployment, Service, PDB, autoscaler, policy): an enabled
     service that does not run inside the combined pod, or the combined pod itself. Call with (dict "root" $ "name" $name). */}}
{{- define "tessera.ownsPod" -}}
{{- $members := splitList "," (include "tessera.combinedStages" .root) -}}
{{- if eq .name "combined" -}}
{{- if and .root.Values.combined.enabled (include "tessera.combinedStages" .root) -}}true{{- end -}}
{{- else if and (index .root.Values.services .name).enabled (not (has .name $members)) -}}true
{{- end -}}
{{- end -}}

{{/* Extended GPU resource of a workload: its gpuResourceName, else gpu.resourceName. */}}
{{- define "tessera.gpuResource" -}}
{{- .svc.gpuResourceName | default .root.Values.gpu.resourceName -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "tessera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "tessera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tessera
{{- end -}}

{{/* Selector labels of one service; call with (dict "root" $ "name" "decoder"). */}}
{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tessera.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Release-wide selector (every Tessera pod of this release). */}}
{{- define "tessera.releaseSelector" -}}
app.kubernetes.io/name: {{ include "tessera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tessera.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tessera.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* NATS_URL: NATS is a prerequisite outside the release (externalNats.url). */}}
{{- define "tessera.natsUrl" -}}
{{- required "externalNats.url is required (e.g. nats://nats.messaging:4222)" .Values.externalNats.url -}}
{{- end -}}

{{/* host:port of the NATS monitoring endpoint (KEDA's natsServerMonitoringEndpoint, `tessera ctl`). */}}
{{- define "tessera.natsMonitoringEndpoint" -}}
{{- required "externalNats.monitoringEndpoint is required (host:port of the 8222 monitoring port)" .Values.externalNats.monitoringEndpoint -}}
{{- end -}}

{{/* Image of one service; call with (dict "root" $ "name" "decoder" "svc" $svc "gpu" true). */}}
{{- define "tessera.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- $suffix := "" -}}
{{- if and .gpu (eq .root.Values.executionProvider "cuda") -}}{{- $suffix = .root.Values.image.cudaSuffix -}}{{- end -}}
{{- printf "%s/%s:%s%s" .root.Values.image.registry .svc.image.repository $tag $suffix -}}
{{- end -}}

{{/* Whether this service runs on the GPU pool: a GPU stage while executionProvider is cuda. */}}
{{- define "tessera.onGpu" -}}
{{- if and .meta.gpu (eq .root.Values.executionProvider "cuda") -}}true{{- end -}}
{{- end -}}

{{/*
Autoscaler kind for one service: "keda", "hpa" or "" (none). "auto" picks KEDA when the API server
serves keda.sh/v1alpha1 (helm template: pass --api-versions keda.sh/v1alpha1), otherwise an HPA.
*/}}
{{- define "tessera.autoscaler" -}}
{{- $a := .svc.autoscaling | default dict -}}
{{- if $a.enabled -}}
{{- $mode := $a.mode | default "hpa" -}}
{{- if and (eq $mode "auto") (or .meta.stream .meta.combined) -}}
{{- if .root.Capabilities.APIVersions.Has "keda.sh/v1alpha1" -}}keda{{- else -}}hpa{{- end -}}
{{- else if and (eq $mode "keda") (or .meta.stream .meta.combined) -}}keda
{{- else -}}hpa
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The values block of a workload: .Values.combined for the combined pod, .Values.services.<name> for a
service. Every template that ranges over workloads reads its settings through this one helper:
  {{- $svc := include "tessera.serviceValues" (dict "root" $root "name" $name) | fromYaml -}}
*/}}
{{- define "tessera.serviceValues" -}}
{{- ternary .root.Values.combined (index .root.Values.services .name) (eq .name "combined") | toYaml -}}
{{- end -}}

{{/* Seconds of startup budget on the cold path: the sum of startupMaxSeconds of each GPU workload (a
     stage, or the combined pod) whose autoscaler may take it to zero replicas (KEDA minReplicas 0). */}}
{{- define "tessera.coldPathSeconds" -}}
{{- $root := . -}}
{{- $catalog := include "tessera.catalog" . | fromYaml -}}
{{- $total := 0 -}}
{{- range $name := list "slicer" "resampler" "decoder" "combined" -}}
{{- $svc := include "tessera.serviceValues" (dict "root" $root "name" $name) | fromYaml -}}
{{- if and (include "tessera.ownsPod" (dict "root" $root "name" $name)) (eq (include "tessera.autoscaler" (dict "root" $root "name" $name "svc" $svc "meta" (index $catalog $name) "gpu" true)) "keda") (eq (int $svc.autoscaling.minReplicas) 0) -}}
{{- $total = add $total (include "tessera.startupSeconds" (dict "root" $root "name" $name)) -}}
{{- end -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* Startup budget of a workload in seconds: probes.startupMaxSeconds; for the combined pod with 0 there,
     the sum of its stages' budgets (the stages load one after another in one process). */}}
{{- define "tessera.startupSeconds" -}}
{{- $root := .root -}}
{{- if eq .name "combined" -}}
{{- $own := int $root.Values.combined.probes.startupMaxSeconds -}}
{{- if gt $own 0 -}}{{- $own -}}{{- else -}}
{{- $sum := 0 -}}
{{- range $s := splitList "," (include "tessera.combinedStages" $root) -}}{{- $sum = add $sum (index $root.Values.services $s).probes.startupMaxSeconds -}}{{- end -}}
{{- $sum -}}
{{- end -}}
{{- else -}}
{{- int (index $root.Values.services .name).probes.startupMaxSeconds -}}
{{- end -}}
{{- end -}}

{{/* The gateway's request deadline: services.gateway.requestTimeoutSeconds, raised to cover a cold path. */}}
{{- define "tessera.gatewayDeadlineSeconds" -}}
{{- $cold := int (include "tessera.coldPathSeconds" .) -}}
{{- $base := int .Values.services.gateway.requestTimeoutSeconds -}}
{{- if gt $cold 0 -}}{{- max $base (add $cold 60) -}}{{- else -}}{{- $base -}}{{- end -}}
{{- end -}}

{{/*
The environment one stage needs beyond the shared ConfigMap: its gRPC port, concurrency, shutdown
grace, ORT threads and NATS login. `prefix` is "" for a stage in its own pod and "<STAGE>__" for a
stage inside the combined pod (services/combined reads it as that stage's variable).
Call with (dict "root" $ "name" "decoder" "svc" $svc "prefix" "" "model" true).
*/}}
{{- define "tessera.stageEnv" -}}
- name: {{ .prefix }}TESSERA_GRPC_PORT
  value: {{ .svc.grpcPort | quote }}
- name: {{ .prefix }}TESSERA_MAX_CONCURRENCY
  value: {{ .svc.maxConcurrency | quote }}
- name: {{ .prefix }}TESSERA_SHUTDOWN_GRACE
  value: {{ printf "%ds" (int .svc.shutdownGraceSeconds) | quote }}
{{- /* 0 = unset: the services take 1 thread (their config refuses 0; bench/model measured 1 best on shared CPUs). */}}
{{- if and .model (gt (int .svc.intraOpThreads) 0) }}
- name: {{ .prefix }}TESSERA_INTRA_OP_THREADS
  value: {{ .svc.intraOpThreads | quote }}
{{- end }}
{{- if and (eq .name "decoder") (eq .root.Values.edge.role "hub") }}
# Hub: sites that orchestrate a hub model themselves (site config route "stages") call the decoder on
# its model's site subjects, tessera.hubmodel.<revision>.> (docs/edge.md "Routing").
- name: {{ .prefix }}TESSERA_DECODER_SITE_ACCESS
  value: "true"
{{- end }}
{{- with .root.Values.externalNats.credentialsSecret }}
# Each service logs in as its own NATS user; the server's permissions keep it to its own subjects.
- name: {{ $.prefix }}NATS_USER
  valueFrom: { secretKeyRef: { name: {{ . | quote }}, key: {{ printf "%s-user" $.name | quote }} } }
- name: {{ $.prefix }}NATS_PASSWORD
  valueFrom: { secretKeyRef: { name: {{ . | quote }}, key: {{ printf "%s-password" $.name | quote }} } }
{{- end }}
{{- end -}}
