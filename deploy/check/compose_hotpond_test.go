package check

import (
	"strings"
	"testing"
)

// The hot pond's read API is published on the host for analysts, behind
// the token deploy/init-secrets.sh makes, and the console sends that same
// token.
func TestComposeHotPondAPIBehindToken(t *testing.T) {
	p := composeProject(t)
	hp, con := p.Services["hot-pond"], p.Services["console"]
	var published bool
	for _, port := range hp.Ports {
		published = published || (port.Target == 8080 && port.Published == "8082" && port.HostIP == "127.0.0.1")
	}
	if !published {
		t.Errorf("hot-pond ports %+v: want its API (8080) on 127.0.0.1:8082", hp.Ports)
	}
	tok, ctok := hp.Environment["HOTPOND_API_TOKEN"], con.Environment["CONSOLE_HOTPOND_TOKEN"]
	if tok == nil || len(*tok) < 32 {
		t.Fatalf("hot-pond HOTPOND_API_TOKEN %v: want the generated token from the secrets directory", tok)
	}
	if ctok == nil || *ctok != *tok {
		t.Errorf("console CONSOLE_HOTPOND_TOKEN is not hot-pond's HOTPOND_API_TOKEN: the console could not read the hot pond")
	}
	if strings.Contains(readFile(t, "docker-compose.yml"), *tok) {
		t.Error("the token is in docker-compose.yml")
	}
	// Another run of init-secrets makes another token.
	if other := composeProject(t).Services["hot-pond"].Environment["HOTPOND_API_TOKEN"]; other == nil || *other == *tok {
		t.Error("two runs of deploy/init-secrets.sh made the same token")
	}
}
