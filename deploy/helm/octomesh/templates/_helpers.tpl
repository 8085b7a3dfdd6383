{{/* Names: the release's name, with "octomesh" unless the release already says it. */}}
{{- define "octomesh.fullname" -}}
{{- if contains "octomesh" .Release.Name -}}
{{- .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-octomesh" .Release.Name | trunc 55 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selectors name a component: the gateway's must not match the Redis pods of the same release. */}}
{{- define "octomesh.selectorLabels" -}}
app.kubernetes.io/name: octomesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}
{{- define "octomesh.redisSelectorLabels" -}}
app.kubernetes.io/name: octomesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "octomesh.commonLabels" -}}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "octomesh.labels" -}}
{{ include "octomesh.selectorLabels" . }}
{{ include "octomesh.commonLabels" . }}
{{- end -}}
{{- define "octomesh.redisLabels" -}}
{{ include "octomesh.redisSelectorLabels" . }}
{{ include "octomesh.commonLabels" . }}
{{- end -}}

{{/*
Redis's password when the chart makes the Secret: secrets.REDIS_PASSWORD if given, else the one in the cluster's Secret,
else a new random one, decided once per rendering (kept in .Values.secrets, so the Secret and the checksums agree).
*/}}
{{- define "octomesh.ensureRedisPassword" -}}
{{- if and .Values.redis.enabled (not .Values.existingSecret) (not (hasKey .Values.secrets "REDIS_PASSWORD")) -}}
{{- $password := randAlphaNum 32 -}}
{{- with lookup "v1" "Secret" .Release.Namespace (include "octomesh.fullname" .) -}}
{{- with .data -}}{{- with .REDIS_PASSWORD -}}{{- $password = b64dec . -}}{{- end -}}{{- end -}}
{{- end -}}
{{- $_ := set .Values.secrets "REDIS_PASSWORD" $password -}}
{{- end -}}
{{- end -}}

{{/* Pods that read the Secret roll when what the chart puts in it changes (Redis's password included). */}}
{{- define "octomesh.secretChecksum" -}}
{{- include "octomesh.ensureRedisPassword" . -}}
{{- printf "%s %s" .Values.existingSecret (toJson .Values.secrets) | sha256sum -}}
{{- end -}}

{{- define "octomesh.secretName" -}}
{{- .Values.existingSecret | default (include "octomesh.fullname" .) -}}
{{- end -}}

{{/* The drain: shutdown.delayMs and shutdown.timeoutMs as the gateway reads them (its defaults: 0 and 30000). */}}
{{- define "octomesh.delayMs" -}}
{{- (default (dict) .Values.config.shutdown).delayMs | default 0 | int -}}
{{- end -}}
{{- define "octomesh.drainMs" -}}
{{- $shutdown := default (dict) .Values.config.shutdown -}}
{{- add ($shutdown.delayMs | default 0 | int) ($shutdown.timeoutMs | default 30000 | int) -}}
{{- end -}}

{{/*
The gateway's configuration: the user's, with what the chart owns set over it (the listen URL, the data
directories on the volume, and with redis.enabled the shared tier's addresses).
*/}}
{{- define "octomesh.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "urls" (list (printf "http://0.0.0.0:%d" (int .Values.port))) -}}
{{- $_ = set $config "trace" (set (default (dict) $config.trace) "directory" "/data/trace") -}}
{{- $_ = set $config "tenancy" (set (default (dict) $config.tenancy) "directory" "/data/tenancy") -}}
{{- if .Values.redis.enabled -}}
{{- $address := printf "%s-redis:6379" (include "octomesh.fullname" .) -}}
{{- $_ = set $config "redis" (mergeOverwrite (default (dict) $config.redis) (dict "connection" $address "password" "${REDIS_PASSWORD}")) -}}
{{- end -}}
{{- toPrettyJson $config -}}
{{- end -}}
