{{/* Egress of the services and their Jobs: DNS, Kafka, the database, the OTLP collector. */}}
{{- define "reintegra.peer" -}}
{{- $ns := .peer.namespace | default .root.Release.Namespace -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ $ns }}
  {{- with .peer.podLabels }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end -}}

{{- define "reintegra.egressRules" -}}
{{- $np := .Values.networkPolicy -}}
- to:
    {{- include "reintegra.peer" (dict "root" . "peer" $np.dns) | nindent 4 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- to:
    {{- include "reintegra.peer" (dict "root" . "peer" $np.kafka) | nindent 4 }}
  ports:
    {{- range $np.kafka.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- if or $np.database.cidrs $np.database.namespace $np.database.podLabels }}
- to:
    {{- range $np.database.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- if or $np.database.namespace $np.database.podLabels }}
    {{- include "reintegra.peer" (dict "root" . "peer" $np.database) | nindent 4 }}
    {{- end }}
  ports:
    - {port: {{ $np.database.port }}, protocol: TCP}
{{- end }}
{{- if or $np.otlp.namespace $np.otlp.podLabels }}
- to:
    {{- include "reintegra.peer" (dict "root" . "peer" $np.otlp) | nindent 4 }}
  ports:
    {{- range $np.otlp.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end }}
{{- end -}}
