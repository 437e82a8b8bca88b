package simulator

import "go.opentelemetry.io/otel/attribute"

func attrKind(kind string) attribute.KeyValue { return attribute.String("kind", kind) }
