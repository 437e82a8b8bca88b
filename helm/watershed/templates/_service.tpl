{{/*
watershed.service renders one service: ServiceAccount, Service, Deployment,
NetworkPolicy, and a PodDisruptionBudget when replicas > 1.
Call: include "watershed.service" (dict "root" $ "name" "<service>").
*/}}
{{- define "watershed.service" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := index $root.Values.services $name -}}
{{- if not $svc -}}
{{- fail (printf "services.%s is missing from the values: add it (see values.yaml)" $name) -}}
{{- end -}}
{{- if (get $svc "enabled") -}}
{{- $v := $root.Values -}}
{{- $d := $v.defaults -}}
{{- $full := printf "%s-%s" (include "watershed.fullname" $root) $name | trunc 63 | trimSuffix "-" -}}
{{- $uses := (get $svc "uses") | default dict -}}
{{- $replicas := (get $svc "replicas") | default 1 | int -}}
{{- /* Scaling (helm/README.md, "Scaling the stateful services"). */ -}}
{{- if and (has $name (list "outage-detector")) (gt $replicas 1) -}}
{{- fail (printf "services.%s.replicas=%d: %s correlates a transformer's meters with the missed reads on the rivers, which are keyed by meter: run one replica (helm/README.md, \"Scaling the stateful services\")" $name $replicas $name) -}}
{{- end -}}
{{- if and (has $name (list "reading-validator" "gap-detector" "usage-aggregator" "feeder-aggregator")) (gt $replicas (int $root.Values.kafka.partitions.rapids)) -}}
{{- fail (printf "services.%s.replicas=%d: more than the rapids' %d partitions, the ceiling of a consumer group (the extra replicas would hold no partition): raise kafka.partitions.rapids or lower the replicas" $name $replicas (int $root.Values.kafka.partitions.rapids)) -}}
{{- end -}}
{{- $resources := (get $svc "resources") | default $d.resources -}}
{{- $kafkaUser := $full -}}
{{- $strimziUsers := $v.kafka.strimzi.users -}}
{{- $ctx := dict "root" $root "name" $name -}}
{{- $tag := $v.image.tag | default $root.Chart.AppVersion -}}
{{- $image := (get $svc "image") | default $name -}}
{{- if not (or $strimziUsers $v.kafka.sasl.mechanism $v.kafka.allowUnauthenticated) -}}
{{- fail "Kafka authentication is off: set kafka.strimzi.users=true (a KafkaUser per service) or kafka.sasl.mechanism and kafka.sasl.existingSecret, or kafka.allowUnauthenticated=true to run without (helm/README.md)" -}}
{{- end -}}
{{- $ca := $v.controlAuth -}}
{{- if and $ca.trust.existingSecret $ca.trust.existingConfigMap -}}
{{- fail "controlAuth.trust: give existingSecret or existingConfigMap, not both" -}}
{{- end -}}
{{- $trust := or $ca.trust.existingSecret $ca.trust.existingConfigMap -}}
{{- if and $trust (not $ca.keys.existingSecret) -}}
{{- fail "controlAuth.trust is set but controlAuth.keys.existingSecret is not: the signers could not sign, and their control events would be dead-lettered" -}}
{{- end -}}
{{- if and $ca.keys.existingSecret (not $trust) -}}
{{- fail "controlAuth.keys.existingSecret is set but no trust list (controlAuth.trust.existingSecret or existingConfigMap): control events would be signed and never checked" -}}
{{- end -}}
{{- $controlKey := "" -}}
{{- if $trust -}}
{{- $controlKey = get ($ca.keys.items | default dict) $name -}}
{{- end -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $full }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $full }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "watershed.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $full }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ $replicas }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "watershed.selectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "watershed.labels" $ctx | nindent 8 }}
        {{- with ((get $svc "podLabels") | default $d.podLabels) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if $v.metrics.annotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
        prometheus.io/path: /metrics
        {{- end }}
        {{- with ((get $svc "podAnnotations") | default $d.podAnnotations) }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $full }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ (get $svc "terminationGracePeriodSeconds") | default $d.terminationGracePeriodSeconds }}
      {{- with $v.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ $name }}
          image: {{ printf "%s/%s:%s" $v.image.registry $image $tag | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: HTTP_ADDR
              value: ":8080"
            - name: LOG_FORMAT
              value: json
            - name: LOG_LEVEL
              value: {{ $v.logLevel | quote }}
            - name: KAFKA_BROKERS
              value: {{ required "kafka.bootstrapServers is required: the Kafka bootstrap servers, host:port[,host:port]" $v.kafka.bootstrapServers | quote }}
            - name: KAFKA_TOPIC_RAPIDS
              value: {{ $v.kafka.topics.rapids | quote }}
            - name: KAFKA_TOPIC_RIVERS
              value: {{ $v.kafka.topics.rivers | quote }}
            - name: KAFKA_PARTITIONS
              value: {{ $v.kafka.partitions.rapids | quote }}
            - name: KAFKA_RIVERS_PARTITIONS
              value: {{ $v.kafka.partitions.rivers | quote }}
            - name: KAFKA_REPLICATION_FACTOR
              value: {{ $v.kafka.replicationFactor | quote }}
            - name: KAFKA_RETENTION
              value: {{ $v.kafka.retention | quote }}
            - name: KAFKA_DLQ_RETENTION
              value: {{ $v.kafka.dlqRetention | quote }}
            - name: ENSURE_TOPICS
              value: {{ $v.kafka.ensureTopics | quote }}
            {{- if $strimziUsers }}
            {{- if eq $v.kafka.strimzi.authentication "scram-sha-512" }}
            - name: KAFKA_SASL_MECHANISM
              value: SCRAM-SHA-512
            - name: KAFKA_SASL_USERNAME
              value: {{ $kafkaUser | quote }}
            {{- include "watershed.secretEnv" (dict "env" "KAFKA_SASL_PASSWORD" "secret" $kafkaUser "key" "password") | nindent 12 }}
            {{- else }}
            - name: KAFKA_TLS_CERT_FILE
              value: /etc/watershed/kafka-user/user.crt
            - name: KAFKA_TLS_KEY_FILE
              value: /etc/watershed/kafka-user/user.key
            {{- end }}
            {{- else if $v.kafka.sasl.mechanism }}
            - name: KAFKA_SASL_MECHANISM
              value: {{ $v.kafka.sasl.mechanism | quote }}
            {{- $secret := required "kafka.sasl.existingSecret is required with kafka.sasl.mechanism: a Secret with the SASL username and password" $v.kafka.sasl.existingSecret }}
            {{- include "watershed.secretEnv" (dict "env" "KAFKA_SASL_USERNAME" "secret" $secret "key" $v.kafka.sasl.usernameKey) | nindent 12 }}
            {{- include "watershed.secretEnv" (dict "env" "KAFKA_SASL_PASSWORD" "secret" $secret "key" $v.kafka.sasl.passwordKey) | nindent 12 }}
            {{- end }}
            {{- if or $v.kafka.tls.enabled (and $strimziUsers (eq $v.kafka.strimzi.authentication "tls")) }}
            - name: KAFKA_TLS_ENABLED
              value: "true"
            {{- if $v.kafka.tls.caSecret }}
            - name: KAFKA_TLS_CA_FILE
              value: {{ printf "/etc/watershed/kafka-ca/%s" $v.kafka.tls.caKey | quote }}
            {{- end }}
            {{- with $v.kafka.tls.serverName }}
            - name: KAFKA_TLS_SERVER_NAME
              value: {{ . | quote }}
            {{- end }}
            {{- end }}
            {{- if (get $uses "redis") }}
            - name: REDIS_URL
              value: {{ required "redis.url is required by services that use Redis" $v.redis.url | quote }}
            {{- with $v.redis.existingSecret }}
            {{- include "watershed.secretEnv" (dict "env" "REDIS_USERNAME" "secret" . "key" $v.redis.usernameKey) | nindent 12 }}
            {{- include "watershed.secretEnv" (dict "env" "REDIS_PASSWORD" "secret" . "key" $v.redis.passwordKey) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if (get $uses "objectStore") }}
            - name: PONDS_URL
              value: {{ required "objectStore.url is required by services that use the object store" $v.objectStore.url | quote }}
            {{- with $v.objectStore.existingSecret }}
            {{- include "watershed.secretEnv" (dict "env" "AWS_ACCESS_KEY_ID" "secret" . "key" $v.objectStore.accessKeyIdKey) | nindent 12 }}
            {{- include "watershed.secretEnv" (dict "env" "AWS_SECRET_ACCESS_KEY" "secret" . "key" $v.objectStore.secretAccessKeyKey) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if (get $uses "mqtt") }}
            - name: MQTT_URL
              value: {{ required "mqtt.url is required by services that use MQTT" $v.mqtt.url | quote }}
            {{- with $v.mqtt.existingSecret }}
            {{- include "watershed.secretEnv" (dict "env" "MQTT_USERNAME" "secret" . "key" $v.mqtt.usernameKey) | nindent 12 }}
            {{- include "watershed.secretEnv" (dict "env" "MQTT_PASSWORD" "secret" . "key" $v.mqtt.passwordKey) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if eq $name "usage-insights" }}
            {{- with $v.usageInsights.apiToken.existingSecret }}
            {{- include "watershed.secretEnv" (dict "env" "INSIGHTS_API_TOKEN" "secret" . "key" $v.usageInsights.apiToken.key) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- with $v.hotPond.apiToken.existingSecret }}
            {{- if eq $name "hot-pond" }}
            {{- include "watershed.secretEnv" (dict "env" "HOTPOND_API_TOKEN" "secret" . "key" $v.hotPond.apiToken.key) | nindent 12 }}
            {{- else if eq $name "console" }}
            {{- include "watershed.secretEnv" (dict "env" "CONSOLE_HOTPOND_TOKEN" "secret" . "key" $v.hotPond.apiToken.key) | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if $trust }}
            - name: CONTROL_TRUST_FILE
              value: /etc/watershed/control-trust/trust
            {{- end }}
            {{- if $controlKey }}
            - name: CONTROL_KEY_FILE
              value: /etc/watershed/control-key/key.pem
            {{- end }}
            {{- if $v.otel.endpoint }}
            - name: OTEL_TRACES_EXPORTER
              value: otlp
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ $v.otel.endpoint | quote }}
            {{- end }}
            {{- range $k, $val := $v.commonEnv }}
            - name: {{ $k }}
              value: {{ $val | quote }}
            {{- end }}
            {{- range $k, $val := ((get $svc "env") | default dict) }}
            - name: {{ $k }}
              value: {{ $val | quote }}
            {{- end }}
            {{- with (get $svc "extraEnv") }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 3
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: 30
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            runAsGroup: 65532
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            privileged: false
            capabilities:
              drop: [ALL]
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if and (or $v.kafka.tls.enabled (and $strimziUsers (eq $v.kafka.strimzi.authentication "tls"))) $v.kafka.tls.caSecret }}
            - name: kafka-ca
              mountPath: /etc/watershed/kafka-ca
              readOnly: true
            {{- end }}
            {{- if and $strimziUsers (eq $v.kafka.strimzi.authentication "tls") }}
            - name: kafka-user
              mountPath: /etc/watershed/kafka-user
              readOnly: true
            {{- end }}
            {{- if $trust }}
            - name: control-trust
              mountPath: /etc/watershed/control-trust
              readOnly: true
            {{- end }}
            {{- if $controlKey }}
            - name: control-key
              mountPath: /etc/watershed/control-key
              readOnly: true
            {{- end }}
            {{- with (get $svc "extraVolumeMounts") }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ (get $svc "tmpSizeLimit") | default $d.tmpSizeLimit }}
        {{- if and (or $v.kafka.tls.enabled (and $strimziUsers (eq $v.kafka.strimzi.authentication "tls"))) $v.kafka.tls.caSecret }}
        - name: kafka-ca
          secret:
            secretName: {{ $v.kafka.tls.caSecret }}
        {{- end }}
        {{- if and $strimziUsers (eq $v.kafka.strimzi.authentication "tls") }}
        - name: kafka-user
          secret:
            secretName: {{ $kafkaUser }}
        {{- end }}
        {{- if $ca.trust.existingSecret }}
        - name: control-trust
          secret:
            secretName: {{ $ca.trust.existingSecret }}
            defaultMode: 0440 # group 65532 (fsGroup) reads it
            items:
              - key: {{ $ca.trust.key }}
                path: trust
        {{- else if $ca.trust.existingConfigMap }}
        - name: control-trust
          configMap:
            name: {{ $ca.trust.existingConfigMap }}
            defaultMode: 0444
            items:
              - key: {{ $ca.trust.key }}
                path: trust
        {{- end }}
        {{- if $controlKey }}
        - name: control-key
          secret:
            secretName: {{ $ca.keys.existingSecret }}
            defaultMode: 0440 # group 65532 (fsGroup) reads it
            items:
              - key: {{ $controlKey }}
                path: key.pem
        {{- end }}
        {{- with (get $svc "extraVolumes") }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with ((get $svc "nodeSelector") | default $d.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ((get $svc "tolerations") | default $d.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ((get $svc "affinity") | default $d.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- if $v.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $full }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "watershed.selectorLabels" $ctx | nindent 6 }}
  policyTypes: [Ingress, Egress]
  {{- $from := concat ($v.networkPolicy.monitoring | default list) ((get $svc "ingressFrom") | default list) }}
  {{- if $from }}
  ingress:
    - from:
        {{- toYaml $from | nindent 8 }}
      ports:
        - protocol: TCP
          port: 8080
  {{- else }}
  ingress: []
  {{- end }}
  egress:
    - to:
        {{- toYaml $v.networkPolicy.dns | nindent 8 }}
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
    {{- include "watershed.egressRule" (dict "peer" $v.kafka.egress) | nindent 4 }}
    {{- if (get $uses "redis") }}
    {{- include "watershed.egressRule" (dict "peer" $v.redis.egress) | nindent 4 }}
    {{- end }}
    {{- if (get $uses "objectStore") }}
    {{- include "watershed.egressRule" (dict "peer" $v.objectStore.egress) | nindent 4 }}
    {{- end }}
    {{- if (get $uses "mqtt") }}
    {{- include "watershed.egressRule" (dict "peer" $v.mqtt.egress) | nindent 4 }}
    {{- end }}
    {{- if $v.otel.endpoint }}
    {{- include "watershed.egressRule" (dict "peer" $v.otel.egress) | nindent 4 }}
    {{- end }}
    {{- with (get $svc "extraEgress") }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- if gt $replicas 1 }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $full }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "watershed.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $strimziUsers }}
---
apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaUser
metadata:
  name: {{ $kafkaUser }}
  # Beside the KafkaTopics, where the entity operator watches; its Secret
  # is written there too.
  namespace: {{ $v.kafka.strimzi.namespace | default $root.Release.Namespace }}
  labels:
    {{- include "watershed.labels" $ctx | nindent 4 }}
    strimzi.io/cluster: {{ $v.kafka.strimzi.cluster }}
spec:
  authentication:
    type: {{ $v.kafka.strimzi.authentication }}
  authorization:
    type: simple
    acls:
      {{- range $t := list $v.kafka.topics.rapids $v.kafka.topics.rivers (printf "%s.dlq" $v.kafka.topics.rapids) (printf "%s.dlq" $v.kafka.topics.rivers) }}
      - resource:
          type: topic
          name: {{ $t | quote }}
          patternType: literal
        operations: [Describe, Read, Write]
      {{- end }}
      - resource:
          type: group
          name: {{ $name | quote }}
          patternType: prefix
        operations: [Describe, Read]
{{- end }}
{{- end }}
{{- end -}}
