{{- define "kubefort.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubefort.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubefort.labels" -}}
{{ include "kubefort.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubefort.serviceAccountName" -}}
{{- default (include "kubefort.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "kubefort.image" -}}
{{- $img := .Values.image -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" (toString $img.digest)) -}}
{{- fail "image.digest must be sha256:<64 hex digits>: the scanner image is pinned by digest" -}}
{{- end -}}
{{- if $img.tag -}}
{{- printf "%s:%s@%s" $img.repository (toString $img.tag) $img.digest -}}
{{- else -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- end -}}
{{- end -}}

{{/* The --skip-resources list: built-in types no check reads, the user's additions, Secrets and
     ConfigMaps unless enabled. */}}
{{- define "kubefort.skipResources" -}}
{{- $skip := list -}}
{{- if not .Values.scan.secretMetadata -}}{{- $skip = append $skip "secrets" -}}{{- end -}}
{{- if not .Values.scan.configMaps -}}{{- $skip = append $skip "configmaps" -}}{{- end -}}
{{- $skip = concat $skip .Values.scan.skipResources .Values.scan.extraSkipResources -}}
{{- join "," (uniq $skip) -}}
{{- end -}}

{{- define "kubefort.metricsClaim" -}}
{{- if .Values.prometheus.persistence.existingClaim -}}
{{- .Values.prometheus.persistence.existingClaim -}}
{{- else if .Values.prometheus.persistence.create -}}
{{- printf "%s-metrics" (include "kubefort.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "kubefort.webhookName" -}}
{{- printf "%s-webhook" (include "kubefort.fullname" .) -}}
{{- end -}}

{{- define "kubefort.webhookSelectorLabels" -}}
{{ include "kubefort.selectorLabels" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "kubefort.webhookTLSSecret" -}}
{{- if .Values.webhook.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "kubefort.webhookName" .) -}}
{{- else -}}
{{- required "webhook.tls.secretName is required without cert-manager (webhook.tls.certManager.enabled=false)" .Values.webhook.tls.secretName -}}
{{- end -}}
{{- end -}}
