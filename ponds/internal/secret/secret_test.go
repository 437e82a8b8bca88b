package secret

import (
	"net/url"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://default:pw@127.0.0.1:99999x/0":  "redis://default:xxxxx@127.0.0.1:99999x/0",
		"redis://:p@ss:w@rd@h:6379":              "redis://:xxxxx@h:6379",
		"s3://bucket?endpoint=http://u:p@h:9000": "s3://bucket?endpoint=http://u:p@h:9000", // the query is the caller's
		"redis://h:6379/0":                       "redis://h:6379/0",
		"not a url":                              "not a url",
		"tcp://user@h:1883":                      "tcp://user@h:1883",
		"mqtt://u:secret%20pw@h:1883/x?y=z#frag": "mqtt://u:xxxxx@h:1883/x?y=z#frag",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := url.Parse("redis://default:pw@127.0.0.1:99999x/0")
	if err == nil || strings.Contains(ParseCause(err).Error(), "pw") {
		t.Fatalf("parse cause %v", ParseCause(err))
	}
}
