package catalogdoc

// YAMLQuote is yamlQuote, for the tests.
var YAMLQuote = yamlQuote
