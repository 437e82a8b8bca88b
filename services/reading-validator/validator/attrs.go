package validator

import "go.opentelemetry.io/otel/attribute"

func attrRule(rule string) attribute.KeyValue { return attribute.String("rule", rule) }

func attrSeverity(s Severity) attribute.KeyValue { return attribute.String("severity", s.String()) }
