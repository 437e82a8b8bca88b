{{/* Name of the release's objects: <release> or <release>-watershed. */}}
{{- define "watershed.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object; (dict "root" $ "name" <service or "">). */}}
{{- define "watershed.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: watershed
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "watershed.selectorLabels" . }}
{{- end -}}

{{/* Selector labels; (dict "root" $ "name" <service>). */}}
{{- define "watershed.selectorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .name }}
app.kubernetes.io/name: {{ .name }}
{{- end }}
{{- end -}}

{{/* A secretKeyRef env entry; (dict "env" NAME "secret" SECRET "key" KEY). */}}
{{- define "watershed.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* NetworkPolicy egress rule to peers on TCP ports; (dict "peer" <values block>). Empty peers render nothing (an empty "to" would mean everywhere). */}}
{{- define "watershed.egressRule" -}}
{{- if .peer.to -}}
- to:
    {{- toYaml .peer.to | nindent 4 }}
  ports:
    {{- range .peer.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* watershed.durationMs: a duration such as 168h, 30m or 45s in milliseconds. */}}
{{- define "watershed.durationMs" -}}
{{- $s := toString . -}}
{{- if hasSuffix "h" $s -}}{{- mul (trimSuffix "h" $s | int64) 3600000 -}}
{{- else if hasSuffix "m" $s -}}{{- mul (trimSuffix "m" $s | int64) 60000 -}}
{{- else if hasSuffix "s" $s -}}{{- mul (trimSuffix "s" $s | int64) 1000 -}}
{{- else -}}{{- fail (printf "%q is not a duration in whole hours, minutes or seconds (e.g. 168h)" $s) -}}
{{- end -}}
{{- end -}}
