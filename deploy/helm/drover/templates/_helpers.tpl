{{/* The name of every object: the release name, or release-chart. */}}
{{- define "drover.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "drover.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "drover.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "drover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
drover.validate fails the render on values the server cannot run with, with
a message saying what to change.
*/}}
{{- define "drover.validate" -}}
{{- $url := required "serverURL is required: the external https URL agents and kubeconfigs use, e.g. --set serverURL=https://drover.example.com" .Values.serverURL -}}
{{- if not (regexMatch "^https://[^/?#@]+/?$" $url) -}}
{{- fail (printf "serverURL %q must be an https URL with no path, query or credentials" $url) -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.database.existingSecret) -}}
{{- fail (printf "replicas is %d, but without database.existingSecret the store is SQLite on a ReadWriteOnce volume, which only one server pod may use: set replicas to 1, or give the replicas a PostgreSQL database" (int .Values.replicas)) -}}
{{- end -}}
{{- if and .Values.database.existingSecret (not .Values.secretsKey.existingSecret) -}}
{{- fail "database.existingSecret is set but secretsKey.existingSecret is not: every replica must have the same secrets key (a Secret with the base64 of 32 random bytes)" -}}
{{- end -}}
{{- if lt (int .Values.replicas) 0 -}}
{{- fail "replicas must not be negative" -}}
{{- end -}}
{{- end -}}

{{/* The serving certificate's extra SANs: the Service's in-cluster names. */}}
{{- define "drover.hostnames" -}}
{{- $name := include "drover.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $names := list $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.%s" $name $ns .Values.clusterDomain) -}}
{{- concat $names .Values.hostnames | uniq | join "," -}}
{{- end -}}
