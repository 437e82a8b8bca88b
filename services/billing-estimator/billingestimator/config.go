package billingestimator

// Config is what billing-estimator needs beyond the SDK's configuration: nothing
// yet. Add a field per setting with its default in the comment, check it
// in Validate, and read its variable in ConfigFromEnv with rivers/env
// (r := env.New(); r.Float("NAME", &c.Field); r.Err()), which reports
// every bad variable at once. The zero value of a field means its default.
type Config struct{}

// Validate reports every invalid field, naming its variable.
func (c Config) Validate() error { return nil }

// ConfigFromEnv reads the service's variables over the defaults and
// validates the result; the error names every bad variable at once.
func ConfigFromEnv() (Config, error) {
	var c Config
	return c, c.Validate()
}
