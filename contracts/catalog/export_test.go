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
