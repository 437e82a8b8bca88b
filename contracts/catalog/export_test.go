package catalog

// TypedValidatorFor reports whether raw is the meter.reading.v1 schema the
// typed validator implements.
func TypedValidatorFor(raw []byte) bool { return schemaSHA256(raw) == meterReadingSchemaSHA256 }

// UsesTypedValidator reports whether c validates eventType with a typed
// validator rather than the JSON Schema library.
func (c *Catalog) UsesTypedValidator(eventType string) bool {
	e := c.entries[eventType]
	return e != nil && e.typed != nil
}

// TypedSchemaSHA256 returns the schema hash the typed validator of
// eventType implements, or "" when it has none.
func TypedSchemaSHA256(eventType string) string {
	if eventType == "meter.reading.v1" {
		return meterReadingSchemaSHA256
	}
	if fs := flatSchemas[eventType]; fs != nil {
		return fs.sha256
	}
	return ""
}

// SHA256Hex is the hash the typed validators pin.
func SHA256Hex(raw []byte) string { return schemaSHA256(raw) }
