{{/*
Chart name, truncated to 63 characters (the DNS label limit of many name fields).
*/}}
{{- define "runledger.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name, truncated to 63 characters. A release name that already
contains the chart name is used as it is.
*/}}
{{- define "runledger.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<fullname>-<suffix>" within 63 characters: the fullname is shortened, never the
suffix, so "-postgres" and "-graph" names stay distinct however long the release.
Usage: include "runledger.suffixedName" (list $ "postgres")
*/}}
{{- define "runledger.suffixedName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- $base := include "runledger.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base $suffix }}
{{- end }}

{{- define "runledger.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runledger.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runledger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "runledger.labels" -}}
helm.sh/chart: {{ include "runledger.chart" . }}
{{ include "runledger.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels of one consumer Deployment ("unit"), see runledger.units.
Usage: include "runledger.unitSelectorLabels" (dict "ctx" $ "unit" $unit)
*/}}
{{- define "runledger.unitSelectorLabels" -}}
{{ include "runledger.selectorLabels" .ctx }}
app.kubernetes.io/component: consumer
runledger/unit: {{ .unit.key }}
{{- end }}

{{- define "runledger.unitLabels" -}}
{{ include "runledger.labels" .ctx }}
app.kubernetes.io/component: consumer
runledger/unit: {{ .unit.key }}
{{- end }}

{{/*
Annotations every resource carries, as a YAML map (may be empty).
Usage: include "runledger.annotations" (list $ .Values.some.annotations)
*/}}
{{- define "runledger.annotations" -}}
{{- $ctx := index . 0 }}
{{- $extra := index . 1 | default dict }}
{{- $all := merge (deepCopy $extra) (deepCopy ($ctx.Values.commonAnnotations | default dict)) }}
{{- if $all }}
{{- toYaml $all }}
{{- end }}
{{- end }}

{{/*
The enabled sinks, in a fixed order.
*/}}
{{- define "runledger.enabledSinks" -}}
{{- $enabled := list }}
{{- range $sink := list "postgres" "graph" }}
{{- if (index $.Values.sinks $sink).enabled }}
{{- $enabled = append $enabled $sink }}
{{- end }}
{{- end }}
{{- toJson $enabled }}
{{- end }}

{{/*
The consumer Deployments ("units") to render, as JSON {"units": [...]}:
one per enabled sink in perSink mode, one for all enabled sinks in combined
mode. Each unit: key (label value), name, sinks, replicaCount, resources.
Usage: range $unit := (include "runledger.units" . | fromJson).units
*/}}
{{- define "runledger.units" -}}
{{- $enabled := include "runledger.enabledSinks" . | fromJsonArray }}
{{- $units := list }}
{{- if eq .Values.deployment.mode "combined" }}
{{- if $enabled }}
{{- $units = append $units (dict "key" "combined" "name" (include "runledger.fullname" .) "sinks" $enabled "replicaCount" .Values.deployment.replicaCount "resources" .Values.deployment.resources) }}
{{- end }}
{{- else }}
{{- range $sink := $enabled }}
{{- $settings := index $.Values.sinks $sink }}
{{- $units = append $units (dict "key" $sink "name" (include "runledger.suffixedName" (list $ $sink)) "sinks" (list $sink) "replicaCount" $settings.replicaCount "resources" ($settings.resources | default $.Values.deployment.resources)) }}
{{- end }}
{{- end }}
{{- toJson (dict "units" $units) }}
{{- end }}

{{/*
Consumer group of a sink: "<prefix>-<sink>", as the application derives it.
Usage: include "runledger.consumerGroup" (list $ "postgres")
*/}}
{{- define "runledger.consumerGroup" -}}
{{- $ctx := index . 0 }}
{{- printf "%s-%s" $ctx.Values.kafka.groupIdPrefix (index . 1) }}
{{- end }}

{{/*
"<registry>/<repository>": global.imageRegistry wins over the image's own registry;
with neither, the repository is used as it is (it may name its registry itself).
Usage: include "runledger.imageName" (list $ .Values.image)
*/}}
{{- define "runledger.imageName" -}}
{{- $ctx := index . 0 }}
{{- $image := index . 1 }}
{{- $registry := (($ctx.Values.global | default dict).imageRegistry) | default $image.registry }}
{{- if $registry }}
{{- printf "%s/%s" (trimSuffix "/" $registry) $image.repository }}
{{- else }}
{{- $image.repository }}
{{- end }}
{{- end }}

{{- define "runledger.image" -}}
{{- $name := include "runledger.imageName" (list . .Values.image) }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $name .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $name (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "runledger.testImage" -}}
{{- printf "%s:%s" (include "runledger.imageName" (list . .Values.tests.image)) .Values.tests.image.tag }}
{{- end }}

{{/*
imagePullSecrets of every pod: global.imagePullSecrets (names or {name}) then
imagePullSecrets, each name once. Empty renders nothing.
*/}}
{{- define "runledger.imagePullSecrets" -}}
{{- $names := list }}
{{- range $secret := concat (($.Values.global | default dict).imagePullSecrets | default list) ($.Values.imagePullSecrets | default list) }}
{{- $name := "" }}
{{- if kindIs "string" $secret }}{{ $name = $secret }}{{ else }}{{ $name = $secret.name }}{{ end }}
{{- if and $name (not (has $name $names)) }}
{{- $names = append $names $name }}
{{- end }}
{{- end }}
{{- if $names }}
imagePullSecrets:
{{- range $names }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Affinity of one consumer Deployment: deployment.affinity when set, else the
pod anti-affinity preset ("soft" by default) spreading its pods over nodes.
Usage: include "runledger.affinity" (dict "ctx" $ "unit" $unit)
*/}}
{{- define "runledger.affinity" -}}
{{- $values := .ctx.Values.deployment }}
{{- if $values.affinity }}
{{- toYaml $values.affinity }}
{{- else if eq $values.podAntiAffinityPreset "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "runledger.unitSelectorLabels" . | nindent 12 }}
{{- else if eq $values.podAntiAffinityPreset "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "runledger.unitSelectorLabels" . | nindent 10 }}
{{- end }}
{{- end }}

{{/*
Topology spread constraints of one consumer Deployment; a constraint without a
labelSelector gets the Deployment's own pod selector.
*/}}
{{- define "runledger.topologySpreadConstraints" -}}
{{- $selector := include "runledger.unitSelectorLabels" . | fromYaml }}
{{- $constraints := list }}
{{- range $constraint := .ctx.Values.deployment.topologySpreadConstraints }}
{{- $constraints = append $constraints (merge (deepCopy $constraint) (dict "labelSelector" (dict "matchLabels" $selector))) }}
{{- end }}
{{- if $constraints }}
{{- toYaml $constraints }}
{{- end }}
{{- end }}

{{- define "runledger.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "runledger.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Grace period: longer than the application's own shutdown timeout, so a pod
finishes its batch and commits before Kubernetes sends SIGKILL.
*/}}
{{- define "runledger.terminationGracePeriodSeconds" -}}
{{- $explicit := .Values.deployment.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $explicit }}
{{- add .Values.config.shutdownTimeoutSeconds 10 }}
{{- else }}
{{- $explicit }}
{{- end }}
{{- end }}

{{/* Highest replica count an autoscaler may reach: never above the partitions. */}}
{{- define "runledger.kedaMaxReplicas" -}}
{{- min .Values.autoscaling.keda.maxReplicaCount .Values.kafka.partitions }}
{{- end }}

{{- define "runledger.hpaMaxReplicas" -}}
{{- min .Values.autoscaling.hpa.maxReplicas .Values.kafka.partitions }}
{{- end }}

{{/* An IntOrString value: numbers bare, percentages quoted. */}}
{{- define "runledger.intOrString" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ . | int }}{{ end }}
{{- end }}

{{/* Kafka security, derived from kafka.securityProtocol. */}}
{{- define "runledger.kafka.sasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{/* SASL with a user name and password (client id and secret for OAUTHBEARER); not AWS_MSK_IAM. */}}
{{- define "runledger.kafka.saslCredentials" -}}
{{- if and (include "runledger.kafka.sasl" .) (ne .Values.kafka.sasl.mechanism "AWS_MSK_IAM") }}true{{ end }}
{{- end }}

{{- define "runledger.kafka.oauth" -}}
{{- if and (include "runledger.kafka.sasl" .) (eq .Values.kafka.sasl.mechanism "OAUTHBEARER") }}true{{ end }}
{{- end }}

{{/* Whether KEDA's scaler needs a TriggerAuthentication at all. */}}
{{- define "runledger.keda.needsAuth" -}}
{{- if or (include "runledger.kafka.sasl" .) (include "runledger.kafka.tlsMounted" .) }}true{{ end }}
{{- end }}

{{- define "runledger.kafka.mskIam" -}}
{{- if and (include "runledger.kafka.sasl" .) (eq .Values.kafka.sasl.mechanism "AWS_MSK_IAM") }}true{{ end }}
{{- end }}

{{- define "runledger.kafka.tls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end }}
{{- end }}

{{- define "runledger.kafka.tlsMounted" -}}
{{- if and (include "runledger.kafka.tls" .) .Values.kafka.tls.existingSecret }}true{{ end }}
{{- end }}

{{- define "runledger.kafka.saslSecretName" -}}
{{- .Values.kafka.sasl.existingSecret | default (include "runledger.fullname" .) }}
{{- end }}

{{- define "runledger.kafka.saslUsernameKey" -}}
{{- if .Values.kafka.sasl.existingSecret }}{{ .Values.kafka.sasl.existingSecretUsernameKey }}{{ else }}kafka-sasl-username{{ end }}
{{- end }}

{{- define "runledger.kafka.saslPasswordKey" -}}
{{- if .Values.kafka.sasl.existingSecret }}{{ .Values.kafka.sasl.existingSecretPasswordKey }}{{ else }}kafka-sasl-password{{ end }}
{{- end }}

{{/*
Where a sink's password comes from, as JSON {"name": secret, "key": key}, or
{} when there is no password to pass (e.g. trust authentication).
Usage: include "runledger.passwordRef" (list $ "postgres")
*/}}
{{- define "runledger.passwordRef" -}}
{{- $ctx := index . 0 }}
{{- $sink := index . 1 }}
{{- $auth := (index $ctx.Values $sink).auth }}
{{- if $auth.existingSecret }}
{{- toJson (dict "name" $auth.existingSecret "key" $auth.existingSecretPasswordKey) }}
{{- else if $auth.password }}
{{- toJson (dict "name" (include "runledger.fullname" $ctx) "key" (printf "%s-password" $sink)) }}
{{- else }}
{{- toJson dict }}
{{- end }}
{{- end }}

{{/*
Migration credentials. The Job runs before the release's own Secret exists, so
a chart-managed password is carried by a hook Secret ("<fullname>-migration").
Returns JSON {"username": .., "secret": {"name", "key"} or {}}.
*/}}
{{- define "runledger.migration.credentials" -}}
{{- $own := .Values.migration.auth }}
{{- $hookSecret := include "runledger.suffixedName" (list . "migration") }}
{{- $username := "" }}
{{- $secret := dict }}
{{- if or $own.username $own.password $own.existingSecret }}
{{- $username = $own.username }}
{{- if $own.existingSecret }}
{{- $secret = dict "name" $own.existingSecret "key" $own.existingSecretPasswordKey }}
{{- else if $own.password }}
{{- $secret = dict "name" $hookSecret "key" "postgres-password" }}
{{- end }}
{{- else }}
{{- $consumer := .Values.postgres.auth }}
{{- $username = $consumer.username }}
{{- if $consumer.existingSecret }}
{{- $secret = dict "name" $consumer.existingSecret "key" $consumer.existingSecretPasswordKey }}
{{- else if $consumer.password }}
{{- $secret = dict "name" $hookSecret "key" "postgres-password" }}
{{- end }}
{{- end }}
{{- toJson (dict "username" $username "secret" $secret) }}
{{- end }}

{{/* The password the hook Secret carries (chart-managed passwords only). */}}
{{- define "runledger.migration.password" -}}
{{- $own := .Values.migration.auth }}
{{- if or $own.username $own.password $own.existingSecret }}
{{- if not $own.existingSecret }}{{ $own.password }}{{ end }}
{{- else if not .Values.postgres.auth.existingSecret }}
{{- .Values.postgres.auth.password }}
{{- end }}
{{- end }}

{{- define "runledger.migration.enabled" -}}
{{- if and .Values.migration.enabled .Values.sinks.postgres.enabled }}true{{ end }}
{{- end }}

{{/*
Checks the schema cannot express; a failure stops the install with a message
that names the value to fix.
*/}}
{{- define "runledger.validateValues" -}}
{{- if not (include "runledger.enabledSinks" . | fromJsonArray) }}
{{- fail "runledger: enable at least one sink (sinks.postgres.enabled or sinks.graph.enabled)" }}
{{- end }}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled }}
{{- fail "runledger: autoscaling.hpa and autoscaling.keda are exclusive (KEDA manages its own HPA)" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled .Values.metrics.podMonitor.enabled }}
{{- fail "runledger: enable metrics.serviceMonitor or metrics.podMonitor, not both (every pod would be scraped twice)" }}
{{- end }}
{{- if and .Values.autoscaling.hpa.enabled (gt (int .Values.autoscaling.hpa.minReplicas) (int (include "runledger.hpaMaxReplicas" .))) }}
{{- fail "runledger: autoscaling.hpa.minReplicas exceeds min(autoscaling.hpa.maxReplicas, kafka.partitions)" }}
{{- end }}
{{- if and .Values.autoscaling.hpa.enabled (kindIs "invalid" .Values.autoscaling.hpa.targetCPUUtilizationPercentage) (kindIs "invalid" .Values.autoscaling.hpa.targetMemoryUtilizationPercentage) }}
{{- fail "runledger: autoscaling.hpa needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" }}
{{- end }}
{{- if and .Values.autoscaling.keda.enabled (gt (int .Values.autoscaling.keda.minReplicaCount) (int (include "runledger.kedaMaxReplicas" .))) }}
{{- fail "runledger: autoscaling.keda.minReplicaCount exceeds min(autoscaling.keda.maxReplicaCount, kafka.partitions)" }}
{{- end }}
{{- $grace := include "runledger.terminationGracePeriodSeconds" . | int }}
{{- if le $grace (int .Values.config.shutdownTimeoutSeconds) }}
{{- fail (printf "runledger: deployment.terminationGracePeriodSeconds (%d) must exceed config.shutdownTimeoutSeconds (%d), or the pod is killed mid-commit" $grace (int .Values.config.shutdownTimeoutSeconds)) }}
{{- end }}
{{- if include "runledger.kafka.saslCredentials" . }}
{{- if not (or .Values.kafka.sasl.existingSecret (and .Values.kafka.sasl.username .Values.kafka.sasl.password)) }}
{{- fail (printf "runledger: kafka.sasl.mechanism %s needs kafka.sasl.username and kafka.sasl.password, or kafka.sasl.existingSecret" .Values.kafka.sasl.mechanism) }}
{{- end }}
{{- end }}
{{- if and (include "runledger.kafka.oauth" .) (not .Values.kafka.sasl.oauth.tokenUrl) }}
{{- fail "runledger: kafka.sasl.mechanism OAUTHBEARER needs kafka.sasl.oauth.tokenUrl (the identity provider's token endpoint)" }}
{{- end }}
{{- if include "runledger.kafka.mskIam" . }}
{{- if not .Values.kafka.aws.region }}
{{- fail "runledger: kafka.sasl.mechanism AWS_MSK_IAM needs kafka.aws.region" }}
{{- end }}
{{- if ne .Values.kafka.securityProtocol "SASL_SSL" }}
{{- fail "runledger: kafka.sasl.mechanism AWS_MSK_IAM needs kafka.securityProtocol SASL_SSL (MSK's IAM listener)" }}
{{- end }}
{{- end }}
{{- if ne (empty .Values.kafka.tls.certKey) (empty .Values.kafka.tls.keyKey) }}
{{- fail "runledger: set kafka.tls.certKey and kafka.tls.keyKey together (mutual TLS needs both)" }}
{{- end }}
{{- if and (include "runledger.kafka.tlsMounted" .) (not (or .Values.kafka.tls.caKey .Values.kafka.tls.certKey)) }}
{{- fail "runledger: kafka.tls.existingSecret is set but neither kafka.tls.caKey nor kafka.tls.certKey names a key to mount" }}
{{- end }}
{{- $inlinePassword := "^[a-zA-Z0-9+.-]+://[^/@:]*:[^/@]+@" }}
{{- range $url := list .Values.postgres.url .Values.migration.url }}
{{- if regexMatch $inlinePassword $url }}
{{- fail "runledger: remove the password from postgres.url / migration.url (it would land in a ConfigMap); use postgres.auth or migration.auth" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The TCP port of a URL ("scheme://[user@]host:port/..."), or the default given.
Usage: include "runledger.port" (list "postgresql://db:5433/x" 5432)
*/}}
{{- define "runledger.port" -}}
{{- $host := (urlParse (index . 0)).host }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $host) }}
{{- $port | default (index . 1 | toString) }}
{{- end }}

{{/*
Sidecars and init containers, each hardened like runledger's own container:
deployment.containerSecurityContext fills in what its securityContext leaves out,
so the pod still passes the "restricted" Pod Security Standard.
Usage: include "runledger.extraContainers" (list $ .Values.deployment.sidecars)
*/}}
{{- define "runledger.extraContainers" -}}
{{- $ctx := index . 0 }}
{{- $containers := list }}
{{- range $container := index . 1 }}
{{- $hardened := dict "securityContext" (deepCopy ($ctx.Values.deployment.containerSecurityContext | default dict)) }}
{{- $containers = append $containers (mergeOverwrite $hardened (deepCopy $container)) }}
{{- end }}
{{- toYaml $containers }}
{{- end }}
