"""Structural schemas of the custom resources the chart renders.

kubernetes-validate knows the built-in kinds only. These schemas follow the
upstream CRDs (KEDA 2.x ``keda.sh/v1alpha1``, Prometheus Operator
``monitoring.coreos.com/v1``) for the fields the chart uses, and refuse any
other field, so a misspelt field fails here rather than in a cluster.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Prometheus Operator's Duration pattern.
DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
NAME: Schema = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}


def _strict(properties: Schema, required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": required or [],
    }


def _resource(api_version: str, kind: str, spec: Schema) -> Schema:
    return _strict(
        {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _strict(
                {
                    "name": NAME,
                    "namespace": {"type": "string"},
                    "labels": STRING_MAP,
                    "annotations": STRING_MAP,
                },
                ["name"],
            ),
            "spec": spec,
        },
        ["apiVersion", "kind", "metadata", "spec"],
    )


_TARGET_REF = _strict(
    {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "name": {"type": "string", "minLength": 1},
        "envSourceContainerName": {"type": "string"},
    },
    ["name"],
)

SCALED_OBJECT = _resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    _strict(
        {
            "scaleTargetRef": _TARGET_REF,
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "initialCooldownPeriod": {"type": "integer", "minimum": 0},
            "idleReplicaCount": {"type": "integer", "minimum": 0},
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "fallback": _strict(
                {
                    "failureThreshold": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 0},
                },
                ["failureThreshold", "replicas"],
            ),
            "advanced": _strict(
                {
                    "restoreToOriginalReplicaCount": {"type": "boolean"},
                    "horizontalPodAutoscalerConfig": _strict(
                        {"name": {"type": "string"}, "behavior": {"type": "object"}}
                    ),
                }
            ),
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": _strict(
                    {
                        "type": {"type": "string"},
                        "name": {"type": "string"},
                        "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                        "useCachedMetrics": {"type": "boolean"},
                        # KEDA's trigger metadata is map[string]string: a bare
                        # number or boolean is refused by the API server.
                        "metadata": STRING_MAP,
                        "authenticationRef": _strict(
                            {
                                "name": {"type": "string", "minLength": 1},
                                "kind": {
                                    "enum": [
                                        "TriggerAuthentication",
                                        "ClusterTriggerAuthentication",
                                    ]
                                },
                            },
                            ["name"],
                        ),
                    },
                    ["type", "metadata"],
                ),
            },
        },
        ["scaleTargetRef", "triggers"],
    ),
)

TRIGGER_AUTHENTICATION = _resource(
    "keda.sh/v1alpha1",
    "TriggerAuthentication",
    _strict(
        {
            "podIdentity": _strict(
                {
                    "provider": {"enum": ["none", "azure-workload", "gcp", "aws", "aws-eks"]},
                    "identityOwner": {"enum": ["keda", "workload"]},
                    "roleArn": {"type": "string"},
                    "identityId": {"type": "string"},
                },
                ["provider"],
            ),
            "secretTargetRef": {
                "type": "array",
                "items": _strict(
                    {
                        "parameter": {"type": "string", "minLength": 1},
                        "name": {"type": "string", "minLength": 1},
                        "key": {"type": "string", "minLength": 1},
                    },
                    ["parameter", "name", "key"],
                ),
            },
        }
    ),
)

_RELABELINGS: Schema = {"type": "array", "items": {"type": "object"}}
_ENDPOINT = {
    "port": {"type": "string"},
    "path": {"type": "string"},
    "scheme": {"enum": ["http", "https"]},
    "interval": {"type": "string", "pattern": DURATION},
    "scrapeTimeout": {"type": "string", "pattern": DURATION},
    "honorLabels": {"type": "boolean"},
    "relabelings": _RELABELINGS,
    "metricRelabelings": _RELABELINGS,
}
_LABEL_SELECTOR = _strict(
    {"matchLabels": STRING_MAP, "matchExpressions": {"type": "array", "items": {"type": "object"}}}
)
_NAMESPACE_SELECTOR = _strict(
    {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}
)

SERVICE_MONITOR = _resource(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    _strict(
        {
            "jobLabel": {"type": "string"},
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "selector": _LABEL_SELECTOR,
            "endpoints": {"type": "array", "minItems": 1, "items": _strict(_ENDPOINT)},
        },
        ["selector", "endpoints"],
    ),
)

POD_MONITOR = _resource(
    "monitoring.coreos.com/v1",
    "PodMonitor",
    _strict(
        {
            "jobLabel": {"type": "string"},
            "namespaceSelector": _NAMESPACE_SELECTOR,
            "selector": _LABEL_SELECTOR,
            "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _strict(_ENDPOINT)},
        },
        ["selector", "podMetricsEndpoints"],
    ),
)

RULE: Schema = {
    **_strict(
        {
            "alert": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "record": {"type": "string"},
            "expr": {"type": "string", "minLength": 1},
            "for": {"type": "string", "pattern": DURATION},
            "keep_firing_for": {"type": "string", "pattern": DURATION},
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
        },
        ["expr"],
    ),
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}

RULE_GROUP: Schema = _strict(
    {
        "name": {"type": "string", "minLength": 1},
        "interval": {"type": "string", "pattern": DURATION},
        "rules": {"type": "array", "minItems": 1, "items": RULE},
    },
    ["name", "rules"],
)

PROMETHEUS_RULE = _resource(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    _strict({"groups": {"type": "array", "minItems": 1, "items": RULE_GROUP}}, ["groups"]),
)

# A plain Prometheus rule file, as `promtool check rules` reads it.
RULE_FILE: Schema = _strict(
    {"groups": {"type": "array", "minItems": 1, "items": RULE_GROUP}}, ["groups"]
)

CRD_SCHEMAS: dict[tuple[str, str], Schema] = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PodMonitor"): POD_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
}
