{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "reintegra.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>"; call with (dict "root" $ "name" $name) */}}
{{- define "reintegra.componentName" -}}
{{- printf "%s-%s" (include "reintegra.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "reintegra.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: reintegra
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "name" $name) */}}
{{- define "reintegra.componentLabels" -}}
{{ include "reintegra.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "reintegra.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "reintegra.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* A component's settings: its own keys over .Values.defaults; call with (dict "root" $ "name" $name) */}}
{{- define "reintegra.component" -}}
{{- $c := get .root.Values.components .name -}}
{{- toYaml (mustMergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $c)) -}}
{{- end -}}

{{/* Kafka names ------------------------------------------------------------------------------ */}}

{{/* Physical name of a logical topic/group/user: the topic prefix applied. */}}
{{- define "reintegra.physical" -}}
{{- printf "%s%s" .root.Values.topicPrefix .name -}}
{{- end -}}

{{/* Kubernetes resource name for a Kafka name (lower case, no underscores, at most 253 characters). */}}
{{- define "reintegra.kafkaResourceName" -}}
{{- . | lower | replace "_" "-" | trunc 253 | trimSuffix "." | trimSuffix "-" -}}
{{- end -}}

{{- define "reintegra.consumerGroup" -}}
{{- include "reintegra.physical" (dict "root" .root "name" (printf "reintegra-%s" .name)) -}}
{{- end -}}

{{- define "reintegra.kafkaUser" -}}
{{- include "reintegra.kafkaResourceName" (include "reintegra.physical" (dict "root" .root "name" (printf "reintegra-%s" .name))) -}}
{{- end -}}

{{- define "reintegra.kafkaNamespace" -}}
{{- .Values.kafka.strimzi.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* Settings as environment ----------------------------------------------------------------- */}}

{{/* REINTEGRA_<KEY IN UPPER SNAKE CASE> of a camelCase settings key. */}}
{{- define "reintegra.envName" -}}
{{- printf "REINTEGRA_%s" (snakecase . | upper) -}}
{{- end -}}

{{/* A value as an environment string: whole numbers without exponent, lists and maps as JSON (as
     pydantic-settings reads them), everything else as printed. */}}
{{- define "reintegra.envValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) -}}
{{- int64 . -}}
{{- else if or (kindIs "slice" .) (kindIs "map" .) -}}
{{- toJson . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* The env list of a component's containers; call with (dict "root" $ "name" $name "component" $c).
     Derived: service name, bootstrap servers, consumer group, topic prefix (and Kafka credentials of
     the Strimzi user). Plain settings: config merged with the component's config. Secret settings:
     secretConfig merged with the component's secretConfig, as secretKeyRef only. */}}
{{- define "reintegra.env" -}}
{{- $root := .root -}}
{{- $c := .component -}}
{{- $config := mustMergeOverwrite (deepCopy $root.Values.config) (deepCopy ($c.config | default dict)) -}}
{{- if $root.Values.kafka.strimzi.enabled -}}
{{- $_ := set $config "createTopics" false -}}
{{- end -}}
{{- $secrets := mustMergeOverwrite (deepCopy $root.Values.secretConfig) (deepCopy ($c.secretConfig | default dict)) -}}
- name: REINTEGRA_SERVICE
  value: {{ .name | quote }}
- name: REINTEGRA_SERVICE_NAME
  value: {{ .name | quote }}
- name: REINTEGRA_KAFKA_BOOTSTRAP_SERVERS
  value: {{ $root.Values.kafka.bootstrapServers | quote }}
- name: REINTEGRA_CONSUMER_GROUP
  value: {{ include "reintegra.consumerGroup" . | quote }}
- name: REINTEGRA_TOPIC_PREFIX
  value: {{ $root.Values.topicPrefix | quote }}
{{- if and $root.Values.kafka.strimzi.enabled $root.Values.kafka.strimzi.users.enabled (not (hasKey $secrets "kafkaUsername")) }}
- name: REINTEGRA_KAFKA_USERNAME
  value: {{ include "reintegra.kafkaUser" . | quote }}
- name: REINTEGRA_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "reintegra.kafkaUser" . }}
      key: password
{{- end }}
{{- range $key := keys $config | sortAlpha }}
{{- $value := get $config $key }}
{{- if not (or (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value ""))) }}
- name: {{ include "reintegra.envName" $key }}
  value: {{ include "reintegra.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- range $key := keys $secrets | sortAlpha }}
{{- $ref := get $secrets $key }}
{{- if and $ref $ref.existingSecret }}
- name: {{ include "reintegra.envName" $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.existingSecret }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Whether a component has its own database (a databaseUrl secret): "true" or "". */}}
{{- define "reintegra.hasDatabase" -}}
{{- $secrets := mustMergeOverwrite (deepCopy .root.Values.secretConfig) (deepCopy (.component.secretConfig | default dict)) -}}
{{- $ref := get $secrets "databaseUrl" -}}
{{- if and $ref $ref.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Pod-level bits shared by Deployment, Job and CronJob pods. */}}
{{- define "reintegra.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "reintegra.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}
