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
{{- end -}}

{{/* Service names in a stable order (maps render sorted; this keeps the documented order). */}}
{{- define "tessera.serviceNames" -}}
gateway slicer resampler decoder retrieval feedback
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
{{- if and (eq $mode "auto") .meta.stream -}}
{{- if .root.Capabilities.APIVersions.Has "keda.sh/v1alpha1" -}}keda{{- else -}}hpa{{- end -}}
{{- else if and (eq $mode "keda") .meta.stream -}}keda
{{- else -}}hpa
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Seconds of startup budget on the cold path: the sum of startupMaxSeconds of each enabled GPU
     stage whose autoscaler may take it to zero replicas (KEDA minReplicas 0). */}}
{{- define "tessera.coldPathSeconds" -}}
{{- $root := . -}}
{{- $catalog := include "tessera.catalog" . | fromYaml -}}
{{- $total := 0 -}}
{{- range $name := list "slicer" "resampler" "decoder" -}}
{{- $svc := index $root.Values.services $name -}}
{{- if and $svc.enabled (eq (include "tessera.autoscaler" (dict "root" $root "name" $name "svc" $svc "meta" (index $catalog $name) "gpu" true)) "keda") (eq (int $svc.autoscaling.minReplicas) 0) -}}
{{- $total = add $total $svc.probes.startupMaxSeconds -}}
{{- end -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* The gateway's request deadline: services.gateway.requestTimeoutSeconds, raised to cover a cold path. */}}
{{- define "tessera.gatewayDeadlineSeconds" -}}
{{- $cold := int (include "tessera.coldPathSeconds" .) -}}
{{- $base := int .Values.services.gateway.requestTimeoutSeconds -}}
{{- if gt $cold 0 -}}{{- max $base (add $cold 60) -}}{{- else -}}{{- $base -}}{{- end -}}
{{- end -}}
