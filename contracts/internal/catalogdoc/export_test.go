package catalogdoc

// YAMLQuote is yamlQuote, for the tests.
var YAMLQuote = yamlQuote

// FieldName is fieldName, for the tests.
var FieldName = fieldName
