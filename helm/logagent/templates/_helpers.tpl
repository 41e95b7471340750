{{/*
Helpers of the LogAgent chart.

Public templates (stable names; docs/helm.md shows them in use). Each takes a
context with .Values (this chart's values), .Release and, optionally,
.Capabilities. Inside this chart that is the root context `.`; in a parent
chart that has LogAgent as a dependency it is

  {{- $logagent := dict "Values" .Values.logagent "Release" .Release "Capabilities" .Capabilities }}

  logagent.sidecar                          the LogAgent container, one list item
  logagent.initContainers                   logagent.sidecar in native mode, else nothing
  logagent.containers                       logagent.sidecar in classic mode, else nothing
  logagent.volumes                          the pod volumes it mounts (list items)
  logagent.terminationGracePeriodSeconds    the pod's grace period (an integer)
  logagent.serviceAccountName               the ServiceAccount the API watch is bound to
  logagent.configMapName                    the ConfigMap holding config.yaml

Names are computed from .Values and .Release only (not .Chart), so that a
parent chart's include and this chart's own ConfigMap agree on them.
*/}}

{{- define "logagent.name" -}}
{{- default "logagent" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "logagent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "logagent.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "logagent.configMapName" -}}
{{- include "logagent.fullname" . -}}
{{- end -}}

{{- define "logagent.serviceAccountName" -}}
{{- $sa := .Values.configWatch.api.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "logagent.fullname" .) $sa.name -}}
{{- else -}}
{{- required "configWatch.api.serviceAccount.name: the existing ServiceAccount to bind the Role to (serviceAccount.create is false)" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* Labels of the objects this chart renders itself (its own context only). */}}
{{- define "logagent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "logagent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: logagent
{{- end -}}

{{- define "logagent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "logagent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The grace period the pod needs: in native mode LogAgent gets SIGTERM only
after the app has exited, and then takes up to its deadline (which contains
the quiet wait). In classic mode both get SIGTERM at once; the same sum is
then an upper bound.
*/}}
{{- define "logagent.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown -}}
{{- if gt (int64 $s.terminationGracePeriodSeconds) 0 -}}
{{- int64 $s.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int64 $s.appDrainSeconds) (div (add (int64 $s.deadlineMs) 999) 1000) (int64 $s.marginSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
Refuses native mode where the API server would drop restartPolicy from an
init container (Kubernetes < 1.29 without the SidecarContainers gate): the
sidecar would then run as a plain init container that never exits, and the
app would never start. Helm checks the chart's kubeVersion only for the
chart being installed, not for dependencies, hence this check.
*/}}
{{- define "logagent.checkMode" -}}
{{- if eq .Values.mode "native" -}}
{{- with .Capabilities -}}
{{- if semverCompare "<1.29.0-0" .KubeVersion.Version -}}
{{- fail (printf "logagent: mode native needs Kubernetes >= 1.29 (native sidecar containers); this is %s. Set mode: classic." .KubeVersion.Version) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "logagent.probe" -}}
{{- $p := index . 0 -}}
{{- $path := index . 1 -}}
{{- $port := index . 2 -}}
httpGet:
  path: {{ $path }}
  port: {{ $port }}
{{- with $p.initialDelaySeconds }}
initialDelaySeconds: {{ int64 . }}
{{- end }}
periodSeconds: {{ int64 $p.periodSeconds }}
timeoutSeconds: {{ int64 $p.timeoutSeconds }}
failureThreshold: {{ int64 $p.failureThreshold }}
{{- end -}}

{{- define "logagent.sidecar" -}}
{{- include "logagent.checkMode" . -}}
{{- $v := .Values -}}
{{- $name := $v.containerName -}}
{{- $port := int64 $v.httpPort -}}
- name: {{ $name }}
  image: {{ printf "%s:%s" $v.image.repository $v.image.tag | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if eq $v.mode "native" }}
  # A native sidecar: starts before the app containers, stops after them.
  restartPolicy: Always
  {{- end }}
  env:
    - name: LOGAGENT_CONFIG
      value: /etc/logagent
    - name: LOGAGENT_CHECKPOINT_DIR
      value: /var/lib/logagent
    - name: LOGAGENT_SHUTDOWN_DEADLINE_MS
      value: {{ int64 $v.shutdown.deadlineMs | quote }}
    - name: LOGAGENT_HTTP_PORT
      value: {{ $port | quote }}
    {{- if $v.configWatch.api.enabled }}
    - name: LOGAGENT_KUBERNETES_CONFIGMAP
      value: {{ include "logagent.configMapName" . | quote }}
    {{- end }}
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: NODE_NAME
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    - name: POD_UID
      valueFrom:
        fieldRef:
          fieldPath: metadata.uid
    {{- with $v.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: logagent-http
      containerPort: {{ $port }}
      protocol: TCP
  {{- if $v.probes.startup.enabled }}
  startupProbe:
    {{- include "logagent.probe" (list $v.probes.startup "/readyz" $port) | nindent 4 }}
  {{- end }}
  {{- if $v.probes.liveness.enabled }}
  livenessProbe:
    {{- include "logagent.probe" (list $v.probes.liveness "/healthz" $port) | nindent 4 }}
  {{- end }}
  {{- if $v.probes.readiness.enabled }}
  readinessProbe:
    {{- include "logagent.probe" (list $v.probes.readiness "/readyz" $port) | nindent 4 }}
  {{- end }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationMessagePolicy: FallbackToLogsOnError
  volumeMounts:
    - name: {{ $v.logs.volumeName }}
      mountPath: {{ $v.logs.mountPath }}
      readOnly: true
    # The whole ConfigMap as a directory: the kubelet swaps its ..data link on
    # an update and LogAgent reloads. A subPath mount would never update.
    - name: {{ $name }}-config
      mountPath: /etc/logagent
      readOnly: true
    - name: {{ $name }}-checkpoints
      mountPath: /var/lib/logagent
    {{- if $v.kafka.existingSecret }}
    - name: {{ $name }}-secrets
      mountPath: /etc/logagent-secrets
      readOnly: true
    {{- end }}
{{- end -}}

{{- define "logagent.initContainers" -}}
{{- if eq .Values.mode "native" -}}
{{- include "logagent.sidecar" . -}}
{{- end -}}
{{- end -}}

{{- define "logagent.containers" -}}
{{- if eq .Values.mode "classic" -}}
{{- include "logagent.sidecar" . -}}
{{- end -}}
{{- end -}}

{{/*
A volume source from values: {} is an emptyDir. Values hold {} rather than
{emptyDir: {}} because Helm merges a user's map into the default one: a
user's {persistentVolumeClaim: ...} would otherwise come out with the
default emptyDir beside it.
*/}}
{{- define "logagent.volumeSource" -}}
{{- if . -}}
{{- toYaml . -}}
{{- else -}}
emptyDir: {}
{{- end -}}
{{- end -}}

{{- define "logagent.volumes" -}}
{{- $v := .Values -}}
{{- $name := $v.containerName -}}
- name: {{ $name }}-config
  configMap:
    name: {{ include "logagent.configMapName" . }}
- name: {{ $name }}-checkpoints
  {{- include "logagent.volumeSource" $v.checkpoint.volume | nindent 2 }}
{{- if $v.kafka.existingSecret }}
- name: {{ $name }}-secrets
  secret:
    secretName: {{ $v.kafka.existingSecret }}
    defaultMode: 288 # 0440: owner root and the pod fsGroup may read
{{- end }}
{{- if hasKey $v.logs "volume" }}
- name: {{ $v.logs.volumeName }}
  {{- include "logagent.volumeSource" $v.logs.volume | nindent 2 }}
{{- end }}
{{- end -}}
