{{/* Names: "<release>-stampede", or just the release name when it already contains the chart name. */}}
{{- define "stampede.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stampede.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "stampede.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels; call with (dict "root" $ "component" "seckill"). */}}
{{- define "stampede.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stampede.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "stampede.labels" -}}
helm.sh/chart: {{ include "stampede.chart" .root }}
{{ include "stampede.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: stampede
{{- end }}

{{/*
Deployments and HPAs the operator may scale (issue 20 point 2): the autoscaled processes. The operator
touches no Deployment or HPA without this label.
*/}}
{{- define "stampede.scalableLabel" -}}
{{- if hasKey (index .root.Values .component) "autoscaling" }}
stampede.dev/scalable: "true"
{{- end }}
{{- end }}

{{/* The container port of /healthz, /readyz and /metrics: the api's own management port, else http. */}}
{{- define "stampede.managementPortName" -}}
{{- if (index .root.Values .component).managementPort }}management{{ else }}http{{ end }}
{{- end }}

{{- define "stampede.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "stampede.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "stampede.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
One process's Deployment; call with (dict "root" $ "component" "seckill" "main" "dist/services/seckill/main.js").
Every process runs the same image with its own entry point.
*/}}
{{- define "stampede.deployment" -}}
{{- $root := .root }}
{{- $c := .component }}
{{- $v := index $root.Values $c }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "stampede.fullname" $root }}-{{ $c }}
  labels:
    {{- include "stampede.labels" . | nindent 4 }}
    {{- include "stampede.scalableLabel" . | nindent 4 }}
spec:
  {{- /* The HPA owns the replica count when there is one; a fixed count here would fight it on upgrade. */}}
  {{- if not (dig "autoscaling" "enabled" false $v) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "stampede.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "stampede.labels" . | nindent 8 }}
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- if eq $c "operator" }}
      serviceAccountName: {{ include "stampede.operatorServiceAccountName" $root }}
      {{- else }}
      {{- /* Only the operator talks to the Kubernetes API. */}}
      automountServiceAccountToken: false
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $root.Values.shutdown.terminationGracePeriodSeconds }}
      containers:
        - name: {{ $c }}
          image: {{ include "stampede.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["node", {{ .main | quote }}]
          ports:
            - name: http
              containerPort: {{ $v.port }}
              protocol: TCP
            {{- with $v.managementPort }}
            - name: management
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
          env:
            - name: PORT
              value: {{ $v.port | quote }}
            {{- with $v.managementPort }}
            # /healthz, /readyz and /metrics here only: the Ingress routes / to this process.
            - name: MANAGEMENT_PORT
              value: {{ . | quote }}
            {{- end }}
            - name: SHUTDOWN_DELAY_SECONDS
              value: {{ $root.Values.shutdown.delaySeconds | quote }}
            - name: TRUST_PROXY_HOPS
              value: {{ $root.Values.trustProxyHops | quote }}
            {{- with $root.Values.tracing }}
            {{- if .otlpEndpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ .otlpEndpoint | quote }}
            - name: OTEL_TRACES_SAMPLER_ARG
              value: {{ .sampleRatio | quote }}
            {{- end }}
            {{- end }}
            {{- range $name, $value := merge (deepCopy (default dict $v.env)) $root.Values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
            {{- range $v.secretEnv }}
            {{- /* Sentinel and Cluster mode replace REDIS_URL (DESIGN §8): the Secret need not hold it. */}}
            {{- if not (and (eq . "REDIS_URL") (ne $root.Values.redis.mode "url")) }}
            - name: {{ . }}
              valueFrom:
                secretKeyRef: { name: {{ $root.Values.existingSecret }}, key: {{ . }} }
            {{- end }}
            {{- end }}
            {{- if has "REDIS_URL" $v.secretEnv }}
            {{- include "stampede.redisEnv" $root }}
            {{- end }}
            {{- range $v.optionalSecretEnv }}
            - name: {{ . }}
              valueFrom:
                secretKeyRef: { name: {{ $root.Values.existingSecret }}, key: {{ . }}, optional: true }
            {{- end }}
            {{- if eq $c "operator" }}
            - name: WATCH_NAMESPACE
              value: {{ $v.watchNamespace | quote }}
            - name: POD_NAME
              valueFrom: { fieldRef: { fieldPath: metadata.name } }
            # The Lease lives in the release namespace (LEASE_NAMESPACE defaults to POD_NAMESPACE), one per release.
            - name: POD_NAMESPACE
              valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
            - name: LEASE_NAME
              value: {{ include "stampede.fullname" $root }}-operator
            # The highest HPA floor a SeckillActivity may make the operator write (issue 20 point 2).
            - name: OPERATOR_MAX_REPLICAS
              value: {{ $v.scaling.maxReplicas | quote }}
            {{- end }}
          livenessProbe:
            httpGet: { path: /healthz, port: {{ include "stampede.managementPortName" . }} }
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet: { path: /readyz, port: {{ include "stampede.managementPortName" . }} }
            {{- toYaml $root.Values.probes.readiness | nindent 12 }}
          lifecycle:
            preStop:
              # Endpoints and the Ingress take a few seconds to forget a terminating pod; keep serving
              # meanwhile. node:20-slim is Debian with coreutils, so `sleep` exists.
              exec:
                command: ["sleep", {{ $root.Values.shutdown.preStopSleepSeconds | quote }}]
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        # The root filesystem is read-only; /tmp is the one writable place.
        - name: tmp
          emptyDir: { sizeLimit: 64Mi }
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      affinity:
        {{- if $v.affinity }}
        {{- toYaml $v.affinity | nindent 8 }}
        {{- else }}
        # Default: spread the replicas over nodes where the scheduler can, so one node lost is not the process.
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "stampede.selectorLabels" . | nindent 20 }}
        {{- end }}
{{- end }}

{{/*
A ClusterIP Service for one process: `http` for its clients, `metrics` for Prometheus (the ServiceMonitor's
one port). For the api, `metrics` is its management port, which the Ingress never targets.
*/}}
{{- define "stampede.service" -}}
{{- $v := index .root.Values .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "stampede.fullname" .root }}-{{ .component }}
  labels:
    {{- include "stampede.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "stampede.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ $v.port }}
      targetPort: http
      protocol: TCP
    - name: metrics
      port: {{ default 9090 $v.managementPort }}
      targetPort: {{ include "stampede.managementPortName" . }}
      protocol: TCP
{{- end }}

{{/*
Baseline HPA, named like its Deployment: the operator adopts it, records this baseline in annotations and
raises the floor around a sale. Scale up fast (a sale opens at once), scale down slowly.
*/}}
{{- define "stampede.hpa" -}}
{{- $v := index .root.Values .component }}
{{- if $v.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "stampede.fullname" .root }}-{{ .component }}
  labels:
    {{- include "stampede.labels" . | nindent 4 }}
    {{- include "stampede.scalableLabel" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "stampede.fullname" .root }}-{{ .component }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
  {{- with $v.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "stampede.pdb" -}}
{{- $v := index .root.Values .component }}
{{- if $v.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "stampede.fullname" .root }}-{{ .component }}
  labels:
    {{- include "stampede.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ $v.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "stampede.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/*
Redis mode env (values `redis`, docs/redis.md) for a process that reaches Redis (REDIS_URL in its secretEnv).
url: REDIS_URL from the Secret. sentinel: REDIS_SENTINELS + REDIS_SENTINEL_NAME (+ REDIS_WAIT_REPLICAS).
cluster: REDIS_CLUSTER_NODES. Passwords of the data nodes and Sentinels come from the Secret if it has them.
*/}}
{{- define "stampede.redisEnv" -}}
{{- $r := .Values.redis }}
{{- if eq $r.mode "sentinel" }}
            - name: REDIS_SENTINELS
              value: {{ join "," $r.sentinel.hosts | quote }}
            - name: REDIS_SENTINEL_NAME
              value: {{ $r.sentinel.masterName | quote }}
            - name: REDIS_WAIT_REPLICAS
              value: {{ $r.sentinel.waitReplicas | quote }}
{{- else if eq $r.mode "cluster" }}
            - name: REDIS_CLUSTER_NODES
              value: {{ join "," $r.cluster.nodes | quote }}
{{- end }}
{{- if ne $r.mode "url" }}
            - name: REDIS_TLS
              value: {{ $r.tls | quote }}
{{- range (list "REDIS_USERNAME" "REDIS_PASSWORD" "REDIS_SENTINEL_PASSWORD") }}
            - name: {{ . }}
              valueFrom:
                secretKeyRef: { name: {{ $.Values.existingSecret }}, key: {{ . }}, optional: true }
{{- end }}
{{- end }}
{{- end }}
