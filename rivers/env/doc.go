// Package env reads configuration from environment variables and reports
// every problem at once.
//
// A [Reader] is given each variable with the field it sets; a variable that
// is unset or blank keeps the field's current value (its default), a value
// that does not parse is remembered and leaves the field alone. [Reader.Err]
// returns every problem, one line each, naming the variable and what it
// wants:
//
//	c := DefaultConfig()
//	r := env.New()
//	r.Duration("GAP_GRACE", &c.Grace)
//	r.Int("GAP_MAX_CONSECUTIVE", &c.MaxConsecutive)
//	r.String("GAP_CHECKPOINT_DIR", &c.CheckpointDir)
//	if err := r.Err(); err != nil {
//		return Config{}, err
//	}
//	return c, c.Validate()
//
// rivers.Main joins a service's problems with the SDK's own, so a service
// that starts with three bad variables says so once, with all three.
//
// Values are trimmed of surrounding white space. There is no struct-tag
// magic: a field's default, variable and meaning stay together in the
// service's Config and its doc.go.
package env
